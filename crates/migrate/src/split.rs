//! A PostgreSQL statement splitter for `-- nelo:no-transaction` migrations.
//!
//! Understands '...' strings (with '' escapes), E'...' strings (with backslash escapes),
//! "..." identifiers, dollar quoting ($$...$$, $tag$...$tag$), `--` line comments and
//! nested `/* */` block comments, so a semicolon inside any of them does not split.
//! Like psql, it does not split inside parentheses (`CREATE RULE ... DO (...; ...)`) nor
//! inside the `BEGIN ATOMIC ... END` body of a `CREATE [OR REPLACE] FUNCTION|PROCEDURE`,
//! with the same heuristic: in such a statement, outside parentheses, `BEGIN` opens a block,
//! `CASE` opens one within a block and `END` closes one.
//!
//! Like psql, a `COPY ... FROM STDIN` statement takes the lines after it as its data, up to a
//! line `\.` (pg_dump's data sections), so the rows are not read as SQL.

/// One statement of a script, without its terminating semicolon.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Statement<'a> {
    /// The statement text, from its first significant character to its last one.
    pub sql: &'a str,
    /// Byte offset of `sql` in the script.
    pub offset: usize,
    /// For `COPY ... FROM STDIN`: the data lines that follow it.
    pub copy_data: Option<CopyData<'a>>,
}

/// The inline rows of a `COPY ... FROM STDIN` statement, as psql reads them: from the line
/// after the statement up to (not including) the line `\.`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CopyData<'a> {
    /// The rows, each line with its line ending.
    pub text: &'a str,
    /// Byte offset of `text` in the script.
    pub offset: usize,
    /// Whether the `\.` line was found (otherwise the data runs to the end of the script).
    pub terminated: bool,
    /// Whether something other than white space or a comment follows the statement's
    /// semicolon on its line (psql would take it as SQL after the data; nelo refuses it).
    pub trailing_text: bool,
}

/// Splits `script` into statements at top-level semicolons. Statements that are empty or
/// consist only of comments are left out; comments before a statement are not part of it.
pub fn split_statements(script: &str) -> Vec<Statement<'_>> {
    let bytes = script.as_bytes();
    let mut statements = Vec::new();
    let mut start: Option<usize> = None;
    let mut end = 0;
    let mut index = 0;
    let mut nesting = Nesting::default();
    while index < bytes.len() {
        let byte = bytes[index];
        let next = bytes.get(index + 1).copied();
        match byte {
            b'-' if next == Some(b'-') => {
                index = memchr_from(bytes, index, b'\n').unwrap_or(bytes.len());
                continue;
            }
            b'/' if next == Some(b'*') => {
                index = skip_block_comment(bytes, index);
                continue;
            }
            b';' if !nesting.is_open() => {
                index += 1;
                if let Some(statement_start) = start.take() {
                    let sql = &script[statement_start..end];
                    let copy_data = is_copy_from_stdin(sql).then(|| copy_data(script, index));
                    if let Some(data) = &copy_data {
                        index = data.resume_at;
                    }
                    statements.push(Statement {
                        sql,
                        offset: statement_start,
                        copy_data: copy_data.map(|data| data.data),
                    });
                }
                nesting = Nesting::default();
                continue;
            }
            byte if byte.is_ascii_whitespace() => {
                index += 1;
                continue;
            }
            _ => {}
        }
        start.get_or_insert(index);
        index = match byte {
            b'\'' => skip_quoted(bytes, index, b'\'', is_escape_string_prefix(bytes, index)),
            b'"' => skip_quoted(bytes, index, b'"', false),
            b'$' => skip_dollar_quoted(script, index).unwrap_or(index + 1),
            b'(' => {
                nesting.parens += 1;
                index + 1
            }
            b')' => {
                nesting.parens = nesting.parens.saturating_sub(1);
                index + 1
            }
            byte if is_identifier_start(byte) => {
                let word_end = word_end(bytes, index);
                nesting.word(&script[index..word_end]);
                word_end
            }
            _ => index + 1,
        };
        end = index;
    }
    if let Some(statement_start) = start {
        let sql = &script[statement_start..end];
        let copy_data = is_copy_from_stdin(sql).then(|| copy_data(script, bytes.len()).data);
        statements.push(Statement {
            sql,
            offset: statement_start,
            copy_data,
        });
    }
    statements
}

