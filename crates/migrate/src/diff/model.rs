//! The schema model: what the introspector reads from `pg_catalog`, as plain data keyed by
//! stable identity (never by OID), in BTreeMaps so that everything derived is deterministic.
//! Definitions are the server's own rendering (`format_type`, `pg_get_*def`), compared as text.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde::Serialize;

/// A schema-qualified name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct Name {
    pub schema: String,
    pub name: String,
}

impl Name {
    pub fn new(schema: &str, name: &str) -> Self {
        Self {
            schema: schema.to_string(),
            name: name.to_string(),
        }
    }
}

impl fmt::Display for Name {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "{}.{}", self.schema, self.name)
    }
}

/// A function or procedure: its name and its argument types (`oidvectortypes`), which is
/// what PostgreSQL identifies it by.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct FunctionName {
    pub name: Name,
    pub arguments: String,
}

impl fmt::Display for FunctionName {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "{}({})", self.name, self.arguments)
    }
}

/// Everything nelo compares in one database.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SchemaModel {
    /// The schema the definitions were rendered against (unqualified names live there).
    pub search_path: String,
    pub schemas: BTreeSet<String>,
    pub extensions: BTreeMap<String, Extension>,
    pub enums: BTreeMap<Name, Vec<String>>,
    pub domains: BTreeMap<Name, Domain>,
    pub collations: BTreeMap<Name, Collation>,
    /// Range types (`CREATE TYPE ... AS RANGE`); their multirange and constructors go with them.
    pub ranges: BTreeMap<Name, Range>,
    /// Composite types (`CREATE TYPE ... AS (...)`), their attributes in order.
    pub composite_types: BTreeMap<Name, Vec<Attribute>>,
    pub sequences: BTreeMap<Name, Sequence>,
    pub tables: BTreeMap<Name, Table>,
    pub indexes: BTreeMap<Name, Index>,
    /// Extended statistics objects (`CREATE STATISTICS`).
    pub statistics: BTreeMap<Name, Statistics>,
    pub views: BTreeMap<Name, View>,
    pub functions: BTreeMap<FunctionName, Function>,
    /// Keyed by table, then trigger name.
    pub triggers: BTreeMap<(Name, String), Trigger>,
    /// Row-level security policies, keyed by table, then policy name.
    pub policies: BTreeMap<(Name, String), Policy>,
    /// Privileges other than the default on tables, views, sequences, functions and
    /// schemas, without the grantor and the owner's own: `+bob SELECT`,
    /// `+bob SELECT WITH GRANT OPTION`, `-PUBLIC EXECUTE` (a default one revoked).
    pub privileges: BTreeMap<GrantTarget, BTreeSet<String>>,
    pub comments: BTreeMap<CommentTarget, Comment>,
    /// Event triggers, by name: database-wide.
    pub event_triggers: BTreeMap<String, EventTrigger>,
    /// Publications (logical replication), by name: database-wide.
    pub publications: BTreeMap<String, Publication>,
    /// Objects of kinds nelo does not model, keyed by (kind, identity): compared only as the
    /// server renders them, so that one that differs makes the answer "cannot tell".
    pub not_compared: BTreeMap<(String, String), Unmodelled>,
}

impl SchemaModel {
    /// Keeps only what lives in `schema`, and the database-wide extensions: the model of one
    /// schema, as Prisma reads a database whose URL names one (`?schema=`). Objects of other
    /// schemas belong to other histories or other tools.
    pub fn retain_schema(&mut self, schema: &str) {
        let plain = format!("{schema}.");
        let quoted = format!("\"{}\".", schema.replace('"', "\"\""));
        let in_schema = |identity: &str| {
            identity == schema || identity.starts_with(&plain) || identity.starts_with(&quoted)
        };
        self.schemas.retain(|name| name == schema);
        self.enums.retain(|name, _| name.schema == schema);
        self.domains.retain(|name, _| name.schema == schema);
        self.composite_types.retain(|name, _| name.schema == schema);
        self.collations.retain(|name, _| name.schema == schema);
        self.ranges.retain(|name, _| name.schema == schema);
        self.sequences.retain(|name, _| name.schema == schema);
        self.tables.retain(|name, _| name.schema == schema);
        self.indexes.retain(|name, _| name.schema == schema);
        self.statistics.retain(|name, _| name.schema == schema);
        self.views.retain(|name, _| name.schema == schema);
        self.functions
            .retain(|function, _| function.name.schema == schema);
        self.triggers.retain(|(table, _), _| table.schema == schema);
        self.policies.retain(|(table, _), _| table.schema == schema);
        // Database-wide default privileges (no schema) apply to every schema.
        self.privileges
            .retain(|target, _| target.schema == schema || target.schema.is_empty());
        self.comments
            .retain(|target, _| in_schema(&target.identity));
        // Database-wide objects (publications, event triggers, casts) have no schema.
        self.not_compared
            .retain(|_, object| object.schema.is_empty() || object.schema == schema);
    }
}

