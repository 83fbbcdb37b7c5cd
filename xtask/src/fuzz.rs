//! `cargo xtask fuzz TARGET --seconds N`: builds one libFuzzer target of `fuzz/` with
//! cargo-fuzz, runs it for N seconds on its corpus (`fuzz/corpus/TARGET`), then reports the CPU
//! time it used, how many inputs it ran and what it found. Never run by CI.
//!
//! cargo-fuzz passes `-Z` flags to rustc; `RUSTC_BOOTSTRAP=1` lets the stable toolchain take
//! them, so no nightly toolchain is needed.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};

use anyhow::{Context as _, bail};

use crate::context::Context;
use crate::ui;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The fuzz target: `split` (statement splitter and run mode), `folder` (migrations-folder
    /// loader) or `url` (URL parsing and password redaction).
    #[arg(value_enum)]
    target: Target,
    /// How long to fuzz, in seconds of wall-clock time.
    #[arg(long, default_value_t = 60)]
    seconds: u64,
    /// `none` runs fastest (the targets are safe Rust); `address` adds AddressSanitizer.
    #[arg(long, value_enum, default_value_t = Sanitizer::None)]
    sanitizer: Sanitizer,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    Split,
    Folder,
    Url,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sanitizer {
    None,
    Address,
}

impl Target {
    fn name(self) -> &'static str {
        match self {
            Target::Split => "split",
            Target::Folder => "folder",
            Target::Url => "url",
        }
    }
}

impl Sanitizer {
    fn name(self) -> &'static str {
        match self {
            Sanitizer::None => "none",
            Sanitizer::Address => "address",
        }
    }
}

/// What libFuzzer said about a run.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Findings {
    pub executions: Option<u64>,
    pub new_corpus_units: Option<u64>,
    /// The inputs it wrote for a crash, a failed property or a timeout.
    pub artifacts: Vec<PathBuf>,
}

pub fn run(ctx: &Context, args: Args) -> anyhow::Result<ExitCode> {
    let fuzz_dir = ctx.root.join("fuzz");
    ensure_cargo_fuzz()?;
    let target = args.target.name();
    ui::step(format!("building fuzz target `{target}`"));
    let status = cargo_fuzz(&fuzz_dir)
        .args(build_args(args.target, args.sanitizer))
        .status()
        .context("cannot run `cargo fuzz build`")?;
    if !status.success() {
        bail!("`cargo fuzz build {target}` failed ({status})");
    }

    ui::step(format!("fuzzing `{target}` for {} s", args.seconds));
    let cpu_before = crate::os::children_cpu_time().as_secs_f64();
    let mut child = cargo_fuzz(&fuzz_dir)
        .args(run_args(args.target, args.sanitizer, args.seconds))
        .stderr(Stdio::piped())
        .spawn()
        .context("cannot run `cargo fuzz run`")?;
    let mut lines = Vec::new();
    if let Some(stderr) = child.stderr.take() {
        for line in BufReader::new(stderr).lines() {
            let line = line.context("cannot read the fuzzer's output")?;
            eprintln!("{line}");
            lines.push(line);
        }
    }
    let status = child.wait().context("cannot wait for `cargo fuzz run`")?;
    let cpu_seconds = crate::os::children_cpu_time().as_secs_f64() - cpu_before;
    let findings = findings(&lines);

    let executions = findings
        .executions
        .map_or("an unknown number of".into(), |count| count.to_string());
    ui::step(format!(
        "`{target}`: {cpu_seconds:.1} s of CPU time, {executions} inputs run, {} new in the corpus",
        findings.new_corpus_units.unwrap_or(0)
    ));
    if status.success() {
        ui::step(format!("`{target}`: no crash and no failed property"));
        return Ok(ExitCode::SUCCESS);
    }
    let sanitizer = args.sanitizer.name();
    for artifact in &findings.artifacts {
        ui::warn(format!(
            "`{target}` failed on `{path}`; in `fuzz/`, minimize it with `RUSTC_BOOTSTRAP=1 cargo fuzz tmin --debug-assertions --sanitizer {sanitizer} {target} {path}` and turn it into a regression test beside the code it broke",
            path = artifact.display(),
        ));
    }
    bail!("fuzz target `{target}` failed ({status})")
}