struct CopyBlock<'a> {
    data: CopyData<'a>,
    /// Where splitting goes on: after the `\.` line.
    resume_at: usize,
}

/// The COPY data that follows the semicolon ending at `after_semicolon`.
fn copy_data(script: &str, after_semicolon: usize) -> CopyBlock<'_> {
    let rest_of_line_end = script[after_semicolon..]
        .find('\n')
        .map_or(script.len(), |found| after_semicolon + found + 1);
    let rest_of_line = script[after_semicolon..rest_of_line_end].trim();
    let trailing_text = !rest_of_line.is_empty() && !rest_of_line.starts_with("--");
    let data_start = rest_of_line_end;
    let mut line_start = data_start;
    while line_start < script.len() {
        let line_end = script[line_start..]
            .find('\n')
            .map_or(script.len(), |found| line_start + found + 1);
        let line = script[line_start..line_end].trim_end_matches(['\n', '\r']);
        if line == "\\." {
            return CopyBlock {
                data: CopyData {
                    text: &script[data_start..line_start],
                    offset: data_start,
                    terminated: true,
                    trailing_text,
                },
                resume_at: line_end,
            };
        }
        line_start = line_end;
    }
    CopyBlock {
        data: CopyData {
            text: &script[data_start..],
            offset: data_start,
            terminated: false,
            trailing_text,
        },
        resume_at: script.len(),
    }
}

/// Whether `sql` is `COPY ... FROM STDIN` (the rows come from the client).
pub fn is_copy_from_stdin(sql: &str) -> bool {
    let words = top_level_words(sql);
    words
        .first()
        .is_some_and(|word| word.eq_ignore_ascii_case("copy"))
        && words.windows(2).any(|pair| {
            pair[0].eq_ignore_ascii_case("from") && pair[1].eq_ignore_ascii_case("stdin")
        })
}

/// The unquoted words (keywords and plain identifiers) of one statement, in order, outside
/// parentheses, strings, quoted identifiers and comments: enough to tell what kind of
/// statement it is (`CREATE`, `INDEX`, `CONCURRENTLY`, ...).
pub fn top_level_words(sql: &str) -> Vec<&str> {
    let bytes = sql.as_bytes();
    let mut words = Vec::new();
    let mut depth = 0usize;
    let mut index = 0;
    while index < bytes.len() {
        let byte = bytes[index];
        let next = bytes.get(index + 1).copied();
        index = match byte {
            b'-' if next == Some(b'-') => memchr_from(bytes, index, b'\n').unwrap_or(bytes.len()),
            b'/' if next == Some(b'*') => skip_block_comment(bytes, index),
            b'\'' => skip_quoted(bytes, index, b'\'', is_escape_string_prefix(bytes, index)),
            b'"' => skip_quoted(bytes, index, b'"', false),
            b'$' => skip_dollar_quoted(sql, index).unwrap_or(index + 1),
            b'(' => {
                depth += 1;
                index + 1
            }
            b')' => {
                depth = depth.saturating_sub(1);
                index + 1
            }
            byte if is_identifier_start(byte) => {
                let word_end = word_end(bytes, index);
                if depth == 0 {
                    words.push(&sql[index..word_end]);
                }
                word_end
            }
            _ => index + 1,
        };
    }
    words
}

fn memchr_from(bytes: &[u8], from: usize, needle: u8) -> Option<usize> {
    bytes[from..]
        .iter()
        .position(|&byte| byte == needle)
        .map(|found| from + found)
}

