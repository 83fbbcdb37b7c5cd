//! A `.env` that exists but does not parse stops nelo-seed before it connects, naming the
//! file and the line, without quoting it (the line may hold a password).

use std::process::Command;

#[test]
fn a_broken_env_file_names_its_line_before_anything_is_done() {
    let work = tempfile::tempdir().unwrap();
    std::fs::write(
        work.path().join(".env"),
        "NELO_X=1\n\nNELO_LOCK_TIMEOUT='10\nDATABASE_URL=postgresql://nelo:hunter2@localhost:1/nelo\n",
    )
    .unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_nelo-seed"))
        .current_dir(work.path())
        .env("DATABASE_URL", "postgresql://nelo@127.0.0.1:1/nelo")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "{stderr}");
    assert!(stderr.contains("line 3"), "{stderr}");
    assert!(!stderr.contains("hunter2"), "{stderr}");
    assert!(!stderr.contains("connect"), "it tried to connect: {stderr}");
}
