//! The SQL text of single statements and names.

use super::super::model::{Column, CommentTarget, FunctionName, Name, Table};
use super::Planner;
use crate::sql::quote_identifier as quote;

/// A schema-qualified name in SQL: unqualified in the target schema, as Prisma writes it.
pub(super) fn qualified(name: &Name, search_path: &str) -> String {
    if name.schema == search_path {
        quote(&name.name)
    } else {
        format!("{}.{}", quote(&name.schema), quote(&name.name))
    }
}

pub(super) fn literal(text: &str) -> String {
    let quoted = text.replace('\'', "''");
    if quoted.contains('\\') {
        format!("E'{}'", quoted.replace('\\', "\\\\"))
    } else {
        format!("'{quoted}'")
    }
}

/// Whether `data_type` (as `format_type` renders it) is the type `name`.
pub(super) fn is_type(data_type: &str, name: &Name, search_path: &str) -> bool {
    let bare = |part: &str| {
        let simple = part
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        if simple {
            vec![part.to_string(), quote(part)]
        } else {
            vec![quote(part)]
        }
    };
    let names = bare(&name.name);
    let mut forms = Vec::new();
    for type_name in &names {
        if name.schema == search_path {
            forms.push(type_name.clone());
        }
        for schema in bare(&name.schema) {
            forms.push(format!("{schema}.{type_name}"));
        }
    }
    forms.iter().any(|form| form == data_type)
}

/// Whether an expression as the server deparses it (`(mood <> 'sad'::mood)`) casts to the
/// type `name`: it then depends on that type.
pub(super) fn mentions_type(expression: &str, name: &Name, search_path: &str) -> bool {
    let identifier = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '"' || c == '.';
    expression.match_indices("::").any(|(at, _)| {
        let rest = &expression[at + 2..];
        let end = rest.find(|c: char| !identifier(c)).unwrap_or(rest.len());
        is_type(rest[..end].trim_end_matches("[]"), name, search_path)
    })
}

/// Whether a function's signature (`oidvectortypes` arguments, `pg_get_function_result`)
/// takes or returns the type `name`.
pub(super) fn signature_uses(
    arguments: &str,
    result: &str,
    name: &Name,
    search_path: &str,
) -> bool {
    let result = result.strip_prefix("SETOF ").unwrap_or(result);
    arguments
        .split(", ")
        .chain([result])
        .any(|type_name| is_type(type_name.trim().trim_end_matches("[]"), name, search_path))
}

pub(super) fn column_definition(column: &Column) -> String {
    let mut sql = format!("{} {}", quote(&column.name), column.data_type);
    if let Some(collation) = &column.collation {
        sql += &format!(" COLLATE {collation}");
    }
    if let Some(expression) = &column.generated {
        sql += &format!(" GENERATED ALWAYS AS ({expression}) STORED");
    }
    if let Some(kind) = column.identity {
        sql += &format!(
            " GENERATED {} AS IDENTITY{}",
            identity_kind(kind),
            identity_options(column)
        );
    }
    if column.not_null {
        sql += " NOT NULL";
    }
    if let Some(default) = &column.default {
        sql += &format!(" DEFAULT {default}");
    }
    sql
}

pub(super) fn create_table(name: &Name, table: &Table, search_path: &str) -> String {
    let mut body = table
        .columns
        .iter()
        .map(|column| format!("    {}", column_definition(column)))
        .collect::<Vec<_>>()
        .join(",\n");
    let inline: Vec<String> = table
        .constraints
        .iter()
        .filter(|(_, constraint)| constraint.kind != 'f' && constraint.validated)
        .map(|(constraint_name, constraint)| {
            format!(
                "    CONSTRAINT {} {}",
                quote(constraint_name),
                constraint.definition
            )
        })
        .collect();
    if !inline.is_empty() {
        if !body.is_empty() {
            body.push_str(",\n\n");
        }
        body.push_str(&inline.join(",\n"));
    }
    let with = if table.storage_parameters.is_empty() {
        String::new()
    } else {
        format!(" WITH ({})", table.storage_parameters.join(", "))
    };
    format!(
        "CREATE {}TABLE {} (\n{}\n){with}",
        if table.unlogged { "UNLOGGED " } else { "" },
        qualified(name, search_path),
        body
    )
}

