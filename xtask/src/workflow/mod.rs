//! What several commands do, below the commands: each a script over the adapters, shared so
//! that no command imports another.

pub mod backup;
pub mod database;
pub mod deploy;
pub mod pg_dump;
pub mod reset;
pub mod restore;
pub mod schema;
