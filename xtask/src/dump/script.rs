//! A plain dump acts only on the database it is restored into. [`Scanner`] reads a script
//! as psql does (quoted text, dollar-quoted bodies, comments, `COPY ... FROM stdin` data up
//! to `\.`) and finds what would act elsewhere: a psql meta-command other than pg_dump's
//! own `\restrict KEY` / `\unrestrict KEY` lines (`\connect`, `\!`, `\copy`...), or a
//! statement on databases, roles, tablespaces, the server's settings or its files and
//! programs (pg_dump without `--create` writes none). [`Restrictor`] is the second line of
//! defence on the way into psql: it drops the dump's own `\restrict` lines and starts the
//! stream with a `\restrict` of a key of its own, so psql refuses every meta-command.

use super::lines::LineBuffer;

/// What a line of a script is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Line {
    /// Inside `COPY ... FROM stdin` data, or its closing `\.`.
    CopyData,
    /// pg_dump's own `\restrict KEY` or `\unrestrict KEY`, alone between statements.
    Restrict,
    /// SQL (or comments, blank), with every finding on it.
    Sql(Vec<String>),
}

/// The longest statement start kept to classify it (bodies and literals are masked).
const KEPT_STATEMENT: usize = 64 * 1024;

/// psql's view of a script, line by line.
#[derive(Debug, Default)]
pub(crate) struct Scanner {
    in_copy: bool,
    /// A `COPY ... FROM stdin` ended on this line: data starts on the next.
    copy_next: bool,
    single: bool,
    /// An `E'...'` string, where a backslash escapes the next byte.
    escape_string: bool,
    double: bool,
    block_comments: usize,
    dollar_tag: Option<Vec<u8>>,
    /// The statement so far, with literals, identifiers and bodies masked.
    statement: Vec<u8>,
}

impl Scanner {
    /// Reads one line (with its newline, if any).
    pub(crate) fn line(&mut self, line: &[u8]) -> Line {
        if self.in_copy {
            if trim(line) == b"\\." {
                self.in_copy = false;
            }
            return Line::CopyData;
        }
        if self.between_statements() && is_own_restrict(trim(line)) {
            return Line::Restrict;
        }
        let mut findings = Vec::new();
        let mut index = 0;
        while index < line.len() {
            let byte = line[index];
            let next = line.get(index + 1).copied();
            if let Some(tag) = &self.dollar_tag {
                if line[index..].starts_with(tag) {
                    index += tag.len();
                    self.dollar_tag = None;
                } else {
                    index += 1;
                }
                continue;
            }
            if self.block_comments > 0 {
                if byte == b'*' && next == Some(b'/') {
                    self.block_comments -= 1;
                    index += 2;
                } else if byte == b'/' && next == Some(b'*') {
                    self.block_comments += 1;
                    index += 2;
                } else {
                    index += 1;
                }
                continue;
            }
            if self.single {
                if self.escape_string && byte == b'\\' {
                    index += 2;
                    continue;
                }
                if byte == b'\'' {
                    self.single = false;
                }
                index += 1;
                continue;
            }
            if self.double {
                if byte == b'"' {
                    self.double = false;
                }
                index += 1;
                continue;
            }
            match byte {
                b'-' if next == Some(b'-') => break,
                b'/' if next == Some(b'*') => {
                    self.block_comments = 1;
                    index += 2;
                    continue;
                }
                b'\'' => {
                    let previous = index.checked_sub(1).map(|at| line[at]);
                    let before = index.checked_sub(2).map(|at| line[at]);
                    self.escape_string = matches!(previous, Some(b'e' | b'E'))
                        && !before.is_some_and(is_identifier_byte);
                    self.single = true;
                    self.push(b"''");
                }
                b'"' => {
                    self.double = true;
                    self.push(b"\"\"");
                }
                b'$' => {
                    let previous = index.checked_sub(1).map(|at| line[at]);
                    match dollar_tag_at(&line[index..]) {
                        Some(tag) if !previous.is_some_and(is_identifier_byte) => {
                            index += tag.len();
                            self.dollar_tag = Some(tag);
                            self.push(b" $$ ");
                            continue;
                        }
                        _ => self.push(b"$"),
                    }
                }
                b'\\' => {
                    let command = String::from_utf8_lossy(trim(&line[index..])).into_owned();
                    findings.push(format!(
                        "the psql meta-command `{command}`: a dump may hold SQL only (pg_dump \
                         --create writes `\\connect`: dump without --create)"
                    ));
                    break;
                }
                b';' => {
                    if let Some(finding) = self.end_statement() {
                        findings.push(finding);
                    }
                }
                _ => self.push(&[byte]),
            }
            index += 1;
        }
        if self.copy_next {
            self.copy_next = false;
            self.in_copy = true;
        }
        if !self.statement.is_empty() {
            self.push(b" ");
        }
        Line::Sql(findings)
    }

