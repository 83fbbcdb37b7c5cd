//! Summaries of timed samples, and milliseconds for the reports.

use std::fmt;
use std::time::Duration;

/// The summary of one measurement's samples.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Summary {
    /// The middle sample; with an even count, the mean of the two middle ones.
    pub median: Duration,
    /// The nearest-rank 95th percentile (see [`percentile`]).
    pub p95: Duration,
    pub min: Duration,
}

impl Summary {
    /// Panics when `samples` is empty: every benchmark checks for at least one iteration.
    pub fn of(samples: &[Duration]) -> Summary {
        assert!(!samples.is_empty(), "at least one sample");
        let mut sorted = samples.to_vec();
        sorted.sort_unstable();
        let count = sorted.len();
        let median = if count % 2 == 1 {
            sorted[count / 2]
        } else {
            (sorted[count / 2 - 1] + sorted[count / 2]) / 2
        };
        Summary {
            median,
            p95: percentile(&sorted, 95),
            min: sorted[0],
        }
    }
}

/// The nearest-rank `percent`th percentile (`percent` in 1..=100) of `sorted`, sorted ascending
/// and not empty: the smallest sample that at least `percent`% of the samples are less than or
/// equal to, that is `sorted[ceil(percent / 100 × n) - 1]`. Always one of the samples, never an
/// interpolation; with few samples the p95 is the maximum (below 20 samples).
pub fn percentile(sorted: &[Duration], percent: usize) -> Duration {
    assert!((1..=100).contains(&percent), "a percentile in 1..=100");
    let rank = (percent * sorted.len()).div_ceil(100).max(1);
    sorted[rank - 1]
}

/// Milliseconds as a number, for table cells whose header carries the unit.
pub fn millis(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

/// `12.3 ms`: the precision of the format (`{:.0}`, `{:.1}`) gives the decimals, one by
/// default.
pub struct Ms(pub Duration);

impl fmt::Display for Ms {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let decimals = f.precision().unwrap_or(1);
        write!(f, "{:.*} ms", decimals, millis(self.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(values: &[u64]) -> Vec<Duration> {
        values.iter().copied().map(Duration::from_millis).collect()
    }

    #[test]
    fn odd_counts_take_the_middle_sample() {
        let summary = Summary::of(&ms(&[50, 10, 30, 20, 40]));
        assert_eq!(summary.median, Duration::from_millis(30));
        assert_eq!(summary.p95, Duration::from_millis(50));
        assert_eq!(summary.min, Duration::from_millis(10));
    }

    #[test]
    fn even_counts_average_the_middle_pair() {
        let summary = Summary::of(&ms(&[10, 20, 40, 30]));
        assert_eq!(summary.median, Duration::from_millis(25));
        let summary = Summary::of(&ms(&[1, 2, 3, 4]));
        assert_eq!(summary.median, Duration::from_micros(2_500));
        assert_eq!(summary.p95, Duration::from_millis(4));
    }

    #[test]
    fn one_sample_is_every_statistic() {
        let summary = Summary::of(&ms(&[7]));
        assert_eq!(summary.median, Duration::from_millis(7));
        assert_eq!(summary.p95, Duration::from_millis(7));
        assert_eq!(summary.min, Duration::from_millis(7));
    }

    #[test]
    #[should_panic(expected = "at least one sample")]
    fn no_samples_is_a_bug() {
        Summary::of(&[]);
    }

    #[test]
    fn p95_is_nearest_rank() {
        let forty: Vec<u64> = (1..=40).collect();
        assert_eq!(Summary::of(&ms(&forty)).p95, Duration::from_millis(38));
        let hundred: Vec<u64> = (1..=100).rev().collect();
        assert_eq!(Summary::of(&ms(&hundred)).p95, Duration::from_millis(95));
        // Below 20 samples, ceil(0.95 n) = n: the maximum.
        let nineteen: Vec<u64> = (1..=19).collect();
        assert_eq!(Summary::of(&ms(&nineteen)).p95, Duration::from_millis(19));
        let twenty: Vec<u64> = (1..=20).collect();
        assert_eq!(Summary::of(&ms(&twenty)).p95, Duration::from_millis(19));
    }

    #[test]
    fn percentiles_are_ranks_not_interpolations() {
        let sorted = ms(&[10, 20, 30, 40]);
        assert_eq!(percentile(&sorted, 1), Duration::from_millis(10));
        assert_eq!(percentile(&sorted, 25), Duration::from_millis(10));
        assert_eq!(percentile(&sorted, 26), Duration::from_millis(20));
        assert_eq!(percentile(&sorted, 50), Duration::from_millis(20));
        assert_eq!(percentile(&sorted, 100), Duration::from_millis(40));
    }

    #[test]
    fn milliseconds_take_the_format_precision() {
        assert_eq!(millis(Duration::from_millis(1_500)), 1_500.0);
        let duration = Duration::from_micros(12_340);
        assert_eq!(Ms(duration).to_string(), "12.3 ms");
        assert_eq!(format!("{:.0}", Ms(duration)), "12 ms");
        assert_eq!(format!("{:.2}", Ms(duration)), "12.34 ms");
    }
}
