//! The only module that writes SQL for the history table and the migration lock. Both are
//! Prisma Migrate's, so Prisma and nelo-migrate can take turns on one database.

mod history;
mod lock;
mod script;

use sqlx::Executor;
use sqlx::postgres::PgConnection;

use crate::Error;

pub use history::*;
pub use lock::*;
pub use script::*;

/// Sends `sql` (any number of statements) as one simple query.
///
/// Through `Executor::execute`, whose future is `Send` for every lifetime, unlike
/// `RawSql::execute`'s (which makes callers' futures impossible to `tokio::spawn`).
pub async fn run_script(conn: &mut PgConnection, sql: &str) -> Result<(), sqlx::Error> {
    (&mut *conn).execute(sqlx::raw_sql(sql)).await.map(drop)
}

/// A double-quoted SQL identifier.
pub fn quote_identifier(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// A single-quoted SQL literal (standard_conforming_strings is on in every supported server).
fn quote_literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

fn database_error(action: &'static str) -> impl FnOnce(sqlx::Error) -> Error {
    move |source| Error::Database { action, source }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_identifiers_and_literals() {
        assert_eq!(quote_identifier("public"), "\"public\"");
        assert_eq!(quote_identifier("we\"ird"), "\"we\"\"ird\"");
        assert_eq!(quote_literal("it's"), "'it''s'");
    }
}
