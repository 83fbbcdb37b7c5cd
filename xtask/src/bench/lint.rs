//! `cargo xtask bench lint`: `nelo-migrate lint` (squawk-linter linked in) against the
//! `squawk` command line (PyPI `squawk-cli`) on the same files in the same run: 1,000
//! generated migrations and the 300 realistic ones, plus Nelo's own. Both are whole processes
//! that read the files and print their findings (to a pipe). Also counts the findings per rule
//! on each folder, the figures the rule levels were tuned on. Prints Markdown for
//! BENCHMARKS.md.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{ExitCode, Stdio};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use nelo_migrate::lint::{Level, RULES, lint_migration};

use crate::bench::machine::{Machine, load_average};
use crate::bench::stats::{Ms, Summary};
use crate::context::Context;
use crate::ui;

/// What linting 1,000 migrations should cost, whole process included.
const TARGET: Duration = Duration::from_secs(1);

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The `nelo-migrate` binary to measure [default: built with `cargo build --release`]
    #[arg(long, value_name = "PATH")]
    nelo_migrate: Option<PathBuf>,
    /// The `squawk` binary to compare with [default: `squawk` on PATH; `pip install
    /// squawk-cli` installs it]
    #[arg(long, value_name = "PATH")]
    squawk: Option<PathBuf>,
    /// Runs of each tool on each folder, interleaved
    #[arg(long, default_value_t = 7)]
    iterations: usize,
    /// Migrations in the generated folder
    #[arg(long, default_value_t = 1000)]
    generated: usize,
    /// Migrations in the realistic folder
    #[arg(long, default_value_t = 300)]
    realistic: usize,
}

struct Folder {
    label: String,
    path: PathBuf,
}

