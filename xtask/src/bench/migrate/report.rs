//! The Markdown that goes into BENCHMARKS.md.

use std::fmt::Write as _;
use std::time::Duration;

use super::measure::{Runner, StatusResult};
use super::tools::Tools;
use crate::bench::machine::{self, Machine};
use crate::bench::stats::{Ms, Summary};

/// Ours against the floor: within this factor.
const FLOOR_TARGET: f64 = 1.10;
/// `status` on the large history: under this.
const STATUS_TARGET: Duration = Duration::from_millis(200);

pub struct Row {
    pub case: String,
    pub runner: Runner,
    pub summary: Summary,
}

pub fn markdown(
    machine: &Machine,
    postgres: &str,
    tools: &Tools,
    iterations: usize,
    rows: &[Row],
    status: &StatusResult,
) -> String {
    let mut text = String::new();
    text.push_str("### `cargo xtask bench migrate`\n\n");
    let _ = writeln!(
        text,
        "{machine}, {} at the end · PostgreSQL {postgres} · {} · {} · {iterations} runs of each, \
         every run into a fresh database\n",
        machine::load_average(),
        tools.nelo_version,
        tools.sqlx_version,
    );
    text.push_str("| Case | Tool | Median | p95 | Min | ÷ floor | ÷ sqlx-cli |\n");
    text.push_str("|---|---|---:|---:|---:|---:|---:|\n");
    for row in rows {
        let floor = reference(rows, &row.case, Runner::Floor);
        let sqlx = reference(rows, &row.case, Runner::SqlxCli);
        let _ = writeln!(
            text,
            "| {} | {} | {} | {} | {} | {} | {} |",
            row.case,
            row.runner.label(),
            Ms(row.summary.median),
            Ms(row.summary.p95),
            Ms(row.summary.min),
            ratio(row.summary.median, floor),
            ratio(row.summary.median, sqlx),
        );
    }
    let _ = writeln!(
        text,
        "| {} applied | `nelo-migrate status` | {} | {} | {} | | |\n",
        status.migrations,
        Ms(status.summary.median),
        Ms(status.summary.p95),
        Ms(status.summary.min)
    );
    text.push_str(
        "The floor connects, then for each file reads it and runs it with `raw_sql` inside \
         `BEGIN` ... `COMMIT` on one connection; every time includes connecting (and, for the \
         processes, starting). Ratios are of medians.\n\n",
    );
    text.push_str(&targets(rows, status));
    text
}

/// The target lines: library and process against the floor, process against sqlx-cli, status.
fn targets(rows: &[Row], status: &StatusResult) -> String {
    let mut text = String::new();
    let mut cases: Vec<&str> = rows.iter().map(|row| row.case.as_str()).collect();
    cases.dedup();
    for case in cases {
        let of = |runner| reference(rows, case, runner).unwrap_or_default();
        let (floor, sqlx) = (of(Runner::Floor), of(Runner::SqlxCli));
        let (process, library) = (of(Runner::NeloProcess), of(Runner::NeloLibrary));
        let library_ratio = library.as_secs_f64() / floor.as_secs_f64();
        let process_ratio = process.as_secs_f64() / floor.as_secs_f64();
        let _ = writeln!(
            text,
            "- {case}: library {library_ratio:.2}x floor {}, process {process_ratio:.2}x floor {}, \
             process {:.2}x sqlx-cli {}",
            mark(library_ratio <= FLOOR_TARGET),
            mark(process_ratio <= FLOOR_TARGET),
            process.as_secs_f64() / sqlx.as_secs_f64(),
            mark(process < sqlx),
        );
    }
    let _ = writeln!(
        text,
        "- status on {} applied: median {} {} (target < {}); its CPU time (user + system) \
         median {}, min {}; the one-time deploy took {:.1} s",
        status.migrations,
        Ms(status.summary.median),
        mark(status.summary.median < STATUS_TARGET),
        Ms(STATUS_TARGET),
        Ms(status.cpu.median),
        Ms(status.cpu.min),
        status.deploy.as_secs_f64()
    );
    text
}

/// The median of `runner` on `case`.
fn reference(rows: &[Row], case: &str, runner: Runner) -> Option<Duration> {
    rows.iter()
        .find(|row| row.case == case && row.runner == runner)
        .map(|row| row.summary.median)
}

fn ratio(value: Duration, reference: Option<Duration>) -> String {
    reference.map_or_else(String::new, |reference| {
        format!("{:.2}x", value.as_secs_f64() / reference.as_secs_f64())
    })
}

fn mark(met: bool) -> &'static str {
    if met { "(met)" } else { "(**missed**)" }
}
