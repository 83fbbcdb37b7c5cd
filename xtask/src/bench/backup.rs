//! `cargo xtask bench backup`: `db backup` against what users do today,
//! `docker exec <container> pg_dump -Fc <db> > file`, on a generated database of 1 GB or more
//! in a dedicated container. Every variant runs as a child process (ours is this very binary),
//! so wall time and peak RSS (`wait4`'s `ru_maxrss`) are measured the same way.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use chrono::Utc;
use sqlx::PgConnection;

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
    #[arg(long, default_value_t = 2)]
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
    let work = tempfile::Builder::new()
        .prefix("bench-backup-")
        .tempdir_in(ctx.root.join("target"))
        .context("cannot create a work directory under target/")?;
    let server = BenchServer::start(ctx, &args, work.path())?;
    let url = server.url();
    let mut conn = postgres::connect(&url, Duration::from_secs(30)).await?;
    let size = ensure_data(&mut conn, args.size_mb * 1_000_000).await?;
    drop(conn);

    let mut all: Vec<Vec<Measure>> = VARIANTS.iter().map(|_| Vec::new()).collect();
    for round in 1..=args.runs {
        for (index, variant) in VARIANTS.iter().enumerate() {
            let bar = ui::spinner(format!("round {round}: {}", variant.label));
            let measure = server.measure(variant, &work.path().join(format!("dump-{index}")));
            ui::failed(&bar);
            let measure = measure.with_context(|| format!("`{}` failed", variant.label))?;
            ui::step(format!(
                "round {round}: {}: {:.1} s, {}, peak RSS {} MiB",
                variant.label,
                measure.seconds,
                indicatif::HumanBytes(measure.bytes),
                measure.peak_rss_kib / 1024
            ));
            all[index].push(measure);
        }
    }
    print_table(size, &all, &load_average());
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
        ui::failed(&bar);
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
        let (status, peak_rss_kib) = wait_with_rusage(child.id())?;
        let seconds = started.elapsed().as_secs_f64();
        if status != 0 {
            let stderr = std::fs::read_to_string(&log).unwrap_or_default();
            bail!("exit status {status}: {}", stderr.trim());
        }
        let bytes = std::fs::metadata(path)?.len();
        std::fs::remove_file(path)?;
        let _ = std::fs::remove_file(crate::backup::file::checksum_path(path));
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

/// Waits for `pid` and returns its raw wait status and its own peak RSS in KiB.
fn wait_with_rusage(pid: u32) -> anyhow::Result<(i32, i64)> {
    let mut status = 0;
    // SAFETY: an all-zero rusage is a valid value for wait4 to fill in.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `pid` is our child, not yet waited for; the pointers are valid for the call.
    let waited = unsafe { libc::wait4(pid as libc::pid_t, &mut status, 0, &mut usage) };
    if waited < 0 {
        return Err(std::io::Error::last_os_error()).context("wait4 failed");
    }
    Ok((status, usage.ru_maxrss))
}

/// Generates Nelo-like rows until the database reaches `target` bytes: scenes with prose from
/// a pool of sentences (compressible like text), numbers and timestamps, and 1536-dimension
/// embeddings (hardly compressible), about a third of the size.
async fn ensure_data(conn: &mut PgConnection, target: u64) -> anyhow::Result<u64> {
    let size = database_size(conn).await?;
    if size >= target {
        return Ok(size);
    }
    let bar = ui::spinner(format!(
        "generating {} of data",
        indicatif::HumanBytes(target)
    ));
    sqlx::raw_sql(SCHEMA)
        .execute(&mut *conn)
        .await
        .context("cannot create the bench schema")?;
    let mut scenes = 0i64;
    let mut embeddings = 0i64;
    loop {
        let size = database_size(conn).await?;
        bar.set_message(format!(
            "generating data: {} of {}",
            indicatif::HumanBytes(size),
            indicatif::HumanBytes(target)
        ));
        if size >= target {
            break;
        }
        // Two thirds scenes, one third embeddings, in batches.
        let statement = if embeddings * 6_200 * 2 < scenes * 600 {
            let batch = format!(
                "INSERT INTO embedding SELECT i, 1 + i % 500, (SELECT array_agg((random() * 0.2 - 0.1)::real) \
                 FROM generate_series(1, 1536) WHERE i > 0)::vector FROM generate_series({}, {}) AS i",
                embeddings + 1,
                embeddings + 10_000
            );
            embeddings += 10_000;
            batch
        } else {
            let batch = format!(
                "{SCENES} FROM generate_series({}, {}) AS i {SCENE_JOINS}",
                scenes + 1,
                scenes + 200_000
            );
            scenes += 200_000;
            batch
        };
        sqlx::raw_sql(&statement)
            .execute(&mut *conn)
            .await
            .context("cannot generate rows")?;
    }
    bar.set_message("vacuum freeze analyze");
    sqlx::raw_sql("VACUUM (FREEZE, ANALYZE)")
        .execute(&mut *conn)
        .await?;
    ui::done(
        &bar,
        format!("generated {scenes} scenes and {embeddings} embeddings"),
    );
    database_size(conn).await
}

