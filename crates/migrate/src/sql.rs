//! Writing SQL text safely: quoted identifiers and literals, and the one definition of a
//! system schema that every catalog query of the workspace filters with.
//!
//! Values that can be bound as parameters should be; these are for what cannot be (names
//! in DDL, statements sent as a simple query through a transaction-mode pooler).

/// A double-quoted SQL identifier: `we"ird` becomes `"we""ird"`. The case is kept, as
/// PostgreSQL keeps it for quoted names.
pub fn quote_identifier(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// A SQL string literal that means `text` whatever `standard_conforming_strings` a migration
/// left behind: `'it''s'`, or an `E''` string (backslashes doubled) when `text` holds a
/// backslash.
pub fn quote_literal(text: &str) -> String {
    let quoted = text.replace('\'', "''");
    if quoted.contains('\\') {
        format!("E'{}'", quoted.replace('\\', "\\\\"))
    } else {
        format!("'{quoted}'")
    }
}

/// A boolean SQL expression, true when the schema name `column` (`n.nspname`, or any text
/// expression) is a user schema: not `pg_catalog`, not `information_schema`, not TOAST
/// storage (`pg_toast`, `pg_toast_temp_N`) and not a session's temporary schema
/// (`pg_temp_N`). PostgreSQL reserves the `pg_` prefix for its own schemas.
///
/// The prefixes are tested with `starts_with` rather than `LIKE`, so that no `_` wildcard
/// needs escaping and the meaning does not depend on `standard_conforming_strings`.
pub fn user_schema(column: &str) -> String {
    format!(
        "({column} NOT IN ('pg_catalog', 'information_schema') \
         AND NOT starts_with({column}, 'pg_toast') AND NOT starts_with({column}, 'pg_temp_'))"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_identifiers_and_literals() {
        assert_eq!(quote_identifier("public"), "\"public\"");
        assert_eq!(quote_identifier("we\"ird"), "\"we\"\"ird\"");
        assert_eq!(quote_literal("it's"), "'it''s'");
        assert_eq!(quote_literal(r"a\'b"), r"E'a\\''b'");
    }

    #[test]
    fn the_user_schema_filter_names_its_column_everywhere() {
        let filter = user_schema("n.nspname");
        assert_eq!(filter.matches("n.nspname").count(), 3, "{filter}");
        assert!(!filter.contains("LIKE"), "{filter}");
    }
}
