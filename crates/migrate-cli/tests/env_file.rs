//! A `.env` that exists but does not parse stops nelo-migrate before it does anything,
//! naming the file and the line, without quoting it (the line may hold a password).

mod common;

use common::binary;

const BROKEN: &str = "# local settings\nNELO_LOCK_TIMEOUT=\"10\nDATABASE_URL=postgresql://nelo:hunter2@localhost:1/nelo\n";

#[test]
fn a_broken_env_file_names_its_line_and_nothing_is_done() {
    let work = tempfile::tempdir().unwrap();
    std::fs::write(work.path().join(".env"), BROKEN).unwrap();
    let migrations = work.path().join("migrations");
    for (args, code) in [
        (&["create", "--name", "should_not_exist"][..], 1),
        (&["status"][..], 2),
    ] {
        let output = binary()
            .args(args)
            .arg("--migrations")
            .arg(&migrations)
            .current_dir(work.path())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(code), "{args:?}: {stderr}");
        let named = format!("`{}` line 2", work.path().join(".env").display());
        assert!(stderr.contains(&named), "{stderr}");
        assert!(!stderr.contains("hunter2"), "{stderr}");
        assert!(!migrations.exists(), "something was created: {stderr}");
    }
}

#[test]
fn an_env_file_in_a_parent_folder_is_found() {
    let work = tempfile::tempdir().unwrap();
    std::fs::write(work.path().join(".env"), BROKEN).unwrap();
    let below = work.path().join("a/b");
    std::fs::create_dir_all(&below).unwrap();
    let output = binary()
        .args(["create", "--name", "x", "--migrations"])
        .arg(below.join("migrations"))
        .current_dir(&below)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("line 2"), "{stderr}");
}
