//! The pure side of backups: file names, `pg_dump` argv and compression, the choice between
//! the host's `pg_dump` and the container's, format detection, listing and pruning. The
//! commands that act on these decisions live in `db/backup.rs`, `db/restore.rs` and
//! `db/backups.rs`; the atomic file writer in [`file`].

pub mod check;
pub mod compare;
pub mod lines;
pub mod name;
pub mod programs;
pub mod roles;
pub mod script;