async fn database_size(conn: &mut PgConnection) -> anyhow::Result<u64> {
    let size: i64 = sqlx::query_scalar("SELECT pg_database_size(current_database())")
        .fetch_one(conn)
        .await?;
    Ok(size as u64)
}

const SCHEMA: &str = "
SET synchronous_commit = off;
CREATE EXTENSION IF NOT EXISTS vector;
CREATE TABLE IF NOT EXISTS sentence (id int PRIMARY KEY, text text NOT NULL);
INSERT INTO sentence
SELECT id, initcap(string_agg(word, ' ')) || '.'
FROM (
    SELECT id, (ARRAY['the', 'a', 'she', 'he', 'they', 'walked', 'into', 'room', 'light', 'dark',
        'morning', 'evening', 'letter', 'window', 'garden', 'silence', 'voice', 'remembered',
        'whispered', 'said', 'never', 'always', 'again', 'slowly', 'quietly', 'house', 'river',
        'city', 'train', 'station', 'rain', 'sun', 'cold', 'warm', 'old', 'young', 'friend',
        'mother', 'father', 'sister', 'brother', 'stranger', 'door', 'table', 'chair', 'book',
        'page', 'ink', 'story', 'chapter', 'scene', 'and', 'but', 'because', 'when', 'while',
        'before', 'after', 'under', 'over', 'through', 'without', 'within', 'across', 'toward',
        'her', 'his', 'their', 'of', 'in', 'on', 'at', 'with', 'for', 'from', 'was', 'were',
        'had', 'could', 'would', 'should', 'might', 'nothing', 'everything', 'something',
        'nobody', 'someone', 'answer', 'question', 'promise', 'secret', 'truth', 'lie', 'dream',
        'memory', 'shadow', 'fire', 'snow', 'wind', 'sea', 'mountain', 'road', 'bridge'])
        [1 + floor(random() * 104)::int] AS word
    FROM generate_series(0, 19999) AS id, generate_series(1, 6 + id % 11)
) AS words
GROUP BY id
ON CONFLICT DO NOTHING;
CREATE TABLE IF NOT EXISTS scene (
    id bigint PRIMARY KEY,
    project_id int NOT NULL,
    chapter_id int NOT NULL,
    \"order\" int NOT NULL,
    title text NOT NULL,
    content text NOT NULL,
    word_count int NOT NULL,
    status text NOT NULL,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL
);
CREATE TABLE IF NOT EXISTS embedding (
    scene_id bigint PRIMARY KEY,
    project_id int NOT NULL,
    embedding vector(1536) NOT NULL
);";

const SCENES: &str = "
INSERT INTO scene
SELECT i, 1 + i % 500, 1 + i % 20000, i % 100, 'Scene ' || i,
       s1.text || ' ' || s2.text || ' ' || s3.text || ' ' || s4.text || ' ' || s5.text || ' ' || s6.text,
       length(s1.text || s2.text || s3.text || s4.text || s5.text || s6.text) / 6,
       (ARRAY['draft', 'revised', 'final'])[1 + i % 3],
       timestamptz '2025-01-01' + i * interval '17 seconds',
       timestamptz '2025-06-01' + i * interval '13 seconds'";

const SCENE_JOINS: &str = "
JOIN sentence s1 ON s1.id = (i * 7) % 20000
JOIN sentence s2 ON s2.id = (i * 13 + 1) % 20000
JOIN sentence s3 ON s3.id = (i * 31 + 2) % 20000
JOIN sentence s4 ON s4.id = (i * 101 + 3) % 20000
JOIN sentence s5 ON s5.id = (i * 211 + 4) % 20000
JOIN sentence s6 ON s6.id = (i * 307 + 5) % 20000";

/// Each variant's runs; the table shows the fastest and lists them all.
fn print_table(size: u64, all: &[Vec<Measure>], load: &str) {
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
        "{}, {} ({} cores), database of {:.0} MB (pg_database_size), fastest of {runs} runs each (interleaved); load average at the end {load}.\n",
        Utc::now().format("%Y-%m-%d %H:%M UTC"),
        cpu_model(),
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        megabytes
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
            indicatif::HumanBytes(measure.bytes),
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

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|text| {
            text.split_whitespace()
                .take(3)
                .collect::<Vec<_>>()
                .join(" ")
        })
        .unwrap_or_else(|_| "unknown".to_string())
}

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find(|line| line.starts_with("model name"))
                .and_then(|line| line.split_once(':'))
                .map(|(_, model)| model.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".to_string())
}