/// An object of a kind nelo does not model.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Unmodelled {
    /// Its schema; empty for a database-wide object.
    pub schema: String,
    /// What the server says it is (deparsed text, options, members, privileges other than
    /// the default, without the grantor).
    pub definition: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Extension {
    pub schema: String,
    /// Shown, never a difference: it follows the server's packages, not the migrations.
    pub version: String,
}

/// A domain (`CREATE DOMAIN`): a base type with its own default, NOT NULL and CHECKs.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Domain {
    /// `format_type(typbasetype, typtypmod)`.
    pub base_type: String,
    /// A collation other than the base type's, qualified and quoted (`"public"."C"`).
    pub collation: Option<String>,
    pub not_null: bool,
    /// `typdefault`: the default expression as the server deparses it.
    pub default: Option<String>,
    /// Constraint name -> `pg_get_constraintdef` (`CHECK (...)`, with `NOT VALID` when not
    /// validated).
    pub constraints: BTreeMap<String, String>,
}

/// A collation (`CREATE COLLATION`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Collation {
    /// `icu`, `libc` or `builtin`.
    pub provider: String,
    /// `colllocale` (ICU and builtin).
    pub locale: Option<String>,
    /// `collcollate` and `collctype` (libc).
    pub lc_collate: Option<String>,
    pub lc_ctype: Option<String>,
    /// ICU tailoring rules.
    pub rules: Option<String>,
    pub deterministic: bool,
}

/// A range type.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Range {
    /// `format_type` of the subtype.
    pub subtype: String,
    /// The subtype's operator class, when not its default one, qualified.
    pub subtype_opclass: Option<String>,
    /// A collation other than the subtype's, qualified.
    pub collation: Option<String>,
    /// The canonical and subtype_diff functions (`regproc`).
    pub canonical: Option<String>,
    pub subtype_diff: Option<String>,
    /// `format_type` of its multirange type.
    pub multirange: String,
}

/// An event trigger (`CREATE EVENT TRIGGER`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct EventTrigger {
    /// `ddl_command_start`, `ddl_command_end`, `sql_drop`, `table_rewrite` or `login`.
    pub event: String,
    /// The function it runs (`regprocedure`: `name()`).
    pub function: String,
    /// Its function as the model keys functions, when it is a user function.
    pub function_name: Option<FunctionName>,
    /// `WHEN TAG IN (...)`, sorted; empty for every command.
    pub tags: Vec<String>,
    /// `O` (enabled), `D`, `R` or `A`.
    pub enabled: String,
}

/// A publication (`CREATE PUBLICATION`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Publication {
    /// `FOR ALL TABLES`.
    pub all_tables: bool,
    /// What it publishes, of `insert`, `update`, `delete`, `truncate`, in that order.
    pub publish: Vec<String>,
    /// `publish_via_partition_root`.
    pub via_root: bool,
    /// `FOR TABLE` members.
    pub tables: BTreeMap<Name, PublishedTable>,
    /// `FOR TABLES IN SCHEMA` members.
    pub schemas: BTreeSet<String>,
}

/// A table of a publication, with its column list and row filter.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct PublishedTable {
    /// The published columns, quoted and joined (`a, "B"`); `None` for all.
    pub columns: Option<String>,
    /// `pg_get_expr` of the `WHERE` row filter.
    pub filter: Option<String>,
}

/// An attribute of a composite type.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Attribute {
    pub name: String,
    /// `format_type(atttypid, atttypmod)`.
    pub data_type: String,
    /// A collation other than the type's, qualified and quoted.
    pub collation: Option<String>,
}

