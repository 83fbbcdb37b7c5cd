//! `db restore` never loses data: a forced restore checks the whole file before touching
//! anything, backs the target up, restores aside and swaps by renaming; killed part way, the
//! target is as it was and a rerun works. Each test has its own container and volume.

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::{Sandbox, execute, query_one};

/// The complete dumps in the sandbox's backup folder, oldest first.
fn dumps(sandbox: &Sandbox) -> Vec<PathBuf> {
    let mut dumps: Vec<PathBuf> = std::fs::read_dir(sandbox.backups.path())
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

/// A copy of `dump` cut to `keep` of its bytes, without a `.sha256` beside it.
fn truncated_copy(sandbox: &Sandbox, dump: &Path, name: &str, keep: f64) -> PathBuf {
    let bytes = std::fs::read(dump).unwrap();
    let cut = sandbox.workdir.path().join(name);
    std::fs::write(&cut, &bytes[..(bytes.len() as f64 * keep) as usize]).unwrap();
    cut
}

fn working_databases(sandbox: &Sandbox) -> i64 {
    query_one(
        &server_url(sandbox),
        "SELECT count(*) FROM pg_database WHERE datname LIKE '%\\_nelo\\_re%'",
    )
}

fn server_url(sandbox: &Sandbox) -> String {
    sandbox.database_url().replace("/nelo_it", "/postgres")
}

fn kept_rows(sandbox: &Sandbox) -> i64 {
    query_one(&sandbox.database_url(), "SELECT count(*) FROM it_keep")
}

#[test]
fn a_forced_restore_of_a_file_that_cannot_restore_whole_changes_nothing() {
    let sandbox = Sandbox::new();
    sandbox.run(&["db", "up", "--no-backup"]).assert_success();
    execute(
        &sandbox.database_url(),
        "CREATE TABLE it_keep (id int PRIMARY KEY, note text);
         INSERT INTO it_keep SELECT i, md5(i::text) FROM generate_series(1, 5000) AS i",
    );
    sandbox.run(&["db", "backup"]).assert_success();
    sandbox
        .run(&["db", "backup", "--format", "plain"])
        .assert_success();
    let (custom, plain) = {
        let all = dumps(&sandbox);
        let custom = all.iter().find(|p| p.extension().unwrap() == "dump");
        let plain = all.iter().find(|p| p.extension().unwrap() == "sql");
        (custom.unwrap().clone(), plain.unwrap().clone())
    };
    let readme = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../README.md");
    let bad_files = [
        // The table of contents is cut: pg_restore cannot read the archive.
        truncated_copy(&sandbox, &custom, "toc-cut.dump", 0.02),
        // The data is cut: the archive reads, the restore fails part way.
        truncated_copy(&sandbox, &custom, "data-cut.dump", 0.6),
        truncated_copy(&sandbox, &plain, "cut.sql", 0.6),
        readme,
    ];
    for file in &bad_files {
        let run = sandbox.run(&[
            "db",
            "restore",
            file.to_str().unwrap(),
            "--into",
            "nelo_it",
            "--force",
        ]);
        run.assert_failure_mentions("nothing was changed");
        assert_eq!(kept_rows(&sandbox), 5000, "{file:?} changed the target");
        assert_eq!(working_databases(&sandbox), 0, "{file:?} left a database");
    }

    // The whole file restores: the target is backed up first, then replaced.
    execute(&sandbox.database_url(), "DELETE FROM it_keep WHERE id > 10");
    let pre_restore = || -> Vec<PathBuf> {
        dumps(&sandbox)
            .into_iter()
            .filter(|path| path.to_str().unwrap().contains("pre-restore"))
            .collect()
    };
    let before = pre_restore();
    let run = sandbox.run(&[
        "db",
        "restore",
        custom.to_str().unwrap(),
        "--into",
        "nelo_it",
        "--force",
    ]);
    run.assert_success();
    assert_eq!(kept_rows(&sandbox), 5000);
    assert_eq!(working_databases(&sandbox), 0);
    let new: Vec<PathBuf> = pre_restore()
        .into_iter()
        .filter(|path| !before.contains(path))
        .collect();
    assert_eq!(
        new.len(),
        1,
        "no backup of the replaced target: {}",
        run.stderr
    );
    // The backup holds the target as it was before the restore: 10 rows.
    let back = sandbox.run(&[
        "db",
        "restore",
        new[0].to_str().unwrap(),
        "--into",
        "it_before",
    ]);
    back.assert_success();
    let url = sandbox.database_url().replace("/nelo_it", "/it_before");
    assert_eq!(query_one::<i64>(&url, "SELECT count(*) FROM it_keep"), 10);
}

#[test]
fn a_restore_killed_part_way_leaves_the_target_as_it_was_and_a_rerun_works() {
    let sandbox = Sandbox::new();
    sandbox.run(&["db", "up", "--no-backup"]).assert_success();
    execute(
        &sandbox.database_url(),
        "CREATE TABLE it_keep (id int PRIMARY KEY, note text);
         INSERT INTO it_keep SELECT i, md5(i::text) || md5((i * 7)::text)
         FROM generate_series(1, 1000000) AS i",
    );
    sandbox.run(&["db", "backup"]).assert_success();
    let dump = dumps(&sandbox).remove(0);
    execute(&sandbox.database_url(), "DELETE FROM it_keep WHERE id > 3");

    let mut restore = sandbox
        .command(&[
            "db",
            "restore",
            dump.to_str().unwrap(),
            "--into",
            "nelo_it",
            "--force",
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Kill it once it restores into its scratch database.
    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        let scratch_rows: i64 = query_one(
            &server_url(&sandbox),
            "SELECT count(*) FROM pg_stat_activity WHERE datname = 'nelo_it_nelo_restoring'",
        );
        if scratch_rows > 0 {
            break;
        }
        assert!(
            restore.try_wait().unwrap().is_none(),
            "the restore ended before it could be killed"
        );
        assert!(Instant::now() < deadline, "the restore never began");
        std::thread::sleep(Duration::from_millis(20));
    }
    restore.kill().unwrap();
    restore.wait().unwrap();
    assert_eq!(
        kept_rows(&sandbox),
        3,
        "the killed restore changed the target"
    );

    let rerun = sandbox.run(&[
        "db",
        "restore",
        dump.to_str().unwrap(),
        "--into",
        "nelo_it",
        "--force",
    ]);
    rerun.assert_success();
    assert_eq!(kept_rows(&sandbox), 1_000_000);
    assert_eq!(working_databases(&sandbox), 0);
}

/// A dump from another environment: its tables owned by, and granted to, roles that do not
/// exist on this server.
#[test]
fn a_dump_naming_roles_missing_here_restores_whole_and_says_what_was_left_out() {
    let sandbox = Sandbox::new();
    sandbox.run(&["db", "up", "--no-backup"]).assert_success();
    let server = server_url(&sandbox);
    let prod = sandbox.database_url().replace("/nelo_it", "/it_prod");
    execute(&server, "CREATE ROLE it_prod_owner");
    execute(&server, "CREATE ROLE \"It Readonly\"");
    execute(&server, "CREATE DATABASE it_prod");
    execute(
        &prod,
        "CREATE TABLE it_scene (id int PRIMARY KEY, title text);
         INSERT INTO it_scene SELECT i, 'scene ' || i FROM generate_series(1, 100) AS i;
         CREATE TABLE it_note (id int PRIMARY KEY, scene_id int REFERENCES it_scene (id));
         INSERT INTO it_note SELECT i, i FROM generate_series(1, 40) AS i;
         CREATE FUNCTION it_words(text) RETURNS int LANGUAGE sql AS $$ SELECT 1 $$;
         ALTER TABLE it_scene OWNER TO it_prod_owner;
         ALTER TABLE it_note OWNER TO it_prod_owner;
         ALTER FUNCTION it_words(text) OWNER TO it_prod_owner;
         GRANT SELECT ON it_scene, it_note TO \"It Readonly\";
         ALTER DEFAULT PRIVILEGES FOR ROLE it_prod_owner GRANT SELECT ON TABLES TO \"It Readonly\"",
    );
    for format in ["custom", "plain"] {
        sandbox
            .run(&["db", "backup", "--database", "it_prod", "--format", format])
            .assert_success();
    }
    execute(&server, "DROP DATABASE it_prod");
    execute(&server, "DROP ROLE it_prod_owner, \"It Readonly\"");

    for (index, dump) in dumps(&sandbox).iter().enumerate() {
        let file = dump.to_str().unwrap();
        let kept = sandbox.run(&["db", "restore", file, "--into", "it_kept", "--keep-roles"]);
        kept.assert_failure_mentions("does not exist");
        assert_eq!(working_databases(&sandbox), 0, "{}", kept.stderr);

        let into = format!("it_restored_{index}");
        let run = sandbox.run(&["db", "restore", file, "--into", &into]);
        run.assert_success();
        for expected in [
            "role `it_prod_owner`: ownership of 3 objects (owned by `nelo` instead)",
            "role `It Readonly`",
            "--keep-roles",
        ] {
            assert!(run.stderr.contains(expected), "{file}: {}", run.stderr);
        }
        let url = sandbox
            .database_url()
            .replace("/nelo_it", &format!("/{into}"));
        let rows: i64 = query_one(
            &url,
            "SELECT (SELECT count(*) FROM it_scene) + (SELECT count(*) FROM it_note)",
        );
        assert_eq!(rows, 140, "{file}");
        let owner: String = query_one(
            &url,
            "SELECT tableowner::text FROM pg_tables WHERE tablename = 'it_scene'",
        );
        assert_eq!(owner, "nelo");
        let words: i32 = query_one(&url, "SELECT it_words('a b')");
        assert_eq!(words, 1);
    }
}

/// The plain dump of `nelo_it` in the sandbox's backup folder.
fn plain_dump(sandbox: &Sandbox) -> PathBuf {
    dumps(sandbox)
        .into_iter()
        .find(|path| path.extension().unwrap() == "sql")
        .unwrap()
}

/// A copy of the plain `dump` with `lines` put in after pg_dump's `\restrict` line.
fn with_lines(sandbox: &Sandbox, dump: &Path, name: &str, lines: &str) -> PathBuf {
    let text = std::fs::read_to_string(dump).unwrap();
    let at = text.find("\\restrict ").unwrap();
    let at = at + text[at..].find('\n').unwrap() + 1;
    let path = sandbox.workdir.path().join(name);
    std::fs::write(&path, format!("{}{lines}{}", &text[..at], &text[at..])).unwrap();
    path
}

fn database_exists(sandbox: &Sandbox, name: &str) -> bool {
    let sql: &'static str = match name {
        "it_copy" => "SELECT count(*) FROM pg_database WHERE datname = 'it_copy'",
        "nelo_it_nelo_replaced" => {
            "SELECT count(*) FROM pg_database WHERE datname = 'nelo_it_nelo_replaced'"
        }
        _ => unreachable!("{name}"),
    };
    query_one::<i64>(&server_url(sandbox), sql) == 1
}

/// What `pg_dump --create` writes, a hand-written `\connect`, a shell command: a plain dump
/// acts only on the database it is restored into, or is refused before anything is touched.
#[test]
fn a_plain_dump_acting_on_another_database_is_refused_and_changes_nothing() {
    let sandbox = Sandbox::new();
    sandbox.run(&["db", "up", "--no-backup"]).assert_success();
    execute(
        &sandbox.database_url(),
        "CREATE TABLE it_keep (id int PRIMARY KEY, note text);
         INSERT INTO it_keep SELECT i, md5(i::text) FROM generate_series(1, 5000) AS i;
         CREATE TABLE it_text (note text);
         INSERT INTO it_text VALUES (E'\\\\connect nelo_it'), (E'\\\\! touch /tmp/it_pwned'),
           ('\\.x')",
    );
    sandbox
        .run(&["db", "backup", "--format", "plain"])
        .assert_success();
    let dump = plain_dump(&sandbox);
    let pwned = "SELECT pg_stat_file('/tmp/it_pwned', true) IS NOT NULL";
    let cases = [
        (
            "created.sql",
            "DROP DATABASE IF EXISTS nelo_it;\nCREATE DATABASE nelo_it WITH TEMPLATE = \
             template0 ENCODING = 'UTF8';\n\\connect nelo_it\n",
            "--create",
        ),
        (
            "connect.sql",
            "\\connect nelo_it\nDROP TABLE it_keep;\n",
            "`\\connect nelo_it`",
        ),
        (
            "shell.sql",
            "\\! touch /tmp/it_pwned\n",
            "`\\! touch /tmp/it_pwned`",
        ),
        (
            "inline.sql",
            "SELECT 1; \\! touch /tmp/it_pwned\n",
            "meta-command",
        ),
        ("role.sql", "ALTER ROLE nelo NOSUPERUSER;\n", "roles"),
    ];
    for (name, lines, expected) in cases {
        let file = with_lines(&sandbox, &dump, name, lines);
        let run = sandbox.run(&["db", "restore", file.to_str().unwrap(), "--into", "it_copy"]);
        run.assert_failure_mentions(expected);
        run.assert_failure_mentions("nothing was changed");
        // Where: the file and the line.
        assert!(
            run.stderr
                .contains(&format!("{name}:{}", text_line_of(&file, lines))),
            "{name}: {}",
            run.stderr
        );
        assert_eq!(kept_rows(&sandbox), 5000, "{name} changed `nelo_it`");
        assert!(!database_exists(&sandbox, "it_copy"), "{name}");
        assert_eq!(working_databases(&sandbox), 0, "{name}");
        assert!(!query_one::<bool>(&server_url(&sandbox), pwned), "{name}");
    }

    // Past the check (psql reads `'\''` as one string once standard_conforming_strings is
    // off), psql itself refuses the meta-command: the stream is restricted.
    let file = with_lines(
        &sandbox,
        &dump,
        "lexed.sql",
        "SET standard_conforming_strings = off;\nSELECT '\\'' \\! touch /tmp/it_pwned '\n;\n",
    );
    let run = sandbox.run(&["db", "restore", file.to_str().unwrap(), "--into", "it_copy"]);
    run.assert_failure_mentions("backslash commands are restricted");
    run.assert_failure_mentions("nothing was changed");
    assert!(!query_one::<bool>(&server_url(&sandbox), pwned));
    assert!(!database_exists(&sandbox, "it_copy"));
    assert_eq!(working_databases(&sandbox), 0);

    // pg_dump's own script, with backslashes in its data, restores whole.
    let run = sandbox.run(&["db", "restore", dump.to_str().unwrap(), "--into", "it_copy"]);
    run.assert_success();
    let copy = sandbox.database_url().replace("/nelo_it", "/it_copy");
    assert_eq!(
        query_one::<i64>(&copy, "SELECT count(*) FROM it_keep"),
        5000
    );
    assert_eq!(
        query_one::<String>(
            &copy,
            "SELECT string_agg(note, '|' ORDER BY note COLLATE \"C\") FROM it_text"
        ),
        "\\! touch /tmp/it_pwned|\\.x|\\connect nelo_it"
    );
    assert_eq!(kept_rows(&sandbox), 5000);
}

/// The line of `file` where `lines` begins.
fn text_line_of(file: &Path, lines: &str) -> usize {
    let text = std::fs::read_to_string(file).unwrap();
    text[..text.find(lines).unwrap()].lines().count() + 1
}

/// The server's own databases are never a target, and once the restored database has taken
/// the target's name, an old target that cannot be dropped is kept aside, never swapped back.
#[test]
fn system_databases_are_refused_and_an_old_target_that_cannot_be_dropped_is_kept_aside() {
    let sandbox = Sandbox::new();
    sandbox.run(&["db", "up", "--no-backup"]).assert_success();
    execute(
        &sandbox.database_url(),
        "CREATE TABLE it_keep (id int PRIMARY KEY, note text);
         INSERT INTO it_keep SELECT i, md5(i::text) FROM generate_series(1, 5000) AS i",
    );
    sandbox.run(&["db", "backup"]).assert_success();
    let dump = dumps(&sandbox).remove(0);
    let dump = dump.to_str().unwrap();
    let server = server_url(&sandbox);
    execute(&server, "CREATE DATABASE it_template IS_TEMPLATE true");
    let system = "SELECT count(*) FROM pg_database WHERE datistemplate \
                  AND datname IN ('template0', 'template1', 'it_template')";
    for (target, expected) in [
        ("template1", "server's own databases"),
        ("template0", "server's own databases"),
        ("postgres", "server's own databases"),
        ("it_template", "template database"),
    ] {
        let run = sandbox.run(&["db", "restore", dump, "--into", target, "--force"]);
        run.assert_failure_mentions(expected);
        run.assert_failure_mentions("nothing was changed");
        assert_eq!(query_one::<i64>(&server, system), 3, "{target}");
        assert_eq!(working_databases(&sandbox), 0, "{target}");
    }
    // template1 still clones nothing of Nelo's.
    execute(&server, "CREATE DATABASE it_fresh");
    let fresh = sandbox.database_url().replace("/nelo_it", "/it_fresh");
    let tables: i64 = query_one(
        &fresh,
        "SELECT count(*) FROM pg_tables WHERE tablename = 'it_keep'",
    );
    assert_eq!(tables, 0);

    // A subscription keeps the old `nelo_it` from being dropped (not from being renamed).
    execute(&sandbox.database_url(), "DELETE FROM it_keep WHERE id > 10");
    execute(
        &sandbox.database_url(),
        "CREATE SUBSCRIPTION it_sub CONNECTION 'dbname=it_nowhere' PUBLICATION it_pub \
         WITH (connect = false)",
    );
    let run = sandbox.run(&["db", "restore", dump, "--into", "nelo_it", "--force"]);
    run.assert_success();
    assert!(
        run.stderr.contains("kept as `nelo_it_nelo_replaced`"),
        "{}",
        run.stderr
    );
    assert_eq!(kept_rows(&sandbox), 5000, "the restore is not in place");
    assert!(database_exists(&sandbox, "nelo_it_nelo_replaced"));
    let old = sandbox
        .database_url()
        .replace("/nelo_it", "/nelo_it_nelo_replaced");
    assert_eq!(query_one::<i64>(&old, "SELECT count(*) FROM it_keep"), 10);
}

/// PostgreSQL cuts names at 63 bytes: a target whose scratch database would not fit is
/// refused before anything, and the longest that fits restores under its own name.
#[test]
fn a_target_name_too_long_for_its_scratch_database_is_refused_before_anything() {
    let sandbox = Sandbox::new();
    sandbox.run(&["db", "up", "--no-backup"]).assert_success();
    execute(
        &sandbox.database_url(),
        "CREATE TABLE it_keep (id int PRIMARY KEY);
         INSERT INTO it_keep SELECT generate_series(1, 50)",
    );
    sandbox.run(&["db", "backup"]).assert_success();
    let dump = dumps(&sandbox).remove(0);
    let dump = dump.to_str().unwrap();
    let long = format!("it_long_{}", "x".repeat(62));
    for force in [false, true] {
        let mut args = vec!["db", "restore", dump, "--into", &long];
        if force {
            args.push("--force");
        }
        let run = sandbox.run(&args);
        run.assert_failure_mentions("70 bytes long");
        run.assert_failure_mentions("at most 48");
        let left: i64 = query_one(
            &server_url(&sandbox),
            "SELECT count(*) FROM pg_database WHERE datname LIKE 'it\\_long%'",
        );
        assert_eq!(left, 0, "force: {force}");
    }
    let longest = format!("it_long_{}", "x".repeat(40));
    assert_eq!(longest.len(), 48);
    let run = sandbox.run(&["db", "restore", dump, "--into", &longest]);
    run.assert_success();
    assert_eq!(run.stdout.trim(), longest);
    let named: String = query_one(
        &server_url(&sandbox),
        "SELECT datname::text FROM pg_database WHERE datname LIKE 'it\\_long%'",
    );
    assert_eq!(named, longest);
}