    /// The end of the script: a last statement without `;`.
    pub(crate) fn finish(&mut self) -> Option<String> {
        self.end_statement()
    }

    fn between_statements(&self) -> bool {
        !self.single
            && !self.double
            && self.block_comments == 0
            && self.dollar_tag.is_none()
            && self.statement.iter().all(u8::is_ascii_whitespace)
    }

    fn push(&mut self, bytes: &[u8]) {
        if self.statement.len() < KEPT_STATEMENT {
            self.statement.extend_from_slice(bytes);
        }
    }

    fn end_statement(&mut self) -> Option<String> {
        let statement = String::from_utf8_lossy(&std::mem::take(&mut self.statement)).to_string();
        let (finding, copy_in) = classify(&statement);
        self.copy_next |= copy_in;
        finding
    }
}

/// What a statement does outside its database (or `None`), and whether it is a
/// `COPY ... FROM stdin` (its data follows).
fn classify(statement: &str) -> (Option<String>, bool) {
    let words = words(statement);
    let word = |at: usize| words.get(at).map_or("", |(word, _)| word.as_str());
    let outside = |what: &str, hint: &str| {
        Some(format!(
            "`{}` acts on {what}, not only on the database it is restored into{hint}",
            shorten(statement.trim())
        ))
    };
    const CREATE_HINT: &str =
        " (a dump made with `pg_dump --create`: dump without --create, or drop these lines)";
    match word(0) {
        "create" | "alter" | "drop" => {
            let object = if word(1) == "or" { word(3) } else { word(1) };
            let object = if object == "unique" { word(2) } else { object };
            match object {
                "database" => return (outside("a database", CREATE_HINT), false),
                "role" | "group" => return (outside("the server's roles", ""), false),
                "user" if word(2) != "mapping" => {
                    return (outside("the server's roles", ""), false);
                }
                "tablespace" => return (outside("the server's tablespaces", ""), false),
                "system" => return (outside("the server's settings", ""), false),
                "owned" => return (outside("the server's roles", ""), false),
                _ => {}
            }
        }
        "reassign" => return (outside("the server's roles", ""), false),
        "comment" | "security" => {
            let on = words.iter().position(|(word, _)| word == "on");
            let object = on.map_or("", |at| word(at + 1));
            if matches!(object, "database" | "role" | "tablespace") {
                return (outside(&format!("a {object}"), CREATE_HINT), false);
            }
        }
        "grant" | "revoke" => {
            let on = words
                .iter()
                .position(|(word, depth)| *depth == 0 && word == "on");
            match on.map(|at| word(at + 1)) {
                Some("database") => return (outside("a database", CREATE_HINT), false),
                Some("tablespace" | "parameter") => {
                    return (outside("the server", ""), false);
                }
                Some(_) => {}
                // `GRANT role TO role`: membership, a server-wide fact.
                None => return (outside("the server's roles", ""), false),
            }
        }
        "copy" => {
            let from_stdin = words
                .windows(2)
                .any(|pair| pair[0] == ("from".to_string(), 0) && pair[1].0 == "stdin");
            if from_stdin {
                return (None, true);
            }
            return (
                outside(
                    "the server's files or programs",
                    " (pg_dump writes only `COPY ... FROM stdin`)",
                ),
                false,
            );
        }
        "load" => return (outside("the server's libraries", ""), false),
        _ => {}
    }
    (None, false)
}