/// What psql tracks to tell a statement's last semicolon from one inside it.
#[derive(Debug, Default)]
struct Nesting {
    /// Open parentheses.
    parens: usize,
    /// Open `BEGIN` (and, within one, `CASE`) blocks of a routine body.
    blocks: usize,
    /// The first four words of the statement, each as the one it is among CREATE, OR,
    /// REPLACE, FUNCTION and PROCEDURE, or `None`.
    leading: [Option<Leading>; 4],
    words: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Leading {
    Create,
    Or,
    Replace,
    Function,
    Procedure,
}

impl Nesting {
    fn is_open(&self) -> bool {
        self.parens > 0 || self.blocks > 0
    }

    /// Takes note of an unquoted word (a keyword or an identifier) at `self`'s depth.
    fn word(&mut self, word: &str) {
        let is = |keyword: &str| word.eq_ignore_ascii_case(keyword);
        if let Some(slot) = self.leading.get_mut(self.words) {
            *slot = [
                ("create", Leading::Create),
                ("or", Leading::Or),
                ("replace", Leading::Replace),
                ("function", Leading::Function),
                ("procedure", Leading::Procedure),
            ]
            .into_iter()
            .find_map(|(keyword, leading)| is(keyword).then_some(leading));
        }
        self.words += 1;
        if !self.defines_routine() || self.parens > 0 {
            return;
        }
        if is("begin") || (is("case") && self.blocks > 0) {
            self.blocks += 1;
        } else if is("end") {
            self.blocks = self.blocks.saturating_sub(1);
        }
    }

