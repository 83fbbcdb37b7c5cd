//! Restoring across environments: a dump from staging or production names roles (owners,
//! grantees) that do not exist here. [`RoleFilter`] streams a pg_dump script through and
//! drops exactly the statements that give ownership or privileges to such a role (`ALTER
//! ... OWNER TO`, `GRANT`, `REVOKE`, `ALTER DEFAULT PRIVILEGES`, and the `SET SESSION
//! AUTHORIZATION` blocks pg_dump writes for grants made by another role), counting them per
//! role; everything else passes byte for byte. COPY data, quoted text and dollar-quoted
//! bodies are never taken for statements.

use std::collections::{BTreeMap, HashSet};

use super::lines::LineBuffer;

/// What was dropped for one missing role.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Dropped {
    /// `ALTER ... OWNER TO role`: the object stays owned by the restoring user.
    pub ownership: usize,
    /// `GRANT`, `REVOKE`, default privileges, and statements run as that role.
    pub privileges: usize,
}

/// A streaming filter over a pg_dump SQL script.
pub struct RoleFilter {
    existing: HashSet<String>,
    dropped: BTreeMap<String, Dropped>,
    lines: LineBuffer,
    lexer: Lexer,
    /// Inside `COPY ... FROM stdin;` data, until `\.`.
    in_copy: bool,
    /// Dropping the statements of a `SET SESSION AUTHORIZATION` of a missing role, until
    /// `RESET SESSION AUTHORIZATION`.
    skipping_session_of: Option<String>,
}

impl RoleFilter {
    /// A filter keeping the statements that name only roles in `existing`.
    pub fn new(existing: impl IntoIterator<Item = String>) -> RoleFilter {
        RoleFilter {
            existing: existing.into_iter().collect(),
            dropped: BTreeMap::new(),
            lines: LineBuffer::default(),
            lexer: Lexer::default(),
            in_copy: false,
            skipping_session_of: None,
        }
    }

    /// Takes the next bytes of the script; returns the bytes to pass on.
    pub fn push(&mut self, chunk: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(chunk.len() + 64);
        let mut lines = std::mem::take(&mut self.lines);
        lines.push(chunk, |line| self.line(line, &mut out));
        self.lines = lines;
        out
    }

    /// The end of the script: the last line, if it had no newline.
    pub fn finish(&mut self) -> Vec<u8> {
        let mut out = Vec::new();
        let last = self.lines.finish();
        if !last.is_empty() {
            self.line(&last, &mut out);
        }
        out
    }

    /// What was dropped, per missing role.
    pub fn dropped(&self) -> &BTreeMap<String, Dropped> {
        &self.dropped
    }

    fn line(&mut self, line: &[u8], out: &mut Vec<u8>) {
        if self.in_copy {
            if trimmed(line) == b"\\." {
                self.in_copy = false;
            }
            out.extend_from_slice(line);
            return;
        }
        let at_statement_start = self.lexer.is_between_statements();
        let text = String::from_utf8_lossy(line);
        self.lexer.scan(&text);
        if !at_statement_start || !self.lexer.is_between_statements() {
            out.extend_from_slice(line);
            return;
        }
        let statement = text.trim();
        if statement.starts_with("COPY ") && statement.ends_with("FROM stdin;") {
            self.in_copy = true;
        }
        if let Some(role) = &self.skipping_session_of {
            let role = role.clone();
            if statement.eq_ignore_ascii_case("RESET SESSION AUTHORIZATION;") {
                self.skipping_session_of = None;
            } else if !statement.is_empty() && !statement.starts_with("--") {
                self.count(&role, Kind::Privileges);
            }
            return;
        }
        match classify(statement) {
            Some((kind, roles)) => match roles.iter().find(|role| !self.exists(role)) {
                Some(missing) => {
                    let missing = missing.clone();
                    if kind == Kind::Session {
                        self.skipping_session_of = Some(missing);
                    } else {
                        self.count(&missing, kind);
                    }
                }
                None => out.extend_from_slice(line),
            },
            None => out.extend_from_slice(line),
        }
    }