/// The statement's words, lowercased, each with its parenthesis depth.
fn words(statement: &str) -> Vec<(String, usize)> {
    let mut words = Vec::new();
    let mut depth = 0usize;
    let mut current = String::new();
    let mut flush = |current: &mut String, depth: usize| {
        if !current.is_empty() {
            words.push((current.to_ascii_lowercase(), depth));
            current.clear();
        }
    };
    for character in statement.chars() {
        match character {
            '(' => {
                flush(&mut current, depth);
                depth += 1;
            }
            ')' => {
                flush(&mut current, depth);
                depth = depth.saturating_sub(1);
            }
            c if c.is_whitespace() || c == ',' => flush(&mut current, depth),
            c => current.push(c),
        }
    }
    flush(&mut current, depth);
    words
}

fn shorten(statement: &str) -> String {
    let one_line = statement.split_whitespace().collect::<Vec<_>>().join(" ");
    match one_line.char_indices().nth(60) {
        Some((at, _)) => format!("{}...", &one_line[..at]),
        None => one_line,
    }
}

/// `\restrict KEY` or `\unrestrict KEY` as pg_dump writes them (one alphanumeric key).
fn is_own_restrict(line: &[u8]) -> bool {
    let rest = line
        .strip_prefix(b"\\restrict ")
        .or_else(|| line.strip_prefix(b"\\unrestrict "));
    rest.is_some_and(|key| !key.is_empty() && key.iter().all(u8::is_ascii_alphanumeric))
}

fn is_identifier_byte(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || byte == b'_' || byte == b'$' || byte >= 0x80
}

/// `$$` or `$tag$` at the start of `text`.
fn dollar_tag_at(text: &[u8]) -> Option<Vec<u8>> {
    let rest = text.strip_prefix(b"$")?;
    let end = rest.iter().position(|&byte| byte == b'$')?;
    let tag = &rest[..end];
    let valid = tag.iter().enumerate().all(|(at, &byte)| {
        byte == b'_'
            || byte.is_ascii_alphabetic()
            || byte >= 0x80
            || (at > 0 && byte.is_ascii_digit())
    });
    valid.then(|| text[..end + 2].to_vec())
}

fn trim(line: &[u8]) -> &[u8] {
    line.trim_ascii()
}

/// The first reason `script` (read from `reader`) would act outside the database it is
/// restored into, with its line number.
pub(crate) fn first_problem(
    reader: impl std::io::BufRead,
) -> std::io::Result<Option<(usize, String)>> {
    let mut reader = reader;
    let mut scanner = Scanner::default();
    let mut line = Vec::new();
    let mut number = 0;
    loop {
        line.clear();
        if reader.read_until(b'\n', &mut line)? == 0 {
            break;
        }
        number += 1;
        if let Line::Sql(findings) = scanner.line(&line)
            && let Some(finding) = findings.into_iter().next()
        {
            return Ok(Some((number, finding)));
        }
    }
    Ok(scanner.finish().map(|finding| (number, finding)))
}

/// Drops the script's own `\restrict` lines and starts it with `\restrict KEY`, so psql
/// runs no meta-command from it.
pub(crate) struct Restrictor {
    scanner: Scanner,
    lines: LineBuffer,
    started: Option<String>,
}

impl Restrictor {
    pub(crate) fn new() -> Restrictor {
        let key = uuid::Uuid::new_v4().simple().to_string();
        Restrictor {
            scanner: Scanner::default(),
            lines: LineBuffer::default(),
            started: Some(key),
        }
    }

    /// Takes the next bytes of the script; returns the bytes to pass on.
    pub(crate) fn push(&mut self, chunk: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(chunk.len() + 64);
        if let Some(key) = self.started.take() {
            out.extend_from_slice(format!("\\restrict {key}\n").as_bytes());
        }
        let mut lines = std::mem::take(&mut self.lines);
        lines.push(chunk, |line| self.line(line, &mut out));
        self.lines = lines;
        out
    }