fn cargo_fuzz(fuzz_dir: &Path) -> Command {
    let mut command = Command::new("cargo");
    command
        .arg("fuzz")
        .current_dir(fuzz_dir)
        .env("RUSTC_BOOTSTRAP", "1");
    command
}

/// Installs cargo-fuzz from crates.io when `cargo fuzz` is missing.
fn ensure_cargo_fuzz() -> anyhow::Result<()> {
    let installed = Command::new("cargo")
        .args(["fuzz", "--version"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success());
    if installed {
        return Ok(());
    }
    ui::step(
        "cargo-fuzz is not installed; installing it with `cargo install cargo-fuzz --locked` (once, a few minutes)",
    );
    let status = Command::new("cargo")
        .args(["install", "cargo-fuzz", "--locked"])
        .status()
        .context("cannot run `cargo install cargo-fuzz`")?;
    if !status.success() {
        bail!(
            "`cargo install cargo-fuzz --locked` failed ({status}); install it by hand and retry"
        );
    }
    Ok(())
}

/// `cargo fuzz build` arguments: optimised, with debug assertions and overflow checks.
pub fn build_args(target: Target, sanitizer: Sanitizer) -> Vec<String> {
    [
        "build",
        "--debug-assertions",
        "--sanitizer",
        sanitizer.name(),
        target.name(),
    ]
    .map(String::from)
    .to_vec()
}

/// `cargo fuzz run` arguments: the same build, then libFuzzer's options after `--`.
pub fn run_args(target: Target, sanitizer: Sanitizer, seconds: u64) -> Vec<String> {
    let mut args = build_args(target, sanitizer);
    args[0] = "run".into();
    args.extend([
        "--".into(),
        format!("-max_total_time={seconds}"),
        "-print_final_stats=1".into(),
    ]);
    args
}

/// Reads libFuzzer's final statistics and artifact lines.
pub fn findings(lines: &[String]) -> Findings {
    let stat = |name: &str| {
        lines.iter().find_map(|line| {
            line.strip_prefix(&format!("stat::{name}:"))
                .and_then(|value| value.trim().parse().ok())
        })
    };
    Findings {
        executions: stat("number_of_executed_units"),
        new_corpus_units: stat("new_units_added"),
        artifacts: lines
            .iter()
            .filter_map(|line| line.split_once("Test unit written to "))
            .map(|(_, path)| PathBuf::from(path.trim()))
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_args_bound_the_time_and_ask_for_statistics() {
        assert_eq!(
            run_args(Target::Folder, Sanitizer::None, 90),
            [
                "run",
                "--debug-assertions",
                "--sanitizer",
                "none",
                "folder",
                "--",
                "-max_total_time=90",
                "-print_final_stats=1"
            ]
        );
        assert_eq!(
            build_args(Target::Url, Sanitizer::Address),
            [
                "build",
                "--debug-assertions",
                "--sanitizer",
                "address",
                "url"
            ]
        );
    }

    #[test]
    fn findings_read_statistics_and_artifacts() {
        let output = [
            "#2097152\tpulse  cov: 1234 ft: 5678 corp: 120/9Kb exec/s: 34952",
            "==42== ERROR: libFuzzer: deadly signal",
            "artifact_prefix='/work/fuzz/artifacts/split/'; Test unit written to /work/fuzz/artifacts/split/crash-0123abcd",
            "stat::number_of_executed_units: 2097152",
            "stat::average_exec_per_sec:     34952",
            "stat::new_units_added:          17",
        ]
        .map(String::from);
        assert_eq!(
            findings(&output),
            Findings {
                executions: Some(2_097_152),
                new_corpus_units: Some(17),
                artifacts: vec![PathBuf::from("/work/fuzz/artifacts/split/crash-0123abcd")],
            }
        );
        assert_eq!(findings(&[]), Findings::default());
    }
}
