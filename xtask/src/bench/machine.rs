//! The machine a benchmark ran on, for the line under each report's title: the date (UTC), the
//! CPU model and its core count, and the load average when the measurements started (the
//! machine may be shared, and a busy machine makes every number slower).

use std::fmt;

pub struct Machine {
    /// `%Y-%m-%d %H:%M UTC`.
    date: String,
    cores: usize,
    cpu: String,
    /// The 1, 5 and 15 minute load averages.
    load: String,
}

impl Machine {
    /// The machine now: call it just before the measurements start.
    pub fn now() -> Machine {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        Machine {
            date: chrono::Utc::now().format("%Y-%m-%d %H:%M UTC").to_string(),
            cores: std::thread::available_parallelism().map_or(1, usize::from),
            cpu: cpu_model(&cpuinfo).unwrap_or("unknown CPU").to_owned(),
            load: load_average(),
        }
    }
}

/// `2025-06-01 14:05 UTC · AMD EPYC 7B13, 2 cores · load average 0.52 0.61 0.70 at the start`.
impl fmt::Display for Machine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} · {}, {} cores · load average {} at the start",
            self.date, self.cpu, self.cores, self.load
        )
    }
}

/// The 1, 5 and 15 minute load averages of `/proc/loadavg`, or `unknown`.
pub fn load_average() -> String {
    load_fields(&std::fs::read_to_string("/proc/loadavg").unwrap_or_default())
}

fn load_fields(loadavg: &str) -> String {
    let fields: Vec<&str> = loadavg.split_whitespace().take(3).collect();
    if fields.len() == 3 {
        fields.join(" ")
    } else {
        "unknown".to_owned()
    }
}

/// The first `model name` of `/proc/cpuinfo`.
fn cpu_model(cpuinfo: &str) -> Option<&str> {
    cpuinfo.lines().find_map(|line| {
        line.strip_prefix("model name")?
            .split_once(':')
            .map(|(_, model)| model.trim())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_model_is_the_first_model_name() {
        let cpuinfo =
            "processor\t: 0\nmodel name\t: AMD EPYC 7B13\nprocessor\t: 1\nmodel name\t: other\n";
        assert_eq!(cpu_model(cpuinfo), Some("AMD EPYC 7B13"));
        assert_eq!(
            cpu_model("model name\t: Vendor CPU @ 2.0GHz: rev 3\n"),
            Some("Vendor CPU @ 2.0GHz: rev 3")
        );
        assert_eq!(cpu_model("processor : 0\n"), None);
    }

    #[test]
    fn load_average_is_the_first_three_fields() {
        assert_eq!(load_fields("0.52 0.61 0.70 2/345 6789\n"), "0.52 0.61 0.70");
        assert_eq!(load_fields("0.52 0.61"), "unknown");
        assert_eq!(load_fields(""), "unknown");
    }

    #[test]
    fn the_header_line_has_date_machine_and_load() {
        let machine = Machine {
            date: "2025-06-01 14:05 UTC".to_owned(),
            cores: 2,
            cpu: "AMD EPYC 7B13".to_owned(),
            load: "0.52 0.61 0.70".to_owned(),
        };
        assert_eq!(
            machine.to_string(),
            "2025-06-01 14:05 UTC · AMD EPYC 7B13, 2 cores · load average 0.52 0.61 0.70 at the start"
        );
    }
}
