//! `cargo xtask bench backup`: `db backup` against what users do today,
//! `docker exec <container> pg_dump -Fc <db> > file`, on a generated database of 1 GB or more
//! in a dedicated container. Every variant runs as a child process (ours is this very binary),
//! so wall time and peak RSS (`wait4`'s `ru_maxrss`) are measured the same way.

mod data;

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::Instant;

use anyhow::{Context as _, bail};

use crate::bench::machine::{self, Machine};
use crate::config::DatabaseUrl;
use crate::context::Context;
use crate::{postgres, ui};

const CONTAINER: &str = "nelo_bench_backup";
const USER: &str = "nelo";
const DATABASE: &str = "nelo";

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Size of the generated database, in MB (pg_database_size).
    #[arg(long, default_value_t = 1100)]
    size_mb: u64,
    /// Runs of each variant; the table shows the fastest.
    #[arg(long, default_value_t = 3)]
    runs: usize,
    /// Host port of the bench container.
    #[arg(long, default_value_t = 55990)]
    port: u16,
    /// Keep the bench container and its data for another run.
    #[arg(long)]
    keep: bool,
}

/// One way of taking the backup.
struct Variant {
    label: &'static str,
    command: &'static str,
    /// `db backup` flags (ours), or `None` for `docker exec pg_dump -Fc`.
    ours: Option<&'static [&'static str]>,
}

const VARIANTS: [Variant; 3] = [
    Variant {
        label: "docker exec pg_dump -Fc",
        command: "`docker exec nelo_bench_backup pg_dump -U nelo -Fc nelo > file`",
        ours: None,
    },
    Variant {
        label: "ours, same pg_dump flags",
        command: "`xtask db backup --compress default`",
        ours: Some(&["--compress", "default"]),
    },
    Variant {
        label: "ours, defaults (zstd:1)",
        command: "`xtask db backup`",
        ours: Some(&[]),
    },
];

struct Measure {
    seconds: f64,
    bytes: u64,
    peak_rss_kib: i64,
}

pub async fn run(ctx: &Context, args: Args) -> anyhow::Result<ExitCode> {
    anyhow::ensure!(args.runs > 0, "`--runs` must be at least 1");
    let work = tempfile::Builder::new()
        .prefix("bench-backup-")
        .tempdir_in(ctx.root.join("target"))
        .context("cannot create a work directory under target/")?;
    let server = BenchServer::start(ctx, &args, work.path())?;
    let url = server.url();
    let mut conn = postgres::connect(&url, ctx.config.connect_timeout).await?;
    let size = data::ensure_data(&mut conn, args.size_mb * 1_000_000).await?;
    drop(conn);

    let machine = Machine::now();
    let mut all: Vec<Vec<Measure>> = VARIANTS.iter().map(|_| Vec::new()).collect();
    for round in 1..=args.runs {
        // Each round starts with another variant, so that a load that changes during the run
        // does not always favour the same one.
        for index in (0..VARIANTS.len()).map(|i| (i + round - 1) % VARIANTS.len()) {
            let variant = &VARIANTS[index];
            let bar = ui::spinner(format!("round {round}: {}", variant.label));
            let measure = server.measure(variant, &work.path().join(format!("dump-{index}")));
            ui::clear(&bar);
            let measure = measure.with_context(|| format!("`{}` failed", variant.label))?;
            ui::step(format!(
                "round {round}: {}: {:.1} s, {}, peak RSS {} MiB",
                variant.label,
                measure.seconds,
                ui::bytes(measure.bytes),
                measure.peak_rss_kib / 1024
            ));
            all[index].push(measure);
        }
    }
    print_table(&machine, size, &all, &machine::load_average());
    drop(server);
    Ok(ExitCode::SUCCESS)
}

/// The dedicated container, created by this binary's `db up` and removed at the end.
struct BenchServer {
    binary: PathBuf,
    port: u16,
    keep: bool,
    backup_dir: PathBuf,
    migrations_dir: PathBuf,
    image: String,
}

impl BenchServer {
    fn start(ctx: &Context, args: &Args, work: &Path) -> anyhow::Result<BenchServer> {
        let migrations_dir = work.join("migrations");
        std::fs::create_dir_all(&migrations_dir)?;
        std::fs::write(
            migrations_dir.join("migration_lock.toml"),
            "provider = \"postgresql\"\n",
        )?;
        // A copy of this binary: the one under target/ may be rebuilt during the run.
        let binary = work.join("xtask");
        std::fs::copy(std::env::current_exe()?, &binary)
            .context("cannot copy the xtask binary for the bench")?;
        let server = BenchServer {
            binary,
            port: args.port,
            keep: args.keep,
            backup_dir: work.join("backups"),
            migrations_dir,
            image: ctx.config.image.clone(),
        };
        let bar = ui::spinner(format!("starting `{CONTAINER}`"));
        let output = server.xtask(&["db", "up", "--no-backup"]).output();
        ui::clear(&bar);
        let output = output.context("cannot run `xtask db up`")?;
        if !output.status.success() {
            bail!(
                "`db up` for the bench container failed: {}",
                String::from_utf8_lossy(&output.stderr)
            );
        }
        Ok(server)
    }