/// The `ALTER TABLE` clauses from one set of storage parameters (`name=value`, as
/// `reloptions` holds them) to another: `RESET (...)` for those that go, `SET (...)` for
/// those that are new or changed.
pub(super) fn storage_parameter_changes(before: &[String], after: &[String]) -> Vec<String> {
    let key = |option: &String| {
        option
            .split_once('=')
            .map_or(option.clone(), |(k, _)| k.to_string())
    };
    let after_keys: Vec<String> = after.iter().map(key).collect();
    let reset: Vec<String> = before
        .iter()
        .map(key)
        .filter(|name| !after_keys.contains(name))
        .collect();
    let set: Vec<&str> = after
        .iter()
        .filter(|option| !before.contains(option))
        .map(String::as_str)
        .collect();
    let mut clauses = Vec::new();
    if !reset.is_empty() {
        clauses.push(format!("RESET ({})", reset.join(", ")));
    }
    if !set.is_empty() {
        clauses.push(format!("SET ({})", set.join(", ")));
    }
    clauses
}

pub(super) fn comment_on(target: &CommentTarget, value: &str) -> String {
    let kind = match target.object_type.as_str() {
        "table column" | "view column" | "materialized view column" => "COLUMN".to_string(),
        "table constraint" => "CONSTRAINT".to_string(),
        "composite type" => "TYPE".to_string(),
        other => other.to_uppercase(),
    };
    format!("COMMENT ON {kind} {} IS {value}", target.identity)
}

pub(super) fn drop_function(planner: &Planner, function: &FunctionName) -> String {
    let kind = match planner.from.functions.get(function).map(|f| f.kind) {
        Some('p') => "PROCEDURE",
        _ => "FUNCTION",
    };
    format!("DROP {kind} {}", planner.function(function))
}

pub(super) fn create_enum(planner: &Planner, name: &Name, labels: &[String]) -> String {
    format!(
        "CREATE TYPE {} AS ENUM ({})",
        planner.name(name),
        labels
            .iter()
            .map(|label| literal(label))
            .collect::<Vec<_>>()
            .join(", ")
    )
}

/// ` (INCREMENT BY ...)` for an identity column's sequence, or nothing.
pub(super) fn identity_options(column: &Column) -> String {
    column
        .identity_options
        .as_ref()
        .map(|options| format!(" ({options})"))
        .unwrap_or_default()
}

/// The identity options as `ALTER COLUMN ... SET ...` clauses.
pub(super) fn set_identity_options(options: &str) -> String {
    let mut clauses = format!("SET {options}");
    for keyword in [
        " MINVALUE",
        " MAXVALUE",
        " START WITH",
        " CACHE",
        " NO CYCLE",
    ] {
        clauses = clauses.replace(keyword, &format!(" SET{keyword}"));
    }
    if !options.ends_with("NO CYCLE") {
        clauses = clauses.replace(" CYCLE", " SET CYCLE");
    }
    clauses
}

pub(super) fn identity_kind(kind: char) -> &'static str {
    if kind == 'a' { "ALWAYS" } else { "BY DEFAULT" }
}

#[cfg(test)]
mod tests {
    use super::storage_parameter_changes;

    #[test]
    fn casts_and_signatures_that_use_a_type_are_found() {
        use super::{Name, mentions_type, signature_uses};
        let mood = Name::new("public", "mood");
        assert!(mentions_type("(mood <> 'sad'::mood)", &mood, "public"));
        assert!(mentions_type(
            "(m = ANY (ARRAY['a'::public.mood]))",
            &mood,
            "app"
        ));
        assert!(!mentions_type("(mood <> 'sad'::moody)", &mood, "public"));
        assert!(!mentions_type("(x > 1)", &mood, "public"));
        assert!(signature_uses("integer, mood", "boolean", &mood, "public"));
        assert!(signature_uses("", "SETOF mood", &mood, "public"));
        assert!(!signature_uses("text", "boolean", &mood, "public"));
    }

    #[test]
    fn storage_parameters_gone_are_reset_and_new_or_changed_ones_set() {
        let owned = |list: &[&str]| list.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let before = owned(&["autovacuum_enabled=false", "fillfactor=80"]);
        let after = owned(&["autovacuum_enabled=true", "toast_tuple_target=256"]);
        assert_eq!(
            storage_parameter_changes(&before, &after),
            [
                "RESET (fillfactor)",
                "SET (autovacuum_enabled=true, toast_tuple_target=256)"
            ]
        );
        assert!(storage_parameter_changes(&after, &after).is_empty());
    }
}
