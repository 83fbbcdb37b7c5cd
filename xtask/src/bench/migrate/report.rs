//! Statistics over the samples and the Markdown that goes into BENCHMARKS.md.

use std::fmt::Write as _;
use std::time::Duration;

use super::measure::{Runner, StatusResult};
use super::tools::{Machine, Tools};

/// Ours against the floor: within this factor.
const FLOOR_TARGET: f64 = 1.10;
/// `status` on the large history: under this.
const STATUS_TARGET: Duration = Duration::from_millis(200);

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Summary {
    pub median: Duration,
    pub p95: Duration,
    pub min: Duration,
}

impl Summary {
    /// Median (mean of the two middle samples when even), nearest-rank p95, and min.
    pub fn of(mut samples: Vec<Duration>) -> Summary {
        assert!(!samples.is_empty(), "at least one sample");
        samples.sort();
        let count = samples.len();
        let median = if count % 2 == 1 {
            samples[count / 2]
        } else {
            (samples[count / 2 - 1] + samples[count / 2]) / 2
        };
        let rank = (count * 95).div_ceil(100).max(1);
        Summary {
            median,
            p95: samples[rank - 1],
            min: samples[0],
        }
    }
}

pub struct Row {
    pub case: String,
    pub runner: Runner,
    pub summary: Summary,
}

pub fn markdown(
    machine: &Machine,
    tools: &Tools,
    iterations: usize,
    rows: &[Row],
    status: &StatusResult,
) -> String {
    let mut text = String::new();
    let _ = writeln!(text, "### `cargo xtask bench migrate`, {}\n", machine.date);
    let _ = writeln!(
        text,
        "{} cores, {}; PostgreSQL {}; {}; {}; {iterations} runs of each, every run into a fresh \
         database; load average {} at the start, {} at the end.\n",
        machine.cores,
        machine.cpu,
        machine.postgres,
        tools.nelo_version,
        tools.sqlx_version,
        machine.load,
        super::tools::load_average()
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
            millis(row.summary.median),
            millis(row.summary.p95),
            millis(row.summary.min),
            ratio(row.summary.median, floor),
            ratio(row.summary.median, sqlx),
        );
    }
    let _ = writeln!(
        text,
        "| {} applied | `nelo-migrate status` | {} | {} | {} | | |\n",
        status.migrations,
        millis(status.summary.median),
        millis(status.summary.p95),
        millis(status.summary.min)
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
        millis(status.summary.median),
        mark(status.summary.median < STATUS_TARGET),
        millis(STATUS_TARGET),
        millis(status.cpu.median),
        millis(status.cpu.min),
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

fn millis(duration: Duration) -> String {
    format!("{:.1} ms", duration.as_secs_f64() * 1000.0)
}

fn ratio(value: Duration, reference: Option<Duration>) -> String {
    reference.map_or_else(String::new, |reference| {
        format!("{:.2}x", value.as_secs_f64() / reference.as_secs_f64())
    })
}

fn mark(met: bool) -> &'static str {
    if met { "(met)" } else { "(**missed**)" }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(values: &[u64]) -> Vec<Duration> {
        values
            .iter()
            .map(|&value| Duration::from_millis(value))
            .collect()
    }

    #[test]
    fn odd_counts_take_the_middle_sample() {
        let summary = Summary::of(ms(&[50, 10, 30, 20, 40]));
        assert_eq!(summary.median, Duration::from_millis(30));
        assert_eq!(summary.p95, Duration::from_millis(50));
        assert_eq!(summary.min, Duration::from_millis(10));
    }

    #[test]
    fn even_counts_average_the_middle_pair() {
        assert_eq!(
            Summary::of(ms(&[10, 20, 40, 30])).median,
            Duration::from_millis(25)
        );
    }

    #[test]
    fn p95_is_nearest_rank() {
        let samples: Vec<u64> = (1..=40).collect();
        assert_eq!(Summary::of(ms(&samples)).p95, Duration::from_millis(38));
        assert_eq!(Summary::of(ms(&[7])).p95, Duration::from_millis(7));
    }
}