    fn url(&self) -> DatabaseUrl {
        DatabaseUrl::parse(&format!(
            "postgresql://{USER}:bench@127.0.0.1:{}/{DATABASE}",
            self.port
        ))
        .expect("a valid URL")
    }

    /// This binary, pointed at the bench container only.
    fn xtask(&self, args: &[&str]) -> Command {
        let mut command = Command::new(&self.binary);
        command
            .args(args)
            .env("DATABASE_URL", self.url().as_str())
            .env(
                "TEST_DATABASE_URL",
                self.url().with_database("nelo_test").as_str(),
            )
            .env("NELO_PG_CONTAINER", CONTAINER)
            .env("NELO_PG_VOLUME", CONTAINER)
            .env("NELO_PG_IMAGE", &self.image)
            .env("NELO_BACKUP_DIR", &self.backup_dir)
            .env("NELO_MIGRATIONS_DIR", &self.migrations_dir);
        command
    }

    fn measure(&self, variant: &Variant, path: &Path) -> anyhow::Result<Measure> {
        let _ = std::fs::remove_file(path);
        let mut command = match variant.ours {
            Some(flags) => {
                let mut command = self.xtask(&["db", "backup", "--output"]);
                command.arg(path).args(flags).stdout(Stdio::null());
                command
            }
            None => {
                let mut command = Command::new("docker");
                command.args(["exec", CONTAINER, "pg_dump", "-U", USER, "-Fc", DATABASE]);
                command.stdout(File::create(path)?);
                command
            }
        };
        let started = Instant::now();
        let log = path.with_extension("log");
        let child = command
            .stdin(Stdio::null())
            .stderr(File::create(&log)?)
            .spawn()?;
        let (status, peak_rss_kib) = crate::os::wait_with_peak_memory(child.id())
            .context("cannot wait for the child (wait4)")?;
        let seconds = started.elapsed().as_secs_f64();
        if status != 0 {
            let stderr = std::fs::read_to_string(&log).unwrap_or_default();
            bail!("exit status {status}: {}", stderr.trim());
        }
        let bytes = std::fs::metadata(path)?.len();
        std::fs::remove_file(path)?;
        let _ = std::fs::remove_file(crate::dump_file::checksum_path(path));
        Ok(Measure {
            seconds,
            bytes,
            peak_rss_kib,
        })
    }
}

impl Drop for BenchServer {
    fn drop(&mut self) {
        if !self.keep {
            let _ = Command::new("docker")
                .args(["rm", "--force", "--volumes", CONTAINER])
                .output();
            let _ = Command::new("docker")
                .args(["volume", "rm", "--force", CONTAINER])
                .output();
        }
    }
}

/// Each variant's runs; the table shows the fastest and lists them all.
fn print_table(machine: &Machine, size: u64, all: &[Vec<Measure>], load: &str) {
    let runs = all[0].len();
    let best: Vec<&Measure> = all
        .iter()
        .map(|runs| {
            runs.iter()
                .min_by(|a, b| a.seconds.total_cmp(&b.seconds))
                .expect("runs >= 1")
        })
        .collect();
    let megabytes = size as f64 / 1_000_000.0;
    println!("### `db backup` vs `docker exec pg_dump -Fc`\n");
    println!(
        "{machine}, {load} at the end · database of {megabytes:.0} MB (pg_database_size) · \
         fastest of {runs} runs each (interleaved, each round starting with another variant)\n"
    );
    println!(
        "| variant | command | time (s) | all runs (s) | throughput (MB/s of database) | file | peak RSS |"
    );
    println!("|---|---|---:|---:|---:|---:|---:|");
    for ((variant, measure), runs) in VARIANTS.iter().zip(&best).zip(all) {
        let runs: Vec<String> = runs
            .iter()
            .map(|run| format!("{:.1}", run.seconds))
            .collect();
        println!(
            "| {} | {} | {:.1} | {} | {:.1} | {} | {:.1} MiB |",
            variant.label,
            variant.command,
            measure.seconds,
            runs.join(", "),
            megabytes / measure.seconds,
            ui::bytes(measure.bytes),
            measure.peak_rss_kib as f64 / 1024.0
        );
    }
    let [docker, same, ours] = [best[0], best[1], best[2]];
    println!();
    println!(
        "- same flags: {:.2}x the throughput of `docker exec` (target ≥ 0.95x)",
        docker.seconds / same.seconds
    );
    println!(
        "- defaults: {:.2}x faster than `docker exec pg_dump -Fc` (target ≥ 2x), file {:.2}x its size (target ≤ 1x)",
        docker.seconds / ours.seconds,
        ours.bytes as f64 / docker.bytes as f64
    );
    println!(
        "- peak RSS: ours {:.1} / {:.1} MiB vs docker CLI {:.1} MiB (target: not higher)",
        same.peak_rss_kib as f64 / 1024.0,
        ours.peak_rss_kib as f64 / 1024.0,
        docker.peak_rss_kib as f64 / 1024.0
    );
}
