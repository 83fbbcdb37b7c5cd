//! A `.env` that exists but does not parse stops xtask before it does anything, naming the
//! file and the line, without quoting it (the line may hold a password).

use std::process::Command;

#[test]
fn a_broken_env_file_names_its_line_and_nothing_is_done() {
    let work = tempfile::tempdir().unwrap();
    let env_file = work.path().join("broken.env");
    std::fs::write(
        &env_file,
        "# local settings\nNELO_LOCK_TIMEOUT=\"10\nDATABASE_URL=postgresql://nelo:hunter2@localhost:1/nelo\n",
    )
    .unwrap();
    let migrations = work.path().join("migrations");
    let output = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(["db", "migrate", "create", "--name", "should_not_exist"])
        .current_dir(work.path())
        .env("NELO_ENV_FILE", &env_file)
        .env("NELO_MIGRATIONS_DIR", &migrations)
        .env_remove("DATABASE_URL")
        .env_remove("TEST_DATABASE_URL")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "{stderr}");
    assert!(
        stderr.contains(&format!("`{}` line 2", env_file.display())),
        "{stderr}"
    );
    assert!(stderr.contains("unclosed quote"), "{stderr}");
    assert!(!stderr.contains("hunter2"), "{stderr}");
    assert!(
        !migrations.exists(),
        "a migration folder was created: {stderr}"
    );
}

#[test]
fn a_missing_env_file_is_fine() {
    let work = tempfile::tempdir().unwrap();
    let migrations = work.path().join("migrations");
    let output = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(["db", "migrate", "create", "--name", "first"])
        .current_dir(work.path())
        .env("NELO_ENV_FILE", work.path().join("absent.env"))
        .env("NELO_MIGRATIONS_DIR", &migrations)
        .env_remove("DATABASE_URL")
        .env_remove("TEST_DATABASE_URL")
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(
        std::fs::read_dir(&migrations).unwrap().count(),
        2,
        "folder and lock file"
    );
}
