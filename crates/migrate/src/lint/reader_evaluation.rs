//! The evaluation the lint issue asked for: could squawk's parser be nelo's one SQL reader,
//! replacing the splitter behind `-- nelo:no-transaction` (`crate::split`) and the statement
//! classification of `crate::run_mode`? Only if it splits every input of the splitter's
//! tests and every fixture migration exactly as the splitter (and so psql and the server)
//! does. These tests record what squawk 2.68.0 does with each; an upgrade that changes an
//! answer makes them fail, which is the cue to evaluate again.
//!
//! Verdict for 2.68.0: not adopted. It agrees on every fixture migration (601: realistic,
//! generated, Nelo's) and on quotes, `E''` strings, dollar quotes, nested comments,
//! `BEGIN ATOMIC` bodies and psql's parenthesis rule, but not on everything:
//! - it knows nothing of psql's `COPY ... FROM STDIN` rows: it lexes them as SQL and splits
//!   them at their semicolons (pg_dump data sections would be sent as statements);
//! - its statement nodes leave out what it cannot parse (the `)` of `SELECT 1);`, the COPY
//!   rows): a splitter built on them would silently send something other than the file.
//!
//! The statement classification of `run_mode` stays on the splitter's words for the same
//! reason: one reader for both, the one that matches the server on every case.

use super::squawk::{statement_texts, texts_between_semicolons};
use crate::split::split_statements;

fn splitter(sql: &str) -> Vec<String> {
    split_statements(sql)
        .iter()
        .map(|statement| statement.sql.to_string())
        .collect()
}

/// Inputs of `split.rs`'s tests, by what they exercise.
const CASES: &[(&str, &str)] = &[
    ("simple statements", "SELECT 1; SELECT 2;"),
    ("last statement without semicolon", "SELECT 1;\nSELECT 2\n"),
    (
        "empty and comment-only statements",
        ";;  -- nothing\n; /* still nothing */ ;",
    ),
    (
        "quotes with '' escapes",
        "INSERT INTO t VALUES ('a;b', 'it''s; fine'); SELECT 1",
    ),
    ("backslash in a standard string", r"SELECT 'a\'; SELECT 2"),
    (
        "E'' strings",
        r"SELECT E'it\'s; here'; SELECT e'\\'; SELECT 3",
    ),
    (
        "identifier ending in e before a quote",
        r"SELECT some_e'\'; SELECT 2",
    ),
    (
        "double-quoted identifiers",
        r#"CREATE TABLE "a;""b" (id int); SELECT 1"#,
    ),
    (
        "dollar quotes",
        "CREATE FUNCTION f() RETURNS int AS $$ BEGIN RETURN 1; END; $$ LANGUAGE plpgsql;\nDO $body$ BEGIN PERFORM 1; RAISE NOTICE '$$;'; END $body$;\nSELECT 2",
    ),
    (
        "nested dollar tags",
        "DO $outer$ BEGIN EXECUTE $inner$ SELECT 1; $inner$; END $outer$; SELECT 2",
    ),
    (
        "positional parameters and a$b$c",
        "PREPARE p AS SELECT $1; SELECT a$b$c FROM t; SELECT 3",
    ),
    (
        "nested comments",
        "SELECT 1 -- not; a split\n+ 1; /* outer /* inner; */ still; */ SELECT 2",
    ),
    (
        "BEGIN ATOMIC",
        "CREATE FUNCTION add(a int, b int) RETURNS int LANGUAGE sql\nBEGIN ATOMIC\n  SELECT a + b;\nEND;\ncreate or replace procedure p() language sql begin atomic\ninsert into t values (case when true then 1 else 2 end);\nselect case 1 when 1 then 'a;' end;\nend;\nSELECT 3;",
    ),
    (
        "BEGIN as a transaction",
        "BEGIN; CREATE TABLE t (id int); END; SELECT 1",
    ),
    (
        "psql's parenthesis rule",
        "CREATE RULE r AS ON INSERT TO t DO ALSO (INSERT INTO a VALUES (1); INSERT INTO b VALUES (2)); SELECT 1",
    ),
    ("stray closing parenthesis", "SELECT 1); SELECT 2"),
    ("unterminated string", "SELECT 'abc; SELECT 2"),
    ("unterminated dollar quote", "SELECT $$ abc; SELECT 2"),
    ("unterminated block comment", "SELECT 1 /* abc; SELECT 2"),
    (
        "words that contain begin",
        "CREATE FUNCTION f() RETURNS int LANGUAGE sql RETURN (SELECT begin_at FROM t); SELECT 2",
    ),
    (
        "begin as a name",
        "CREATE TABLE begin_end (id int); CREATE TRIGGER begin AFTER INSERT ON t EXECUTE FUNCTION f(); SELECT 1",
    ),
    (
        "COPY rows without the end line",
        "COPY t FROM STDIN WITH (FORMAT text); -- rows\r\n1\r\n2\r\n",
    ),
    (
        "COPY FROM STDIN rows",
        "SET search_path = '';\nCOPY public.\"Tag\" (id, name) FROM stdin;\n1\tfirst; not SQL\n2\t\\N\n\\.\nSELECT 2;\n",
    ),
    ("CRLF", "SELECT 1;\r\n-- c;\r\nSELECT 2;\r\n"),
];

/// The cases where squawk 2.68.0 splits differently from the splitter, when a statement is
/// the parser's statement node.
const NODE_DISAGREEMENTS: &[&str] = &["stray closing parenthesis"];

/// The same, when a statement is every token between two top-level semicolons.
const SEMICOLON_DISAGREEMENTS: &[&str] =
    &["COPY rows without the end line", "COPY FROM STDIN rows"];

fn disagreements(split: fn(&str) -> Vec<String>) -> Vec<&'static str> {
    let mut found = Vec::new();
    for (what, sql) in CASES {
        let ours = splitter(sql);
        let squawks = split(sql);
        if ours != squawks {
            println!("{what}:\n  splitter: {ours:?}\n  squawk:   {squawks:?}");
            found.push(*what);
        }
    }
    found
}

#[test]
fn squawk_statement_nodes_on_the_splitters_cases() {
    assert_eq!(disagreements(statement_texts), NODE_DISAGREEMENTS);
}

#[test]
fn squawk_semicolons_on_the_splitters_cases() {
    assert_eq!(
        disagreements(texts_between_semicolons),
        SEMICOLON_DISAGREEMENTS
    );
}

#[test]
fn squawk_splits_the_fixtures() {
    let realistic = tempfile::tempdir().unwrap();
    nelo_fixtures::realistic_folder(realistic.path(), 300).unwrap();
    let generated = tempfile::tempdir().unwrap();
    nelo_fixtures::generated_folder(generated.path(), 300).unwrap();
    let mut differing = Vec::new();
    let mut total = 0;
    let nelo = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../migrations");
    for folder in [realistic.path(), generated.path(), nelo.as_path()] {
        for migration in crate::folder::load(folder).unwrap() {
            total += 1;
            let sql = migration.sql_to_send();
            let ours = splitter(sql);
            let squawks = statement_texts(sql);
            if ours != squawks || ours != texts_between_semicolons(sql) {
                if differing.len() < 5 {
                    let first = ours.iter().zip(&squawks).position(|(a, b)| a != b);
                    println!(
                        "{}: {} vs {} statements, first difference at {first:?}",
                        migration.name,
                        ours.len(),
                        squawks.len()
                    );
                }
                differing.push(migration.name);
            }
        }
    }
    println!(
        "{} of {total} fixture migrations split differently",
        differing.len()
    );
    assert_eq!(differing, Vec::<String>::new());
}