impl fmt::Display for Attribute {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = crate::sql::quote_identifier(&self.name);
        write!(formatter, "{name} {}", self.data_type)?;
        if let Some(collation) = &self.collation {
            write!(formatter, " COLLATE {collation}")?;
        }
        Ok(())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Sequence {
    pub data_type: String,
    pub start: i64,
    pub increment: i64,
    pub min: i64,
    pub max: i64,
    pub cache: i64,
    pub cycle: bool,
    /// `OWNED BY` table and column (a `serial` column's sequence).
    pub owned_by: Option<(Name, String)>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Table {
    pub unlogged: bool,
    /// `ALTER TABLE ... ENABLE ROW LEVEL SECURITY` (`relrowsecurity`).
    pub row_security: bool,
    /// `ALTER TABLE ... FORCE ROW LEVEL SECURITY` (`relforcerowsecurity`): the owner too.
    pub force_row_security: bool,
    /// Storage parameters (`reloptions`: `fillfactor=70`, `autovacuum_enabled=false`),
    /// sorted.
    pub storage_parameters: Vec<String>,
    /// In column order.
    pub columns: Vec<Column>,
    pub constraints: BTreeMap<String, Constraint>,
}

impl Table {
    pub fn column(&self, name: &str) -> Option<&Column> {
        self.columns.iter().find(|column| column.name == name)
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Column {
    pub name: String,
    /// `format_type(atttypid, atttypmod)`.
    pub data_type: String,
    /// A collation other than the type's, qualified.
    pub collation: Option<String>,
    pub not_null: bool,
    /// `pg_get_expr` of the default (not of a generated column).
    pub default: Option<String>,
    /// `a` (ALWAYS) or `d` (BY DEFAULT).
    pub identity: Option<char>,
    /// The identity sequence's options, as `GENERATED ... AS IDENTITY (...)` takes them.
    pub identity_options: Option<String>,
    /// The expression of a stored generated column.
    pub generated: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Constraint {
    /// `p`, `u`, `c`, `f` or `x`.
    pub kind: char,
    /// `pg_get_constraintdef`: columns, references and actions, DEFERRABLE, NOT VALID.
    pub definition: String,
    pub validated: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Index {
    pub table: Name,
    /// `pg_get_indexdef`: method, opclasses, expressions, predicate, INCLUDE, options.
    pub definition: String,
    /// `false` for an index a failed `CREATE INDEX CONCURRENTLY` left behind.
    pub valid: bool,
    /// On a materialized view (created after it).
    pub on_view: bool,
}

/// An extended statistics object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Statistics {
    /// `pg_get_statisticsobjdef`: the complete `CREATE STATISTICS` statement.
    pub definition: String,
    /// `ALTER STATISTICS ... SET STATISTICS n`; `None` for the default.
    pub target: Option<i32>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct View {
    pub materialized: bool,
    /// `pg_get_viewdef(oid, true)`, without its final `;`.
    pub definition: String,
    /// `reloptions` (`security_invoker=true`, `check_option=local`, ...).
    pub options: Vec<String>,
    /// The tables and views its query reads.
    pub depends_on: BTreeSet<Name>,
    /// The functions its query calls.
    pub calls: BTreeSet<FunctionName>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Function {
    /// `f` (function) or `p` (procedure).
    pub kind: char,
    /// `pg_get_functiondef`: a complete `CREATE OR REPLACE` statement.
    pub definition: String,
    /// `pg_get_function_result`.
    pub result: String,
    /// Takes or returns a table's row type, so it is created after the tables.
    pub uses_row_type: bool,
    /// The tables and views it reads (a `BEGIN ATOMIC` body's, as `pg_depend` records them)
    /// or whose row type it takes or returns: it is created after them.
    pub reads: BTreeSet<Name>,
    /// The functions a `BEGIN ATOMIC` body calls.
    pub calls: BTreeSet<FunctionName>,
    /// The indexes, constraints and column defaults whose expressions call it (`pg_depend`):
    /// they go while it is dropped and created again.
    pub used_by: BTreeSet<FunctionUser>,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FunctionUser {
    Index(Name),
    /// Table and constraint.
    Constraint(Name, String),
    /// Table and column.
    Default(Name, String),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Trigger {
    /// `pg_get_triggerdef(oid, true)`.
    pub definition: String,
    /// `tgenabled`: `O` (origin, the default), `D`, `R` or `A`.
    pub enabled: char,
    pub function: FunctionName,
    /// Has a `WHEN` clause or an `UPDATE OF` column list (column type changes need it
    /// dropped first).
    pub uses_columns: bool,
}

/// What privileges are granted on, as `GRANT ... ON` names it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct GrantTarget {
    /// `TABLE` (also views), `COLUMN`, `SEQUENCE`, `FUNCTION`, `PROCEDURE`, `TYPE` (enums and
    /// composite types), `DOMAIN` or `SCHEMA`; for default
    /// privileges, `DEFAULT TABLES` (`SEQUENCES`, `FUNCTIONS`, `TYPES`, `SCHEMAS`).
    pub kind: String,
    /// Empty for a database-wide default privilege.
    pub schema: String,
    /// Empty for a schema; the role (`FOR ROLE`) for default privileges.
    pub name: String,
    /// A function's argument types (`oidvectortypes`), a column's name; empty otherwise.
    pub arguments: String,
}

impl fmt::Display for GrantTarget {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(objects) = self.kind.strip_prefix("DEFAULT ") {
            write!(formatter, "default privileges for role {}", self.name)?;
            if !self.schema.is_empty() {
                write!(formatter, " in schema {}", self.schema)?;
            }
            return write!(formatter, " on {}", objects.to_lowercase());
        }
        match self.kind.as_str() {
            "SCHEMA" => write!(formatter, "schema {}", self.schema),
            "COLUMN" => write!(
                formatter,
                "column {}.{}.{}",
                self.schema, self.name, self.arguments
            ),
            "FUNCTION" | "PROCEDURE" => write!(
                formatter,
                "{} {}.{}({})",
                self.kind.to_lowercase(),
                self.schema,
                self.name,
                self.arguments
            ),
            kind => write!(
                formatter,
                "{} {}.{}",
                kind.to_lowercase(),
                self.schema,
                self.name
            ),
        }
    }
}

/// A row-level security policy (`pg_policy`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Policy {
    /// `PERMISSIVE` or `RESTRICTIVE`.
    pub permissive: bool,
    /// `ALL`, `SELECT`, `INSERT`, `UPDATE` or `DELETE`.
    pub command: String,
    /// The roles, as `regrole` renders them (quoted where needed), `PUBLIC` for all; sorted.
    pub roles: Vec<String>,
    /// `pg_get_expr` of `USING` and of `WITH CHECK`.
    pub using: Option<String>,
    pub check: Option<String>,
    /// The other tables and views its expressions read (`pg_depend`).
    pub depends_on: BTreeSet<Name>,
    /// The user functions its expressions call.
    pub calls: BTreeSet<FunctionName>,
}

impl Policy {
    /// Everything that makes the policy, as one comparable text (`CREATE POLICY`'s clauses).
    pub fn clauses(&self) -> String {
        let mut sql = format!(
            "AS {} FOR {} TO {}",
            if self.permissive {
                "PERMISSIVE"
            } else {
                "RESTRICTIVE"
            },
            self.command,
            self.roles.join(", ")
        );
        if let Some(using) = &self.using {
            sql += &format!(" USING ({using})");
        }
        if let Some(check) = &self.check {
            sql += &format!(" WITH CHECK ({check})");
        }
        sql
    }
}

/// What a comment is on, as `pg_identify_object` names it: `table`, `table column`,
/// `function`, ... and the object's qualified identity.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct CommentTarget {
    pub object_type: String,
    pub identity: String,
}

/// A comment and the object that carries it (when that object is dropped or recreated, the
/// comment goes with it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Comment {
    pub text: String,
    pub owner: CommentOwner,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CommentOwner {
    /// A table, view, index or sequence.
    Relation(Name),
    Column(Name, String),
    Constraint(Name, String),
    Trigger(Name, String),
    Function(FunctionName),
    Type(Name),
    Schema(String),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retaining_a_schema_keeps_its_objects_and_the_extensions() {
        let mut model = SchemaModel {
            schemas: ["app".to_string(), "public".to_string()].into(),
            ..SchemaModel::default()
        };
        model.extensions.insert(
            "vector".to_string(),
            Extension {
                schema: "public".to_string(),
                version: "0.8.0".to_string(),
            },
        );
        model
            .enums
            .insert(Name::new("app", "mood"), vec!["calm".to_string()]);
        model
            .enums
            .insert(Name::new("public", "mood"), vec!["calm".to_string()]);
        let comment = |identity: &str| {
            (
                CommentTarget {
                    object_type: "table".to_string(),
                    identity: identity.to_string(),
                },
                Comment {
                    text: "why".to_string(),
                    owner: CommentOwner::Schema("app".to_string()),
                },
            )
        };
        model.comments.extend([
            comment("app.note"),
            comment("\"app\".\"Note\""),
            comment("application.note"),
            comment("public.note"),
        ]);
        let unmodelled = |kind: &str, schema: &str, identity: &str| {
            (
                (kind.to_string(), identity.to_string()),
                Unmodelled {
                    schema: schema.to_string(),
                    definition: String::new(),
                },
            )
        };
        model.not_compared.extend([
            unmodelled("policy", "app", "owner_only on app.note"),
            unmodelled("policy", "public", "owner_only on public.note"),
            unmodelled("domain", "app", "app.email"),
            unmodelled("publication", "", "everything"),
        ]);
        model.retain_schema("app");
        assert_eq!(model.schemas, ["app".to_string()].into());
        assert_eq!(model.extensions.len(), 1);
        assert_eq!(
            model.enums.keys().collect::<Vec<_>>(),
            [&Name::new("app", "mood")]
        );
        let identities: Vec<_> = model
            .comments
            .keys()
            .map(|target| target.identity.as_str())
            .collect();
        assert_eq!(identities, ["\"app\".\"Note\"", "app.note"]);
        let others: Vec<_> = model
            .not_compared
            .keys()
            .map(|(_, identity)| identity.as_str())
            .collect();
        assert_eq!(
            others,
            ["app.email", "owner_only on app.note", "everything"]
        );
    }
}