pub async fn run(ctx: &Context, args: Args) -> anyhow::Result<ExitCode> {
    anyhow::ensure!(args.iterations > 0, "`--iterations` must be at least 1");
    let squawk = match &args.squawk {
        Some(path) => path.clone(),
        None => squawk_binary()?,
    };
    let nelo_migrate = match &args.nelo_migrate {
        Some(path) => std::fs::canonicalize(path)
            .with_context(|| format!("`--nelo-migrate {}` does not exist", path.display()))?,
        None => build_nelo_migrate(&ctx.root).await?,
    };
    let squawk_version = version(&squawk)?;
    let nelo_version = version(&nelo_migrate)?;

    let work = tempfile::tempdir().context("cannot create a scratch directory")?;
    let generated = work.path().join("generated");
    nelo_fixtures::generated_folder(&generated, args.generated)
        .with_context(|| format!("cannot generate {} migrations", args.generated))?;
    let realistic = work.path().join("realistic");
    nelo_fixtures::realistic_folder(&realistic, args.realistic)
        .with_context(|| format!("cannot generate {} realistic migrations", args.realistic))?;
    let folders = [
        Folder {
            label: format!("{} generated", args.generated),
            path: generated,
        },
        Folder {
            label: format!("{} realistic", args.realistic),
            path: realistic,
        },
        Folder {
            label: "Nelo's migrations".to_string(),
            path: ctx.config.migrations_dir.clone(),
        },
    ];

    let machine = Machine::now();
    let excluded = RULES
        .iter()
        .filter(|policy| policy.level == Level::Off)
        .map(|policy| policy.name)
        .collect::<Vec<_>>()
        .join(",");
    let mut rows = Vec::new();
    for folder in &folders {
        let nelo = || {
            let mut command = std::process::Command::new(&nelo_migrate);
            command
                .arg("lint")
                .arg("--migrations")
                .arg(&folder.path)
                .env_remove("DATABASE_URL");
            command
        };
        let reference = || {
            let mut command = std::process::Command::new(&squawk);
            command
                .arg("--reporter=gcc")
                .arg("--pg-version=17")
                .arg("--assume-in-transaction")
                .arg(format!("--exclude={excluded}"))
                .arg(format!("{}/*/migration.sql", folder.path.display()));
            command
        };
        let bar = ui::spinner(format!("linting {}", folder.label));
        let (mut nelo_samples, mut nelo_cpu) = (Vec::new(), Vec::new());
        let (mut squawk_samples, mut squawk_cpu) = (Vec::new(), Vec::new());
        let measure = |command, samples: &mut Vec<Duration>, cpu: &mut Vec<Duration>| {
            let (wall, used) = time(command)?;
            samples.push(wall);
            cpu.push(used);
            anyhow::Ok(())
        };
        for iteration in 0..args.iterations {
            // Alternate which goes first, so neither always gets the warmer cache.
            if iteration % 2 == 0 {
                measure(nelo(), &mut nelo_samples, &mut nelo_cpu)?;
                measure(reference(), &mut squawk_samples, &mut squawk_cpu)?;
            } else {
                measure(reference(), &mut squawk_samples, &mut squawk_cpu)?;
                measure(nelo(), &mut nelo_samples, &mut nelo_cpu)?;
            }
        }
        ui::done(&bar, format!("linted {}", folder.label));
        let squawk_findings = squawk_findings(reference())?;
        rows.push((
            folder,
            (Summary::of(&nelo_samples), Summary::of(&nelo_cpu)),
            (Summary::of(&squawk_samples), Summary::of(&squawk_cpu)),
            squawk_findings,
        ));
    }
    let load_at_end = load_average();

    println!("## `bench lint`\n");
    println!(
        "{machine}, {load_at_end} at the end · {nelo_version} (release) · {squawk_version} \
         (PyPI `squawk-cli`, its native binary) · {} runs of each, interleaved; whole processes, files read and \
         findings printed to a pipe (CPU: the process's user + system time); squawk with nelo's rules (`--exclude` of the rules nelo \
         turns off), `--pg-version=17 --assume-in-transaction`\n",
        args.iterations
    );
    println!("| Folder | Tool | Median | p95 | Min | ÷ squawk | CPU median | CPU ÷ squawk |");
    println!("|---|---|---:|---:|---:|---:|---:|---:|");
    for (folder, nelo, reference, _) in &rows {
        for (tool, (summary, cpu)) in [("`nelo-migrate lint`", nelo), ("`squawk`", reference)] {
            println!(
                "| {} | {tool} | {:.1} | {:.1} | {:.1} | {:.2}x | {:.1} | {:.2}x |",
                folder.label,
                Ms(summary.median),
                Ms(summary.p95),
                Ms(summary.min),
                summary.median.as_secs_f64() / reference.0.median.as_secs_f64(),
                Ms(cpu.median),
                cpu.median.as_secs_f64() / reference.1.median.as_secs_f64().max(1e-9)
            );
        }
    }
    if let Some((folder, (nelo, _), _, _)) = rows.first() {
        println!(
            "\nTarget: under {:.0} for {}: {} (median {:.1}).",
            Ms(TARGET),
            folder.label,
            if nelo.median < TARGET {
                "met"
            } else {
                "missed"
            },
            Ms(nelo.median)
        );
    }

    println!("\n### Findings per rule (nelo's levels; rules that are off are not run)\n");
    let counts: Vec<_> = folders
        .iter()
        .map(|folder| findings_per_rule(&folder.path))
        .collect::<anyhow::Result<_>>()?;
    println!(
        "Same work: findings in all, nelo-migrate / squawk: {}.\n",
        rows.iter()
            .zip(&counts)
            .map(|((folder, _, _, squawk), nelo)| format!(
                "{} {} / {squawk}",
                folder.label,
                nelo.values().sum::<usize>()
            ))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let mut all_rules: Vec<&String> = counts.iter().flat_map(|count| count.keys()).collect();
    all_rules.sort();
    all_rules.dedup();
    print!("| Rule | Level |");
    for folder in &folders {
        print!(" {} |", folder.label);
    }
    println!("\n|---|---|{}", "---:|".repeat(folders.len()));
    for rule in all_rules {
        let level = nelo_migrate::lint::policy(rule).map_or(Level::Warning, |p| p.level);
        print!("| `{rule}` | {level} |");
        for count in &counts {
            print!(" {} |", count.get(rule).copied().unwrap_or(0));
        }
        println!();
    }
    Ok(ExitCode::SUCCESS)
}

/// The findings of `nelo_migrate::lint` on every migration of `dir`, counted per rule.
fn findings_per_rule(dir: &Path) -> anyhow::Result<BTreeMap<String, usize>> {
    let mut counts = BTreeMap::new();
    for migration in nelo_migrate::load(dir)? {
        for finding in lint_migration(&migration).findings {
            *counts.entry(finding.rule).or_insert(0) += 1;
        }
    }
    Ok(counts)
}

/// The number of findings in squawk's `gcc` report (`path:line:column: warning: rule ...`).
fn squawk_findings(mut command: std::process::Command) -> anyhow::Result<usize> {
    let output = command
        .output()
        .with_context(|| format!("cannot run {command:?}"))?;
    Ok(String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter(|line| line.contains(": warning: ") || line.contains(": error: "))
        .count())
}

/// `squawk` on PATH, past pyenv's shim (a shell script whose start-up would be measured).
fn squawk_binary() -> anyhow::Result<PathBuf> {
    let found = which::which("squawk").context(
        "the reference, the `squawk` command line, is not on PATH: `pip install squawk-cli` \
         (or pass --squawk PATH)",
    )?;
    let is_script = std::fs::read(&found).is_ok_and(|bytes| bytes.starts_with(b"#!"));
    if !is_script {
        return Ok(found);
    }
    let output = std::process::Command::new("pyenv")
        .args(["which", "squawk"])
        .output()
        .ok()
        .filter(|output| output.status.success())
        .with_context(|| {
            format!(
                "`{}` is a script, not squawk's binary; pass --squawk PATH to the binary",
                found.display()
            )
        })?;
    Ok(PathBuf::from(
        String::from_utf8_lossy(&output.stdout).trim(),
    ))
}

/// Runs `command` to completion with its output piped away (lint exits 1 on findings): its
/// wall time, and the CPU time (user + system) it used, which a busy machine changes less.
fn time(mut command: std::process::Command) -> anyhow::Result<(Duration, Duration)> {
    command.stdout(Stdio::piped()).stderr(Stdio::piped());
    let cpu_before = crate::os::children_cpu_time();
    let started = Instant::now();
    let output = command
        .output()
        .with_context(|| format!("cannot run {command:?}"))?;
    let elapsed = started.elapsed();
    let cpu = crate::os::children_cpu_time().saturating_sub(cpu_before);
    anyhow::ensure!(
        matches!(output.status.code(), Some(0 | 1)),
        "{command:?} failed ({}): {}",
        output.status,
        String::from_utf8_lossy(&output.stderr).trim()
    );
    Ok((elapsed, cpu))
}

fn version(program: &Path) -> anyhow::Result<String> {
    let output = std::process::Command::new(program)
        .arg("--version")
        .output()
        .with_context(|| format!("cannot run `{} --version`", program.display()))?;
    Ok(String::from_utf8_lossy(&output.stdout).trim().to_owned())
}

async fn build_nelo_migrate(root: &Path) -> anyhow::Result<PathBuf> {
    let bar = ui::spinner("cargo build --release -p nelo-migrate-cli");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let output = tokio::process::Command::new(cargo)
        .current_dir(root)
        .args(["build", "--release", "-p", "nelo-migrate-cli"])
        .output()
        .await
        .context("cannot run cargo")?;
    anyhow::ensure!(
        output.status.success(),
        "cannot build `nelo-migrate` (pass --nelo-migrate PATH to measure a built binary): {}",
        String::from_utf8_lossy(&output.stderr).trim()
    );
    ui::done(&bar, "built nelo-migrate (release)");
    let target =
        std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root.join("target"), PathBuf::from);
    Ok(target.join("release").join("nelo-migrate"))
}
