//! `db backup`, `db restore` and `db backups` against a real PostgreSQL + pgvector container:
//! each test starts its own (unique container, volume and port) and removes it when it ends,
//! even when it fails.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use sqlx::{Connection, PgConnection};

const USER: &str = "nelo";
const PASSWORD: &str = "bt-secret";

/// A throwaway server for one test.
struct TestServer {
    name: String,
    port: u16,
    image: String,
    backup_dir: tempfile::TempDir,
    migrations_dir: tempfile::TempDir,
}

impl TestServer {
    fn start() -> TestServer {
        let image = std::env::var("NELO_TEST_IMAGE").unwrap_or_else(|_| {
            panic!(
                "NELO_TEST_IMAGE is not set: run `cargo xtask test`, or set it to a PostgreSQL 17 \
                 + pgvector image (for example NELO_TEST_IMAGE=nelo-dev/pg17:dev)"
            )
        });
        let migrations_dir = tempfile::tempdir().unwrap();
        std::fs::write(
            migrations_dir.path().join("migration_lock.toml"),
            "provider = \"postgresql\"\n",
        )
        .unwrap();
        let server = TestServer {
            name: format!(
                "nelo_bt_{}",
                &uuid::Uuid::new_v4().simple().to_string()[..12]
            ),
            port: free_port(),
            image,
            backup_dir: tempfile::tempdir().unwrap(),
            migrations_dir,
        };
        let up = server.xtask(&["db", "up", "--no-backup"]);
        assert!(
            up.status.success(),
            "db up failed:\n{}",
            String::from_utf8_lossy(&up.stderr)
        );
        server
    }

    fn url(&self, database: &str) -> String {
        format!(
            "postgresql://{USER}:{PASSWORD}@127.0.0.1:{}/{database}",
            self.port
        )
    }

    fn backup_dir(&self) -> &Path {
        self.backup_dir.path()
    }