    /// The end of the script: the last line, if it had no newline.
    pub(crate) fn finish(&mut self) -> Vec<u8> {
        let mut out = self.push(b"");
        let last = self.lines.finish();
        if !last.is_empty() {
            self.line(&last, &mut out);
        }
        out
    }

    fn line(&mut self, line: &[u8], out: &mut Vec<u8>) {
        if self.scanner.line(line) != Line::Restrict {
            out.extend_from_slice(line);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problem(script: &str) -> Option<(usize, String)> {
        first_problem(script.as_bytes()).unwrap()
    }

    const DUMP: &str = "--\n-- PostgreSQL database dump\n--\n\n\\restrict abc\n\n\
        SET standard_conforming_strings = on;\n\
        CREATE TABLE public.t (a text);\n\
        CREATE FUNCTION public.f() RETURNS text LANGUAGE sql AS $_$ SELECT '\\! x; DROP DATABASE y' $_$;\n\
        COMMENT ON TABLE public.t IS 'about \\connect; DROP DATABASE x';\n\
        CREATE USER MAPPING FOR nelo SERVER s;\n\
        GRANT SELECT ON TABLE public.t TO nelo;\n\
        COPY public.t (a) FROM stdin;\n\\\\x\n\\connect nelo\nDROP DATABASE nelo;\n\\.\n\
        SELECT E'it\\'s \\\\'; /* \\! not /* nested */ here */\n\
        \\unrestrict abc\n\n--\n-- PostgreSQL database dump complete\n--\n";

    #[test]
    fn a_pg_dump_script_with_backslashes_in_its_data_and_text_passes() {
        assert_eq!(problem(DUMP), None);
    }

    #[test]
    fn meta_commands_and_statements_on_other_databases_are_found_by_line() {
        let cases = [
            ("DROP DATABASE IF EXISTS nelo;\n", "--create"),
            (
                "CREATE DATABASE nelo WITH TEMPLATE = template0;\n",
                "a database",
            ),
            ("ALTER DATABASE nelo OWNER TO x;\n", "a database"),
            ("\\connect nelo\n", "`\\connect nelo`"),
            ("SELECT 1; \\! touch /tmp/x\n", "`\\! touch /tmp/x`"),
            ("CREATE ROLE x;\n", "roles"),
            ("ALTER USER nelo PASSWORD 'x';\n", "roles"),
            ("GRANT pg_read_server_files TO x;\n", "roles"),
            ("ALTER SYSTEM SET fsync = off;\n", "settings"),
            ("COPY public.t FROM PROGRAM 'touch /tmp/x';\n", "programs"),
            ("COPY (SELECT 1 FROM stdin) TO '/tmp/x';\n", "programs"),
            ("\\restrict abc def\n", "meta-command"),
        ];
        for (line, expected) in cases {
            let script = format!("SET x = 1;\n{line}SELECT 2;\n");
            let (number, finding) = problem(&script).unwrap_or_else(|| panic!("{line}"));
            assert_eq!(number, 2, "{line}");
            assert!(finding.contains(expected), "{line}: {finding}");
        }
    }

    #[test]
    fn copy_data_ends_only_at_its_own_line() {
        let script = "COPY t (a) FROM stdin;\nx\\.y\n\\.\n\\connect nelo\n";
        assert_eq!(problem(script).unwrap().0, 4);
    }

    #[test]
    fn the_restrictor_replaces_the_dumps_own_restrict_lines_with_its_own() {
        let mut restrictor = Restrictor::new();
        let mut out = Vec::new();
        for chunk in DUMP.as_bytes().chunks(7) {
            out.extend(restrictor.push(chunk));
        }
        out.extend(restrictor.finish());
        let out = String::from_utf8(out).unwrap();
        let first = out.lines().next().unwrap();
        assert!(
            first.starts_with("\\restrict ") && first.len() > 20,
            "{first}"
        );
        assert!(!out.contains("restrict abc"), "{out}");
        assert_eq!(out.lines().skip(1).collect::<Vec<_>>().join("\n").len(), {
            let kept: Vec<&str> = DUMP
                .lines()
                .filter(|line| !line.ends_with("restrict abc"))
                .collect();
            kept.join("\n").len()
        });
    }
}
