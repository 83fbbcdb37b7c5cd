//! Comparing a database with its restored backup: catalog lines and row counts in, a list of
//! differences out.

use std::collections::BTreeMap;

/// What `--verify` compares: one line per column, index, constraint, enum, view and
/// extension, and the exact row count of every table.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Snapshot {
    pub catalog: Vec<String>,
    pub row_counts: Vec<(String, i64)>,
}

/// The differences between the source and the restored copy, readable one per line; empty
/// when they match.
pub fn differences(source: &Snapshot, restored: &Snapshot) -> Vec<String> {
    let mut source_catalog = source.catalog.clone();
    let mut restored_catalog = restored.catalog.clone();
    source_catalog.sort_unstable();
    restored_catalog.sort_unstable();
    let mut found = Vec::new();
    for line in &source_catalog {
        if restored_catalog.binary_search(line).is_err() {
            found.push(format!("missing from the backup: {line}"));
        }
    }
    for line in &restored_catalog {
        if source_catalog.binary_search(line).is_err() {
            found.push(format!("only in the backup: {line}"));
        }
    }
    let source_rows: BTreeMap<&str, i64> = source
        .row_counts
        .iter()
        .map(|(t, n)| (t.as_str(), *n))
        .collect();
    let restored_rows: BTreeMap<&str, i64> = restored
        .row_counts
        .iter()
        .map(|(t, n)| (t.as_str(), *n))
        .collect();
    for (table, rows) in &source_rows {
        match restored_rows.get(table) {
            Some(restored) if restored == rows => {}
            Some(restored) => {
                found.push(format!("table {table}: {rows} rows, {restored} restored"))
            }
            None => found.push(format!("table {table}: {rows} rows, not restored")),
        }
    }
    for table in restored_rows
        .keys()
        .filter(|table| !source_rows.contains_key(*table))
    {
        found.push(format!("table {table}: only in the backup"));
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snapshot(catalog: &[&str], rows: &[(&str, i64)]) -> Snapshot {
        Snapshot {
            catalog: catalog.iter().map(|line| line.to_string()).collect(),
            row_counts: rows
                .iter()
                .map(|(table, n)| (table.to_string(), *n))
                .collect(),
        }
    }

    #[test]
    fn identical_snapshots_in_any_order_match() {
        let a = snapshot(&["column a", "index b"], &[("public.t", 3)]);
        let b = snapshot(&["index b", "column a"], &[("public.t", 3)]);
        assert!(differences(&a, &b).is_empty());
    }

    #[test]
    fn every_kind_of_difference_is_named() {
        let source = snapshot(
            &["column t.a int", "index i"],
            &[("public.t", 3), ("public.u", 1)],
        );
        let restored = snapshot(&["column t.a bigint"], &[("public.t", 2), ("public.v", 0)]);
        let found = differences(&source, &restored);
        assert_eq!(
            found,
            [
                "missing from the backup: column t.a int",
                "missing from the backup: index i",
                "only in the backup: column t.a bigint",
                "table public.t: 3 rows, 2 restored",
                "table public.u: 1 rows, not restored",
                "table public.v: only in the backup",
            ]
        );
    }
}
