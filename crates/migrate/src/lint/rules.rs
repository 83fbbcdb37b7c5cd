//! Nelo's level for each of squawk's rules, with the reason, tuned on Prisma-generated SQL
//! (the realistic fixture and Nelo's own migrations): the README's Lint section is this table.

use super::Level;

/// A rule and what nelo does with its findings by default.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RulePolicy {
    /// Squawk's kebab-case name.
    pub name: &'static str,
    pub level: Level,
    /// Whether a finding stops `deploy` even under `--lint warn` (the default): the
    /// migration would fail at run time, or would break the one-transaction guarantee.
    pub blocks_deploy: bool,
    pub reason: &'static str,
}

const fn rule(name: &'static str, level: Level, reason: &'static str) -> RulePolicy {
    RulePolicy {
        name,
        level,
        blocks_deploy: false,
        reason,
    }
}

const fn blocking(name: &'static str, reason: &'static str) -> RulePolicy {
    RulePolicy {
        name,
        level: Level::Error,
        blocks_deploy: true,
        reason,
    }
}

use Level::{Error, Off, Warning};

/// Every rule squawk turns on by default, and the ones nelo adds, in the README's order.
pub const RULES: &[RulePolicy] = &[
    // Would fail at run time, or break the one-transaction guarantee: deploy stops.
    blocking(
        "ban-concurrent-index-creation-in-transaction",
        "`CREATE INDEX CONCURRENTLY` inside a transaction block fails (SQLSTATE 25001)",
    ),
    blocking(
        "ban-uncommitted-transaction",
        "a `BEGIN` that nothing closes leaves the migration's changes uncommitted",
    ),
    blocking(
        super::UNRUNNABLE,
        "nelo's own check: deploy refuses the file before anything runs (see the message)",
    ),
    // Locks or rewrites a table that the application uses, or loses data: error.
    rule(
        "require-concurrent-index-creation",
        Error,
        "`CREATE INDEX` on an existing table blocks its writes for the whole build",
    ),
    rule(
        "require-concurrent-index-deletion",
        Error,
        "`DROP INDEX` takes an ACCESS EXCLUSIVE lock on the table",
    ),
    rule(
        "require-concurrent-reindex",
        Error,
        "`REINDEX` without `CONCURRENTLY` blocks writes to the table",
    ),
    rule(
        "require-concurrent-partition-detach",
        Error,
        "`DETACH PARTITION` without `CONCURRENTLY` takes an ACCESS EXCLUSIVE lock on the parent",
    ),
    rule(
        "adding-foreign-key-constraint",
        Error,
        "a foreign key on an existing table locks both tables while every row is checked; add it `NOT VALID`, then `VALIDATE`",
    ),
    rule(
        "constraint-missing-not-valid",
        Error,
        "a constraint added without `NOT VALID` scans the table under a lock",
    ),
    rule(
        "changing-column-type",
        Error,
        "most type changes rewrite the table under an ACCESS EXCLUSIVE lock",
    ),
    rule(
        "adding-required-field",
        Error,
        "a `NOT NULL` column without a default fails on a table that has rows (Prisma warns of the same)",
    ),
    rule(
        "adding-not-nullable-field",
        Error,
        "`SET NOT NULL` scans the whole table under an ACCESS EXCLUSIVE lock",
    ),
    rule(
        "adding-field-with-default",
        Error,
        "a volatile default rewrites the table under an ACCESS EXCLUSIVE lock",
    ),
    rule(
        "adding-serial-primary-key-field",
        Error,
        "a primary key added to an existing table builds its index under an ACCESS EXCLUSIVE lock",
    ),
    rule(
        "disallowed-unique-constraint",
        Error,
        "a unique constraint on an existing table builds its index under an ACCESS EXCLUSIVE lock",
    ),
    rule(
        "ban-drop-column",
        Error,
        "the column's data is gone, and code still reading it fails",
    ),
    rule(
        "ban-drop-table",
        Error,
        "the table's data is gone, and code still using it fails",
    ),
    rule(
        "ban-drop-database",
        Error,
        "everything in the database is gone",
    ),
    rule(
        "ban-truncate-cascade",
        Error,
        "`TRUNCATE ... CASCADE` empties every table that references it, recursively",
    ),
    rule(
        "ban-duplicate-column-assignments",
        Error,
        "assigning one column twice in an `UPDATE` fails at run time",
    ),
    rule(
        "identifier-too-long",
        Error,
        "PostgreSQL truncates names longer than 63 bytes, so the name differs from the schema's",
    ),
    // Worth a look, rarely an outage: warning.
    rule(
        "transaction-nesting",
        Warning,
        "a `BEGIN` inside a transaction block, or a `COMMIT` outside one; a file with its own `BEGIN`/`COMMIT` is sent as written, as Prisma sends it (where a bare `COMMIT` ends the implicit transaction, e.g. after `ALTER TYPE ... ADD VALUE`), so it does not stop a deploy",
    ),
    rule(
        "renaming-column",
        Warning,
        "code that still uses the old name fails until it is deployed",
    ),
    rule(
        "renaming-table",
        Warning,
        "code that still uses the old name fails until it is deployed",
    ),
    rule(
        "renaming-object",
        Warning,
        "code that still uses the old name fails until it is deployed",
    ),
    rule(
        "ban-drop-not-null",
        Warning,
        "code that expects the column to be set may read nulls",
    ),
    rule(
        "ban-drop-view",
        Warning,
        "code that still reads the view fails",
    ),
    rule(
        "ban-drop-function",
        Warning,
        "code that still calls the function fails",
    ),
    rule(
        "ban-drop-type",
        Warning,
        "code that still uses the type fails",
    ),
    rule(
        "ban-drop-default",
        Warning,
        "inserts that relied on the default now fail or store nulls",
    ),
    rule(
        "ban-drop-sequence",
        Warning,
        "code that still uses the sequence fails",
    ),
    rule(
        "ban-drop-schema",
        Warning,
        "everything in the schema is gone",
    ),
    rule(
        "ban-drop-domain",
        Warning,
        "code that still uses the domain fails",
    ),
    rule(
        "ban-drop-constraint",
        Warning,
        "the database no longer enforces what the constraint guaranteed",
    ),
    rule(
        "ban-drop-generated-expression",
        Warning,
        "the column stops following its expression",
    ),
    rule(
        "ban-drop-extension",
        Warning,
        "everything that uses the extension's types or functions fails",
    ),
    rule(
        "ban-set-schema",
        Warning,
        "code that still uses the old qualified name fails",
    ),
    rule(
        "ban-alter-identity",
        Warning,
        "inserts that set or rely on the identity change behaviour",
    ),
    rule(
        "ban-char-field",
        Warning,
        "`CHAR(n)` pads with spaces; `TEXT` or `VARCHAR` is almost always meant",
    ),
    rule(
        "ban-create-domain-with-constraint",
        Warning,
        "a domain's constraint cannot be changed later without scanning every column that uses it",
    ),
    rule(
        "ban-alter-domain-with-add-constraint",
        Warning,
        "adding a constraint to a domain scans every column that uses it",
    ),
    rule(
        "unused-ignore",
        Warning,
        "a `squawk-ignore` comment names a rule that does not exist",
    ),
    rule(
        super::squawk::SYNTAX_ERROR,
        Warning,
        "squawk's parser did not understand a statement; PostgreSQL, not squawk, decides what is valid, so it never stops a deploy",
    ),
    // Restates the style Prisma generates, or needs settings nelo does not make: off.
    rule(
        "prefer-bigint-over-int",
        Off,
        "Prisma's `Int` is `INTEGER` by design",
    ),
    rule(
        "prefer-bigint-over-smallint",
        Off,
        "Prisma's `@db.SmallInt` is a choice of the schema",
    ),
    rule(
        "prefer-identity",
        Off,
        "Prisma's `@default(autoincrement())` is `SERIAL` by design",
    ),
    rule(
        "prefer-text-field",
        Off,
        "Prisma's `String @db.VarChar(n)` is a choice of the schema",
    ),
    rule(
        "prefer-timestamp-tz",
        Off,
        "Prisma's `DateTime` is `TIMESTAMP(3)` by design",
    ),
    rule(
        "prefer-robust-stmts",
        Off,
        "`IF NOT EXISTS` guards only matter for files that can half-apply; nelo runs a file in one transaction or records its progress",
    ),
    rule(
        "require-enum-value-ordering",
        Off,
        "Prisma appends every new enum value (`ADD VALUE 'x'`) by design; the order rarely matters",
    ),
    rule(
        "prefer-repack",
        Off,
        "it suggests PostgreSQL 19's `REPACK` and only fires from 19 on; nelo runs on 17",
    ),
    rule(
        "require-lock-timeout",
        Off,
        "every migration would be flagged: Prisma sets no `lock_timeout` and neither does nelo yet",
    ),
    rule(
        "require-statement-timeout",
        Off,
        "every migration would be flagged: Prisma sets no `statement_timeout` and neither does nelo yet",
    ),
];

/// The policy for `name`, if nelo has one.
pub fn policy(name: &str) -> Option<&'static RulePolicy> {
    RULES.iter().find(|policy| policy.name == name)
}

/// The squawk rules nelo runs: every rule not off (nelo's own pseudo-rules excluded).
pub fn enabled_rule_names() -> Vec<&'static str> {
    RULES
        .iter()
        .filter(|policy| policy.level != Off && super::squawk::is_rule(policy.name))
        .map(|policy| policy.name)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lint::squawk;

    #[test]
    fn every_rule_squawk_turns_on_has_a_level() {
        for name in squawk::squawk_default_rule_names() {
            assert!(
                policy(&name).is_some(),
                "squawk rule `{name}` has no level in nelo's table; decide one"
            );
        }
    }

    #[test]
    fn every_name_in_the_table_is_a_squawk_rule() {
        for policy in RULES {
            assert!(
                [squawk::SYNTAX_ERROR, crate::lint::UNRUNNABLE].contains(&policy.name)
                    || squawk::is_rule(policy.name),
                "`{}` is not a squawk rule",
                policy.name
            );
        }
    }

    #[test]
    fn names_are_unique() {
        let mut names: Vec<_> = RULES.iter().map(|policy| policy.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), RULES.len());
    }
}