    /// Whether the statement so far is `CREATE [OR REPLACE] FUNCTION|PROCEDURE`.
    fn defines_routine(&self) -> bool {
        use Leading::*;
        let routine = |word: Option<Leading>| matches!(word, Some(Function | Procedure));
        match self.leading {
            [Some(Create), second, ..] if routine(second) => true,
            [Some(Create), Some(Or), Some(Replace), fourth] => routine(fourth),
            _ => false,
        }
    }
}

/// Index just past the unquoted word (keyword or identifier) starting at `start`.
fn word_end(bytes: &[u8], start: usize) -> usize {
    bytes[start..]
        .iter()
        .position(|&byte| !is_identifier_byte(byte))
        .map_or(bytes.len(), |found| start + found)
}

fn is_identifier_start(byte: u8) -> bool {
    byte.is_ascii_alphabetic() || byte == b'_' || byte >= 0x80
}

fn is_identifier_byte(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || byte == b'_' || byte == b'$' || byte >= 0x80
}

/// Index just past the block comment opening at `open`; block comments nest.
fn skip_block_comment(bytes: &[u8], open: usize) -> usize {
    let mut depth = 0usize;
    let mut index = open;
    while index < bytes.len() {
        match (bytes[index], bytes.get(index + 1).copied()) {
            (b'/', Some(b'*')) => {
                depth += 1;
                index += 2;
            }
            (b'*', Some(b'/')) => {
                depth -= 1;
                index += 2;
                if depth == 0 {
                    return index;
                }
            }
            _ => index += 1,
        }
    }
    bytes.len()
}

/// Whether the quote at `quote` opens an E'' string (an `E` or `e` that is not the end
/// of a longer identifier).
fn is_escape_string_prefix(bytes: &[u8], quote: usize) -> bool {
    quote >= 1
        && matches!(bytes[quote - 1], b'E' | b'e')
        && (quote < 2 || !is_identifier_byte(bytes[quote - 2]))
}

/// Index just past the quoted token opening at `open`; a doubled quote is an escaped quote.
fn skip_quoted(bytes: &[u8], open: usize, quote: u8, backslash_escapes: bool) -> usize {
    let mut index = open + 1;
    while index < bytes.len() {
        let byte = bytes[index];
        if backslash_escapes && byte == b'\\' {
            index += 2;
        } else if byte == quote {
            if bytes.get(index + 1) == Some(&quote) {
                index += 2;
            } else {
                return index + 1;
            }
        } else {
            index += 1;
        }
    }
    bytes.len()
}

/// Index just past the dollar-quoted string opening at `open`, or `None` when the `$`
/// does not open one (a positional parameter `$1`, or part of an identifier).
fn skip_dollar_quoted(script: &str, open: usize) -> Option<usize> {
    let bytes = script.as_bytes();
    if open > 0 && is_identifier_byte(bytes[open - 1]) {
        return None;
    }
    let mut tag_end = open + 1;
    while tag_end < bytes.len() && bytes[tag_end] != b'$' {
        let byte = bytes[tag_end];
        let valid = if tag_end == open + 1 {
            byte.is_ascii_alphabetic() || byte == b'_' || byte >= 0x80
        } else {
            byte.is_ascii_alphanumeric() || byte == b'_' || byte >= 0x80
        };
        if !valid {
            return None;
        }
        tag_end += 1;
    }
    if tag_end >= bytes.len() {
        return None;
    }
    let tag = &script[open..=tag_end];
    let body_start = tag_end + 1;
    Some(
        script[body_start..]
            .find(tag)
            .map_or(bytes.len(), |found| body_start + found + tag.len()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sqls(script: &str) -> Vec<&str> {
        split_statements(script).iter().map(|s| s.sql).collect()
    }

    #[test]
    fn splits_simple_statements() {
        assert_eq!(sqls("SELECT 1; SELECT 2;"), ["SELECT 1", "SELECT 2"]);
    }

    #[test]
    fn last_statement_without_semicolon() {
        assert_eq!(sqls("SELECT 1;\nSELECT 2\n"), ["SELECT 1", "SELECT 2"]);
    }

    #[test]
    fn empty_and_comment_only_statements_are_dropped() {
        assert_eq!(
            sqls(";;  -- nothing\n; /* still nothing */ ;"),
            Vec::<&str>::new()
        );
        assert_eq!(sqls(""), Vec::<&str>::new());
    }

    #[test]
    fn semicolon_in_single_quotes() {
        assert_eq!(
            sqls("INSERT INTO t VALUES ('a;b', 'it''s; fine'); SELECT 1"),
            ["INSERT INTO t VALUES ('a;b', 'it''s; fine')", "SELECT 1"]
        );
    }

    #[test]
    fn backslash_in_standard_string_does_not_escape() {
        // In a standard string, \ is literal, so the string ends at the second quote.
        assert_eq!(sqls(r"SELECT 'a\'; SELECT 2"), [r"SELECT 'a\'", "SELECT 2"]);
    }

    #[test]
    fn e_string_backslash_escapes() {
        assert_eq!(
            sqls(r"SELECT E'it\'s; here'; SELECT e'\\'; SELECT 3"),
            [r"SELECT E'it\'s; here'", r"SELECT e'\\'", "SELECT 3"]
        );
    }

    #[test]
    fn identifier_ending_in_e_is_not_an_e_string() {
        // `type'...'` is not an E string: the backslash is literal and the quote closes it.
        assert_eq!(
            sqls(r"SELECT some_e'\'; SELECT 2"),
            [r"SELECT some_e'\'", "SELECT 2"]
        );
    }

    #[test]
    fn semicolon_in_double_quoted_identifier() {
        assert_eq!(
            sqls(r#"CREATE TABLE "a;""b" (id int); SELECT 1"#),
            [r#"CREATE TABLE "a;""b" (id int)"#, "SELECT 1"]
        );
    }

    #[test]
    fn dollar_quoted_bodies() {
        let script = "CREATE FUNCTION f() RETURNS int AS $$ BEGIN RETURN 1; END; $$ LANGUAGE plpgsql;\n\
                      DO $body$ BEGIN PERFORM 1; RAISE NOTICE '$$;'; END $body$;\nSELECT 2";
        let statements = sqls(script);
        assert_eq!(statements.len(), 3, "{statements:?}");
        assert!(statements[0].ends_with("LANGUAGE plpgsql"));
        assert!(statements[1].starts_with("DO $body$") && statements[1].ends_with("$body$"));
        assert_eq!(statements[2], "SELECT 2");
    }

    #[test]
    fn nested_dollar_tags() {
        let script = "DO $outer$ BEGIN EXECUTE $inner$ SELECT 1; $inner$; END $outer$; SELECT 2";
        assert_eq!(sqls(script).len(), 2);
    }

    #[test]
    fn positional_parameter_and_identifier_dollars_are_not_quotes() {
        assert_eq!(
            sqls("PREPARE p AS SELECT $1; SELECT a$b$c FROM t; SELECT 3"),
            ["PREPARE p AS SELECT $1", "SELECT a$b$c FROM t", "SELECT 3"]
        );
    }

    #[test]
    fn comments_hide_semicolons() {
        let script = "SELECT 1 -- not; a split\n+ 1; /* outer /* inner; */ still; */ SELECT 2";
        assert_eq!(sqls(script), ["SELECT 1 -- not; a split\n+ 1", "SELECT 2"]);
    }

    #[test]
    fn leading_comments_are_not_part_of_the_statement() {
        let script =
            "-- nelo:no-transaction\n-- create it\nCREATE INDEX CONCURRENTLY i ON t (a);\n";
        let statements = split_statements(script);
        assert_eq!(statements.len(), 1);
        assert_eq!(statements[0].sql, "CREATE INDEX CONCURRENTLY i ON t (a)");
        assert_eq!(&script[statements[0].offset..][..6], "CREATE");
    }

    #[test]
    fn offsets_point_at_statement_start() {
        let script = "SELECT 1;\n  SELECT 'é';\nSELECT 3";
        for statement in split_statements(script) {
            assert_eq!(
                &script[statement.offset..][..statement.sql.len()],
                statement.sql
            );
        }
    }

    #[test]
    fn unterminated_constructs_swallow_the_rest() {
        assert_eq!(sqls("SELECT 'abc; SELECT 2"), ["SELECT 'abc; SELECT 2"]);
        assert_eq!(sqls("SELECT $$ abc; SELECT 2"), ["SELECT $$ abc; SELECT 2"]);
        assert_eq!(sqls("SELECT 1 /* abc; SELECT 2"), ["SELECT 1"]);
    }

    #[test]
    fn sql_standard_routine_bodies_are_one_statement() {
        let function = "CREATE FUNCTION add(a int, b int) RETURNS int LANGUAGE sql\n\
                        BEGIN ATOMIC\n  SELECT a + b;\nEND";
        let procedure = "create or replace procedure p() language sql begin atomic\n\
                         insert into t values (case when true then 1 else 2 end);\n\
                         select case 1 when 1 then 'a;' end;\nend";
        let script = format!("{function};\n{procedure};\nSELECT 3;");
        assert_eq!(sqls(&script), [function, procedure, "SELECT 3"]);
    }

    #[test]
    fn begin_outside_a_routine_definition_is_a_transaction() {
        assert_eq!(
            sqls("BEGIN; CREATE TABLE t (id int); END; SELECT 1"),
            ["BEGIN", "CREATE TABLE t (id int)", "END", "SELECT 1"]
        );
        assert_eq!(
            sqls(
                "CREATE TABLE begin_end (id int); CREATE TRIGGER begin AFTER INSERT ON t EXECUTE FUNCTION f(); SELECT 1"
            ),
            [
                "CREATE TABLE begin_end (id int)",
                "CREATE TRIGGER begin AFTER INSERT ON t EXECUTE FUNCTION f()",
                "SELECT 1"
            ]
        );
    }

    #[test]
    fn words_that_contain_begin_do_not_open_a_block() {
        let function =
            "CREATE FUNCTION f() RETURNS int LANGUAGE sql RETURN (SELECT begin_at FROM t)";
        assert_eq!(
            sqls(&format!("{function}; SELECT 2")),
            [function, "SELECT 2"]
        );
    }

    #[test]
    fn semicolons_inside_parentheses_do_not_split() {
        let rule = "CREATE RULE r AS ON INSERT TO t DO ALSO (INSERT INTO a VALUES (1); INSERT INTO b VALUES (2))";
        assert_eq!(sqls(&format!("{rule}; SELECT 1")), [rule, "SELECT 1"]);
        // A stray closing parenthesis does not make the depth negative.
        assert_eq!(sqls("SELECT 1); SELECT 2"), ["SELECT 1)", "SELECT 2"]);
    }

    #[test]
    fn copy_from_stdin_takes_the_following_lines_as_data() {
        let script = "SET search_path = '';\n\
                      COPY public.\"Tag\" (id, name) FROM stdin;\n\
                      1\tfirst; not SQL\n\
                      2\t\\N\n\
                      \\.\n\
                      SELECT 2;\n";
        let statements = split_statements(script);
        let sqls = statements.iter().map(|s| s.sql).collect::<Vec<_>>();
        assert_eq!(
            sqls,
            [
                "SET search_path = ''",
                "COPY public.\"Tag\" (id, name) FROM stdin",
                "SELECT 2"
            ]
        );
        let data = statements[1].copy_data.unwrap();
        assert_eq!(data.text, "1\tfirst; not SQL\n2\t\\N\n");
        assert_eq!(&script[data.offset..][..2], "1\t");
        assert!(data.terminated && !data.trailing_text);
        assert!(statements[0].copy_data.is_none() && statements[2].copy_data.is_none());
    }

    #[test]
    fn copy_data_without_end_marker_runs_to_the_end() {
        let script = "COPY t FROM STDIN WITH (FORMAT text); -- rows\r\n1\r\n2\r\n";
        let statements = split_statements(script);
        assert_eq!(statements.len(), 1);
        let data = statements[0].copy_data.unwrap();
        assert_eq!(data.text, "1\r\n2\r\n");
        assert!(!data.terminated && !data.trailing_text);
        let trailing = split_statements("COPY t FROM stdin; SELECT 1\n\\.\n");
        assert!(trailing[0].copy_data.unwrap().trailing_text);
    }

    #[test]
    fn copy_to_stdout_and_from_a_file_have_no_inline_data() {
        for sql in [
            "COPY t TO STDOUT",
            "COPY t FROM '/tmp/stdin'",
            "COPY (SELECT 'from stdin') TO STDOUT",
            "SELECT 'COPY t FROM STDIN'",
        ] {
            assert!(!is_copy_from_stdin(sql), "{sql}");
        }
        assert!(is_copy_from_stdin(
            "copy \"t\" (a) from STDIN with (format csv)"
        ));
    }

    #[test]
    fn top_level_words_skip_quotes_comments_and_parentheses() {
        assert_eq!(
            top_level_words(
                "CREATE /* x */ UNIQUE INDEX CONCURRENTLY \"i\" ON t (lower(a)) -- c\n WHERE b = 'x y'"
            ),
            [
                "CREATE",
                "UNIQUE",
                "INDEX",
                "CONCURRENTLY",
                "ON",
                "t",
                "WHERE",
                "b"
            ]
        );
        assert_eq!(
            top_level_words("REINDEX (VERBOSE) INDEX CONCURRENTLY i"),
            ["REINDEX", "INDEX", "CONCURRENTLY", "i"]
        );
    }

    #[test]
    fn crlf_line_endings() {
        assert_eq!(
            sqls("SELECT 1;\r\n-- c;\r\nSELECT 2;\r\n"),
            ["SELECT 1", "SELECT 2"]
        );
    }

    /// Found by the `split` fuzz target (minimized): a quote that the end of the script cuts
    /// short keeps the white space it holds, so the last statement may end with it; every other
    /// statement ends at its last token.
    #[test]
    fn unterminated_quote_at_the_end_keeps_its_white_space() {
        let statements = split_statements("\"\n");
        assert_eq!(statements.len(), 1);
        assert_eq!(statements[0].sql, "\"\n");
        assert_eq!(
            sqls("SELECT 'a\n; SELECT 2 \n"),
            ["SELECT 'a\n; SELECT 2 \n"]
        );
        assert_eq!(
            sqls("SELECT 'a' \n; SELECT \"b\" \n"),
            ["SELECT 'a'", "SELECT \"b\""]
        );
    }
}