    fn exists(&self, role: &str) -> bool {
        role.eq_ignore_ascii_case("PUBLIC") || self.existing.contains(role)
    }

    fn count(&mut self, role: &str, kind: Kind) {
        let entry = self.dropped.entry(role.to_string()).or_default();
        match kind {
            Kind::Ownership => entry.ownership += 1,
            Kind::Privileges | Kind::Session => entry.privileges += 1,
        }
    }
}

/// One line per missing role: what a restore left out, for the report.
pub fn describe_dropped(dropped: &BTreeMap<String, Dropped>, restoring_user: &str) -> Vec<String> {
    dropped
        .iter()
        .map(|(role, dropped)| {
            let mut parts = Vec::new();
            if dropped.ownership > 0 {
                parts.push(format!(
                    "ownership of {} (owned by `{restoring_user}` instead)",
                    objects(dropped.ownership)
                ));
            }
            if dropped.privileges > 0 {
                parts.push(format!(
                    "{} privilege statement{}",
                    dropped.privileges,
                    if dropped.privileges == 1 { "" } else { "s" }
                ));
            }
            format!("role `{role}`: {}", parts.join(", "))
        })
        .collect()
}

fn objects(count: usize) -> String {
    if count == 1 {
        "1 object".to_string()
    } else {
        format!("{count} objects")
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Ownership,
    Privileges,
    /// `SET SESSION AUTHORIZATION role;`: what follows, up to its reset, runs as the role.
    Session,
}

/// The roles a one-line ownership or privilege statement names, or `None` for any other.
fn classify(statement: &str) -> Option<(Kind, Vec<String>)> {
    let tokens = tokens(statement.strip_suffix(';')?);
    let upper: Vec<String> = tokens.iter().map(|t| t.to_ascii_uppercase()).collect();
    let is = |index: usize, word: &str| upper.get(index).is_some_and(|t| t == word);
    let after = |word: &str| -> Vec<String> {
        match upper.iter().rposition(|t| t == word) {
            Some(position) => role_list(&tokens[position + 1..]),
            None => Vec::new(),
        }
    };
    if is(0, "ALTER") && upper.len() >= 3 && is(upper.len() - 3, "OWNER") {
        let role = unquote(&tokens[upper.len() - 1]);
        return is(upper.len() - 2, "TO").then(|| (Kind::Ownership, vec![role]));
    }
    if is(0, "GRANT") {
        return Some((Kind::Privileges, after("TO")));
    }
    if is(0, "REVOKE") {
        return Some((Kind::Privileges, after("FROM")));
    }
    if is(0, "ALTER") && is(1, "DEFAULT") && is(2, "PRIVILEGES") {
        let mut roles = Vec::new();
        if is(3, "FOR") && (is(4, "ROLE") || is(4, "USER")) {
            roles.push(unquote(tokens.get(5)?));
        }
        let grantees = if upper.contains(&"GRANT".to_string()) {
            after("TO")
        } else {
            after("FROM")
        };
        roles.extend(grantees);
        return Some((Kind::Privileges, roles));
    }
    if is(0, "SET") && is(1, "SESSION") && is(2, "AUTHORIZATION") && tokens.len() == 4 {
        let role = tokens[3].trim_matches('\'');
        return Some((Kind::Session, vec![unquote(role)]));
    }
    None
}

/// `a, "B c" WITH GRANT OPTION` -> `["a", "B c"]`.
fn role_list(tokens: &[String]) -> Vec<String> {
    tokens
        .iter()
        .take_while(|token| {
            !matches!(
                token.to_ascii_uppercase().as_str(),
                "WITH" | "GRANTED" | "CASCADE" | "RESTRICT"
            )
        })
        .filter(|token| token.as_str() != ",")
        .map(|token| unquote(token.trim_end_matches(',')))
        .filter(|role| !role.is_empty())
        .collect()
}

/// Words, quoted identifiers and literals kept whole, commas on their own.
fn tokens(text: &str) -> Vec<String> {
    let mut tokens = Vec::new();
    let mut current = String::new();
    let mut quote: Option<char> = None;
    for character in text.chars() {
        match quote {
            Some(open) => {
                current.push(character);
                if character == open {
                    quote = None;
                }
            }
            None if character == '"' || character == '\'' => {
                current.push(character);
                quote = Some(character);
            }
            None if character.is_whitespace() || character == ',' => {
                if !current.is_empty() {
                    tokens.push(std::mem::take(&mut current));
                }
                if character == ',' {
                    tokens.push(",".to_string());
                }
            }
            None => current.push(character),
        }
    }
    if !current.is_empty() {
        tokens.push(current);
    }
    tokens
}

/// `"Prod ""A"""` -> `Prod "A"`; a bare name is folded to lower case, as PostgreSQL does.
fn unquote(token: &str) -> String {
    match token
        .strip_prefix('"')
        .and_then(|inner| inner.strip_suffix('"'))
    {
        Some(inner) => inner.replace("\"\"", "\""),
        None => token.to_ascii_lowercase(),
    }
}

fn trimmed(line: &[u8]) -> &[u8] {
    let end = line
        .iter()
        .rposition(|byte| !byte.is_ascii_whitespace())
        .map_or(0, |position| position + 1);
    &line[..end]
}

/// Where a script stands between statements: inside a literal, a quoted identifier or a
/// dollar-quoted body, or inside a statement not yet ended by `;`.
#[derive(Debug, Default)]
struct Lexer {
    in_single: bool,
    in_double: bool,
    dollar_tag: Option<String>,
    in_statement: bool,
}

impl Lexer {
    fn is_between_statements(&self) -> bool {
        !self.in_single && !self.in_double && self.dollar_tag.is_none() && !self.in_statement
    }

    fn scan(&mut self, line: &str) {
        // psql's meta-commands (`\restrict`, `\connect`) are one line each.
        if self.is_between_statements() && line.trim_start().starts_with('\\') {
            return;
        }
        let bytes = line.as_bytes();
        let mut index = 0;
        while index < bytes.len() {
            let byte = bytes[index];
            if let Some(tag) = &self.dollar_tag {
                if line[index..].starts_with(tag.as_str()) {
                    index += tag.len();
                    self.dollar_tag = None;
                } else {
                    index += 1;
                }
                continue;
            }
            if self.in_single {
                self.in_single = byte != b'\'';
                index += 1;
                continue;
            }
            if self.in_double {
                self.in_double = byte != b'"';
                index += 1;
                continue;
            }
            match byte {
                b'-' if bytes.get(index + 1) == Some(&b'-') => return,
                b'\'' => self.in_single = true,
                b'"' => self.in_double = true,
                b';' => {
                    self.in_statement = false;
                    index += 1;
                    continue;
                }
                b'$' => {
                    if let Some(tag) = dollar_tag_at(&line[index..]) {
                        index += tag.len();
                        self.dollar_tag = Some(tag);
                        self.in_statement = true;
                        continue;
                    }
                }
                _ => {}
            }
            if !byte.is_ascii_whitespace() {
                self.in_statement = true;
            }
            index += 1;
        }
    }
}

/// `$$` or `$tag$` at the start of `text`.
fn dollar_tag_at(text: &str) -> Option<String> {
    let rest = text.strip_prefix('$')?;
    let end = rest.find('$')?;
    let tag = &rest[..end];
    let valid = tag
        .chars()
        .enumerate()
        .all(|(i, c)| c == '_' || c.is_ascii_alphabetic() || (i > 0 && c.is_ascii_digit()));
    valid.then(|| format!("${tag}$"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn filter(script: &str, existing: &[&str]) -> (String, BTreeMap<String, Dropped>) {
        let mut filter = RoleFilter::new(existing.iter().map(|role| role.to_string()));
        // Fed in small pieces, as a stream arrives.
        let mut out = Vec::new();
        for piece in script.as_bytes().chunks(7) {
            out.extend(filter.push(piece));
        }
        out.extend(filter.finish());
        (String::from_utf8(out).unwrap(), filter.dropped().clone())
    }

    const SCRIPT: &str = "\
--
-- PostgreSQL database dump
--
\\restrict abc
SET statement_timeout = 0;
CREATE TABLE public.scene (id integer, title text DEFAULT 'GRANT x TO y;');
ALTER TABLE public.scene OWNER TO prod_owner;
ALTER SCHEMA app OWNER TO nelo;
CREATE FUNCTION public.f() RETURNS void
    LANGUAGE plpgsql
    AS $_$
BEGIN
GRANT SELECT ON public.scene TO ghost;
END
$_$;
COPY public.scene (id, title) FROM stdin;
1\tREVOKE ALL ON public.scene FROM ghost;
\\.
GRANT SELECT ON TABLE public.scene TO readonly;
GRANT SELECT ON TABLE public.scene TO nelo;
GRANT ALL ON TABLE public.scene TO \"Prod Admin\" WITH GRANT OPTION;
REVOKE ALL ON SCHEMA public FROM PUBLIC;
ALTER DEFAULT PRIVILEGES FOR ROLE prod_owner IN SCHEMA public GRANT SELECT ON TABLES TO nelo;
SET SESSION AUTHORIZATION readonly;
GRANT SELECT ON TABLE public.scene TO nelo;
RESET SESSION AUTHORIZATION;
COMMENT ON TABLE public.scene IS 'multi
GRANT SELECT ON t TO ghost;
line';
--
-- PostgreSQL database dump complete
--
";

    #[test]
    fn statements_for_missing_roles_are_dropped_and_everything_else_kept() {
        let (out, dropped) = filter(SCRIPT, &["nelo"]);
        let removed: Vec<&str> = SCRIPT.lines().filter(|l| !out.contains(l)).collect();
        assert_eq!(
            removed,
            [
                "ALTER TABLE public.scene OWNER TO prod_owner;",
                "GRANT SELECT ON TABLE public.scene TO readonly;",
                "GRANT ALL ON TABLE public.scene TO \"Prod Admin\" WITH GRANT OPTION;",
                "ALTER DEFAULT PRIVILEGES FOR ROLE prod_owner IN SCHEMA public GRANT SELECT ON TABLES TO nelo;",
                "SET SESSION AUTHORIZATION readonly;",
                "RESET SESSION AUTHORIZATION;",
            ]
        );
        // The grant inside the session block is gone too (its line is also kept elsewhere).
        assert_eq!(
            out.matches("GRANT SELECT ON TABLE public.scene TO nelo;")
                .count(),
            1
        );
        assert_eq!(
            dropped,
            BTreeMap::from([
                (
                    "Prod Admin".to_string(),
                    Dropped {
                        ownership: 0,
                        privileges: 1
                    }
                ),
                (
                    "prod_owner".to_string(),
                    Dropped {
                        ownership: 1,
                        privileges: 1
                    }
                ),
                (
                    "readonly".to_string(),
                    Dropped {
                        ownership: 0,
                        privileges: 2
                    }
                ),
            ])
        );
    }

    #[test]
    fn with_every_role_present_the_script_passes_unchanged() {
        let roles = ["nelo", "prod_owner", "readonly", "Prod Admin", "ghost"];
        let (out, dropped) = filter(SCRIPT, &roles);
        assert_eq!(out, SCRIPT);
        assert!(dropped.is_empty());
    }

    #[test]
    fn the_report_names_each_role_and_what_it_lost() {
        let (_, dropped) = filter(SCRIPT, &["nelo"]);
        let lines = describe_dropped(&dropped, "nelo");
        assert_eq!(
            lines,
            [
                "role `Prod Admin`: 1 privilege statement",
                "role `prod_owner`: ownership of 1 object (owned by `nelo` instead), 1 privilege statement",
                "role `readonly`: 2 privilege statements",
            ]
        );
    }

    #[test]
    fn a_script_without_a_final_newline_keeps_its_last_line() {
        let (out, _) = filter("SELECT 1;\nSELECT 2;", &[]);
        assert_eq!(out, "SELECT 1;\nSELECT 2;");
    }
}
