//! Deploying through a transaction-mode connection pooler (PgBouncer with
//! `pool_mode = transaction`), which Prisma's URL parameter `pgbouncer=true` announces.
//!
//! Through such a pooler, each transaction may run on another server connection, so a
//! session-level advisory lock (Prisma's, and ours on a direct connection) would be held by
//! one server connection while the migrations run on others, and session settings such as the
//! `?schema=` search path cannot be given at connection start. So, with `pgbouncer=true`:
//! - a migration that runs in one transaction takes the migration lock as a transaction-level
//!   lock (`pg_advisory_xact_lock`, same key, so it also excludes Prisma and direct deploys),
//!   then checks in the same transaction that no other deploy recorded it meanwhile;
//! - `search_path` is set with `SET LOCAL` in each transaction;
//! - a migration that runs outside one transaction, and `reset`, cannot be kept under the
//!   lock: they are refused before anything runs, with the fix (a direct connection).

/// Whether `database_url` says it goes through a transaction-mode pooler (`pgbouncer=true`,
/// Prisma's parameter).
pub fn is_transaction_pooler(database_url: &str) -> bool {
    crate::DatabaseUrl::parse(database_url).is_ok_and(|url| url.pgbouncer())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pgbouncer_parameter() {
        assert!(is_transaction_pooler(
            "postgresql://u:p@h:6432/db?pgbouncer=true"
        ));
        assert!(is_transaction_pooler(
            "postgresql://u:p@h/db?schema=app&pgbouncer=true"
        ));
        assert!(!is_transaction_pooler(
            "postgresql://u:p@h/db?pgbouncer=false"
        ));
        assert!(!is_transaction_pooler("postgresql://u:p@h/db"));
        assert!(!is_transaction_pooler("not a url"));
    }
}
