//! The pure side of dumps and restores: backup file names and pruning, the client programs'
//! argv, compression and formats, the checks a file passes before a restore, the comparison
//! of `--verify`, and the streaming filters of plain scripts (roles, meta-commands). What
//! acts on these decisions lives below the commands in [`crate::workflow`] and
//! [`crate::dump_file`] (the atomic writer), and in the commands `db backup`, `db restore`
//! and `db backups`.

pub mod check;
pub mod compare;
pub mod lines;
pub mod name;
pub mod programs;
pub mod roles;
pub mod script;