    /// Runs the built `xtask` binary against this server only.
    fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_xtask"));
        command
            .args(args)
            .env("DATABASE_URL", self.url("nelo"))
            .env("TEST_DATABASE_URL", self.url("nelo_test"))
            .env("NELO_PG_CONTAINER", &self.name)
            .env("NELO_PG_VOLUME", &self.name)
            .env("NELO_PG_IMAGE", &self.image)
            .env("NELO_BACKUP_DIR", self.backup_dir())
            .env("NELO_MIGRATIONS_DIR", self.migrations_dir.path())
            .env("CI", "1");
        command
    }

    fn xtask(&self, args: &[&str]) -> Output {
        self.command(args).output().expect("the xtask binary runs")
    }

    async fn connect(&self, database: &str) -> PgConnection {
        PgConnection::connect(&self.url(database))
            .await
            .expect("connects to the test server")
    }

    /// The complete backups in the backup directory (no dotfiles, no checksums).
    fn dumps(&self) -> Vec<PathBuf> {
        let mut dumps: Vec<PathBuf> = std::fs::read_dir(self.backup_dir())
            .unwrap()
            .map(|entry| entry.unwrap().path())
            .filter(|path| {
                let name = path.file_name().unwrap().to_str().unwrap();
                !name.starts_with('.') && !name.ends_with(".sha256")
            })
            .collect();
        dumps.sort();
        dumps
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        let _ = Command::new("docker")
            .args(["rm", "--force", "--volumes", &self.name])
            .output();
        let _ = Command::new("docker")
            .args(["volume", "rm", "--force", &self.name])
            .output();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn assert_success(output: &Output, what: &str) {
    assert!(
        output.status.success(),
        "{what} failed:\n{}",
        stderr(output)
    );
}

/// Tables, a foreign key, an enum, a pgvector column and an index, with rows.
async fn create_sample(conn: &mut PgConnection) {
    sqlx::raw_sql(
        "CREATE EXTENSION IF NOT EXISTS vector;
         CREATE TYPE mood AS ENUM ('calm', 'tense', 'joyful');
         CREATE TABLE project (id serial PRIMARY KEY, name text NOT NULL UNIQUE);
         CREATE TABLE scene (
             id bigserial PRIMARY KEY,
             project_id int NOT NULL REFERENCES project (id),
             title text NOT NULL,
             mood mood NOT NULL DEFAULT 'calm',
             embedding vector(3),
             words int CHECK (words >= 0)
         );
         CREATE INDEX scene_project ON scene (project_id, id);
         INSERT INTO project (name) VALUES ('Dune'), ('Emma');
         INSERT INTO scene (project_id, title, mood, embedding, words)
         SELECT 1 + i % 2, 'scene ' || i, (ARRAY['calm', 'tense', 'joyful'])[1 + i % 3]::mood,
                ARRAY[i * 0.5, -i, 1.0 / i]::vector, i * 10
         FROM generate_series(1, 500) AS i;",
    )
    .execute(conn)
    .await
    .unwrap();
}

type SceneRow = (i64, i32, String, String, Option<String>, Option<i32>);

async fn scenes(conn: &mut PgConnection) -> Vec<SceneRow> {
    sqlx::query_as(
        "SELECT id, project_id, title, mood::text, embedding::text, words FROM scene ORDER BY id",
    )
    .fetch_all(conn)
    .await
    .unwrap()
}

async fn database_exists(conn: &mut PgConnection, name: &str) -> bool {
    sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
        .bind(name)
        .fetch_one(conn)
        .await
        .unwrap()
}

#[tokio::test]
async fn backup_restores_tables_rows_vectors_and_enums() {
    let server = TestServer::start();
    let mut source = server.connect("nelo").await;
    create_sample(&mut source).await;

    let backup = server.xtask(&["db", "backup", "--verify"]);
    assert_success(&backup, "db backup --verify");
    assert!(stderr(&backup).contains("verified"), "{}", stderr(&backup));
    let dumps = server.dumps();
    assert_eq!(dumps.len(), 1, "{dumps:?}");
    let dump = &dumps[0];
    let file_name = dump.file_name().unwrap().to_str().unwrap();
    assert!(
        file_name.starts_with("nelo-") && file_name.ends_with("-manual.dump"),
        "{file_name}"
    );
    assert!(std::fs::read(dump).unwrap().starts_with(b"PGDMP"));
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(dump).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
    // The checksum is in `sha256sum -c` format and holds.
    let check = Command::new("sha256sum")
        .arg("-c")
        .arg(format!("{file_name}.sha256"))
        .current_dir(server.backup_dir())
        .output()
        .unwrap();
    assert_success(&check, "sha256sum -c");
    // The scratch database of --verify is gone.
    let leftovers: Vec<String> = sqlx::query_scalar(
        "SELECT datname::text FROM pg_database WHERE datname LIKE 'nelo_verify_%'",
    )
    .fetch_all(&mut source)
    .await
    .unwrap();
    assert!(leftovers.is_empty(), "{leftovers:?}");

    let restore = server.xtask(&["db", "restore", dump.to_str().unwrap()]);
    assert_success(&restore, "db restore");
    let restored_name = String::from_utf8(restore.stdout.clone())
        .unwrap()
        .trim()
        .to_string();
    assert!(
        restored_name.starts_with("nelo_restored_"),
        "{restored_name}"
    );
    assert!(
        stderr(&restore).contains("2 tables, 502 rows"),
        "{}",
        stderr(&restore)
    );
    let mut restored = server.connect(&restored_name).await;
    assert_eq!(scenes(&mut restored).await, scenes(&mut source).await);
    let labels: Vec<String> = sqlx::query_scalar("SELECT unnest(enum_range(NULL::mood))::text")
        .fetch_all(&mut restored)
        .await
        .unwrap();
    assert_eq!(labels, ["calm", "tense", "joyful"]);

    let listing = server.xtask(&["db", "backups"]);
    assert_success(&listing, "db backups");
    let listing = String::from_utf8(listing.stdout).unwrap();
    assert!(
        listing.contains(file_name) && listing.contains("manual"),
        "{listing}"
    );
}

/// Rows keep arriving while `db backup --verify` dumps and restores: the verification
/// compares with what pg_dump saw, not with the source as it is afterwards.
#[tokio::test]
async fn verify_compares_with_what_was_dumped_while_writes_go_on() {
    let server = TestServer::start();
    let mut source = server.connect("nelo").await;
    create_sample(&mut source).await;

    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut writer = server.connect("nelo").await;
    let writing = {
        let stop = stop.clone();
        tokio::spawn(async move {
            let mut written = 0u64;
            while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                sqlx::query("INSERT INTO scene (project_id, title) VALUES (1, 'late')")
                    .execute(&mut writer)
                    .await
                    .unwrap();
                written += 1;
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            written
        })
    };
    let command = server.command(&["db", "backup", "--verify"]);
    let backup = tokio::task::spawn_blocking(move || {
        let mut command = command;
        command.output().unwrap()
    })
    .await
    .unwrap();
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    let written = writing.await.unwrap();

    assert!(
        written > 10,
        "only {written} rows were written during the backup"
    );
    assert_success(&backup, "db backup --verify");
    assert!(stderr(&backup).contains("verified"), "{}", stderr(&backup));
}

#[tokio::test]
async fn damaged_dumps_are_refused() {
    let server = TestServer::start();
    let mut source = server.connect("nelo").await;
    create_sample(&mut source).await;
    assert_success(&server.xtask(&["db", "backup"]), "db backup");
    let dump = server.dumps().remove(0);
    let mut bytes = std::fs::read(&dump).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0xff;
    std::fs::write(&dump, &bytes).unwrap();

    let refused = server.xtask(&[
        "db",
        "restore",
        dump.to_str().unwrap(),
        "--into",
        "from_damaged",
    ]);
    assert!(!refused.status.success());
    let message = stderr(&refused);
    assert!(
        message.contains("is damaged") && message.contains("expects"),
        "{message}"
    );
    assert!(
        !database_exists(&mut source, "from_damaged").await,
        "a refused restore created a database"
    );

    // Without its checksum, the damaged archive still fails cleanly and leaves no database.
    let mut checksum = dump.clone().into_os_string();
    checksum.push(".sha256");
    std::fs::remove_file(checksum).unwrap();
    let failed = server.xtask(&[
        "db",
        "restore",
        dump.to_str().unwrap(),
        "--into",
        "from_damaged",
    ]);
    assert!(!failed.status.success(), "a damaged archive restored");
    assert!(
        stderr(&failed).contains("pg_restore"),
        "{}",
        stderr(&failed)
    );
    assert!(
        !database_exists(&mut source, "from_damaged").await,
        "the failed restore left a database"
    );
}

#[tokio::test]
async fn restore_over_a_database_with_tables_needs_force() {
    let server = TestServer::start();
    let mut source = server.connect("nelo").await;
    create_sample(&mut source).await;
    assert_success(
        &server.xtask(&["db", "backup", "--format", "plain"]),
        "db backup --format plain",
    );
    let dump = server.dumps().remove(0);
    assert!(dump.to_str().unwrap().ends_with("-manual.sql"), "{dump:?}");
    sqlx::raw_sql("DELETE FROM scene WHERE id > 100")
        .execute(&mut source)
        .await
        .unwrap();

    let refused = server.xtask(&["db", "restore", dump.to_str().unwrap(), "--into", "nelo"]);
    assert!(!refused.status.success());
    assert!(stderr(&refused).contains("--force"), "{}", stderr(&refused));
    let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM scene")
        .fetch_one(&mut source)
        .await
        .unwrap();
    assert_eq!(rows, 100, "a refused restore changed the database");
    drop(source);

    let forced = server.xtask(&[
        "db",
        "restore",
        dump.to_str().unwrap(),
        "--into",
        "nelo",
        "--force",
    ]);
    assert_success(&forced, "db restore --force");
    let mut source = server.connect("nelo").await;
    let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM scene")
        .fetch_one(&mut source)
        .await
        .unwrap();
    assert_eq!(rows, 500);
}

/// About 200 MB of poorly compressible text: a plain dump of it takes long enough to be cut.
async fn create_big_table(server: &TestServer) {
    let mut source = server.connect("nelo").await;
    sqlx::raw_sql(
        "CREATE TABLE big AS SELECT i, md5(i::text) || md5((i * 7)::text) || md5((i * 13)::text) AS t
         FROM generate_series(1, 2000000) AS i",
    )
    .execute(&mut source)
    .await
    .unwrap();
}

/// Starts a plain backup and returns once its partial exists and has grown past 1 MiB.
fn start_backup_and_wait_for_partial(server: &TestServer) -> std::process::Child {
    let mut backup = server
        .command(&["db", "backup", "--format", "plain"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let grown = std::fs::read_dir(server.backup_dir())
            .unwrap()
            .any(|entry| {
                let entry = entry.unwrap();
                entry.file_name().to_str().unwrap().ends_with(".partial")
                    && entry.metadata().unwrap().len() > 1024 * 1024
            });
        if grown {
            return backup;
        }
        assert!(
            backup.try_wait().unwrap().is_none(),
            "the backup ended before it could be cut"
        );
        assert!(Instant::now() < deadline, "the partial never grew");
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn file_names(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_str().unwrap().to_string())
        .collect()
}

fn only_partials(files: &[String]) -> bool {
    files
        .iter()
        .all(|name| name.starts_with('.') && name.ends_with(".partial"))
}

#[tokio::test]
async fn a_dump_cut_short_leaves_no_complete_looking_file() {
    let server = TestServer::start();
    create_big_table(&server).await;
    let backup = start_backup_and_wait_for_partial(&server);
    let kill = Command::new("docker")
        .args(["kill", &server.name])
        .output()
        .unwrap();
    assert_success(&kill, "docker kill");
    let output = backup.wait_with_output().unwrap();
    assert!(!output.status.success(), "a backup cut short succeeded");
    assert!(stderr(&output).contains("pg_dump"), "{}", stderr(&output));
    let files = file_names(server.backup_dir());
    assert!(
        only_partials(&files),
        "complete-looking files were left: {files:?}"
    );
}

#[tokio::test]
async fn a_killed_backup_leaves_a_partial_that_the_next_one_sweeps() {
    let server = TestServer::start();
    create_big_table(&server).await;
    let mut backup = start_backup_and_wait_for_partial(&server);
    backup.kill().unwrap();
    backup.wait().unwrap();
    let files = file_names(server.backup_dir());
    assert_eq!(files.len(), 1, "{files:?}");
    assert!(
        only_partials(&files),
        "complete-looking files were left: {files:?}"
    );
    let listing = server.xtask(&["db", "backups"]);
    assert_success(&listing, "db backups");
    assert!(!String::from_utf8_lossy(&listing.stdout).contains("partial"));

    assert_success(&server.xtask(&["db", "backup"]), "the next db backup");
    let files = file_names(server.backup_dir());
    assert_eq!(files.len(), 2, "the partial was not swept: {files:?}");
    assert!(files.iter().all(|name| !name.starts_with('.')), "{files:?}");
}

#[tokio::test]
async fn a_failed_deploy_leaves_a_backup_of_the_state_before_it() {
    let server = TestServer::start();
    let mut source = server.connect("nelo").await;
    create_sample(&mut source).await;
    let before = scenes(&mut source).await;
    let migration = server.migrations_dir.path().join("20250101000000_x");
    std::fs::create_dir(&migration).unwrap();
    std::fs::write(
        migration.join("migration.sql"),
        "DELETE FROM scene WHERE id > 10;\nALTER TABLE scene DROP COLUMN embedding;\nSELECT 1 / 0;\n",
    )
    .unwrap();

    let deploy = server.xtask(&["db", "migrate", "deploy"]);
    assert!(!deploy.status.success(), "a failing migration deployed");
    let dumps = server.dumps();
    assert_eq!(dumps.len(), 1, "no pre-deploy backup: {}", stderr(&deploy));
    let dump = dumps[0].to_str().unwrap();
    assert!(dump.ends_with("-pre-deploy.dump"), "{dump}");

    let restore = server.xtask(&["db", "restore", dump, "--into", "before_deploy"]);
    assert_success(&restore, "db restore of the pre-deploy backup");
    let mut restored = server.connect("before_deploy").await;
    assert_eq!(scenes(&mut restored).await, before);
}

/// The pre-migration backup is complete (written and renamed into place) before the deploy's
/// first migration starts, so its snapshot never holds the deploy's locks up (issue 19).
#[tokio::test]
async fn the_pre_deploy_backup_is_complete_before_the_migration_starts() {
    let server = TestServer::start();
    let mut source = server.connect("nelo").await;
    create_sample(&mut source).await;
    // The sample is the baseline; the migration after it alters its table.
    let baseline = server.migrations_dir.path().join("20250101000000_baseline");
    std::fs::create_dir(&baseline).unwrap();
    std::fs::write(baseline.join("migration.sql"), "-- the sample\n").unwrap();
    assert_success(
        &server.xtask(&[
            "db",
            "migrate",
            "resolve",
            "--applied",
            "20250101000000_baseline",
        ]),
        "db migrate resolve --applied",
    );
    let migration = server.migrations_dir.path().join("20250102000000_summary");
    std::fs::create_dir(&migration).unwrap();
    std::fs::write(
        migration.join("migration.sql"),
        "ALTER TABLE scene ADD COLUMN summary text;\n",
    )
    .unwrap();
    let deploy = server.xtask(&["db", "migrate", "deploy"]);
    assert_success(&deploy, "db migrate deploy");
    let dumps = server.dumps();
    assert_eq!(dumps.len(), 1, "no pre-deploy backup: {}", stderr(&deploy));
    let written: chrono::DateTime<chrono::Utc> = std::fs::metadata(&dumps[0])
        .and_then(|metadata| metadata.modified())
        .unwrap()
        .into();
    // The server's clock is the host's (a container shares its kernel).
    let started: chrono::DateTime<chrono::Utc> = sqlx::query_scalar(
        "SELECT started_at FROM _prisma_migrations WHERE migration_name = '20250102000000_summary'",
    )
    .fetch_one(&mut source)
    .await
    .unwrap();
    assert!(
        written <= started,
        "the backup was last written at {written}, after the migration started at {started}"
    );
}

/// Backups started together (by hand, or by two migrators before their changes) all succeed,
/// each under its own name with its own checksum; none replaces another.
#[tokio::test]
async fn backups_started_together_all_succeed_under_their_own_names() {
    let server = TestServer::start();
    let mut source = server.connect("nelo").await;
    create_sample(&mut source).await;
    let children: Vec<std::process::Child> = [
        ["db", "backup", "--reason", "manual"],
        ["db", "backup", "--reason", "manual"],
        ["db", "backup", "--reason", "pre-deploy"],
        ["db", "backup", "--reason", "pre-deploy"],
    ]
    .iter()
    .map(|args| {
        server
            .command(args)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    })
    .collect();
    for child in children {
        let output = child.wait_with_output().unwrap();
        assert_success(&output, "a concurrent db backup");
    }
    let dumps = server.dumps();
    assert_eq!(dumps.len(), 4, "{dumps:?}");
    for dump in &dumps {
        let file_name = dump.file_name().unwrap().to_str().unwrap();
        let check = Command::new("sha256sum")
            .arg("-c")
            .arg(format!("{file_name}.sha256"))
            .current_dir(server.backup_dir())
            .output()
            .unwrap();
        assert_success(&check, "sha256sum -c");
    }
    let leftovers = file_names(server.backup_dir());
    assert_eq!(leftovers.len(), 8, "{leftovers:?}");
}
