//! Every use of the `squawk-linter` and `squawk-syntax` crates, so that an upgrade (they are
//! pinned exactly, with no API-stability promise between releases) touches this file only.

use squawk_linter::{Linter, LinterSettings, Rule};
use squawk_syntax::SourceFile;

/// One finding as squawk reports it, before nelo's levels apply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RawFinding {
    /// The rule's kebab-case name (`require-concurrent-index-creation`), or `syntax-error`
    /// for a statement squawk's parser does not understand.
    pub rule: String,
    pub message: String,
    pub help: Option<String>,
    /// Byte range in the linted text.
    pub start: usize,
    pub end: usize,
}

/// The rule name nelo gives squawk's parse errors.
pub(crate) const SYNTAX_ERROR: &str = "syntax-error";

/// Lints `sql` with exactly the rules in `enabled` (kebab-case names; unknown names are
/// ignored), `assume_in_transaction` telling squawk whether the file runs inside a
/// transaction block that it does not open itself. Squawk's ignore comments
/// (`-- squawk-ignore rule`, `-- squawk-ignore-file rule`) are honoured by squawk itself.
pub(crate) fn lint(
    sql: &str,
    enabled: &[&str],
    assume_in_transaction: bool,
    pg_major: u32,
) -> Vec<RawFinding> {
    let parse = SourceFile::parse(sql);
    let rules = enabled
        .iter()
        .filter_map(|name| name.parse::<Rule>().ok())
        // Unknown rule names in ignore comments are reported as `unused-ignore`.
        .chain([Rule::UnusedIgnore]);
    let mut linter = Linter::from(rules);
    linter.settings = LinterSettings {
        pg_version: pg_major
            .to_string()
            .parse()
            .unwrap_or_else(|_| LinterSettings::default().pg_version),
        assume_in_transaction,
    };
    let mut findings: Vec<RawFinding> = parse
        .errors()
        .into_iter()
        .map(|error| RawFinding {
            rule: SYNTAX_ERROR.to_string(),
            message: error.message().to_string(),
            help: None,
            start: usize::from(error.range().start()),
            end: usize::from(error.range().end()),
        })
        .collect();
    findings.extend(
        linter
            .lint(&parse, sql)
            .into_iter()
            .map(|violation| RawFinding {
                rule: violation.code.to_string(),
                message: violation.message,
                help: violation.help,
                start: usize::from(violation.text_range.start()),
                end: usize::from(violation.text_range.end()),
            }),
    );
    findings.sort_by_key(|finding| finding.start);
    findings
}

/// The rules squawk turns on when nothing is configured.
#[cfg(test)]
pub(crate) fn squawk_default_rule_names() -> Vec<String> {
    Linter::with_default_rules()
        .rules
        .iter()
        .map(|rule| rule.to_string())
        .collect()
}

/// Whether squawk knows `name` as a rule (`unused-ignore` has a name but does not parse).
pub(crate) fn is_rule(name: &str) -> bool {
    name.parse::<Rule>().is_ok() || name == Rule::UnusedIgnore.to_string()
}

/// Each statement's text as squawk's parser delimits it, from its first significant token to
/// its last (no terminating semicolon): for the evaluation of squawk as nelo's statement
/// splitter (`reader_evaluation`).
#[cfg(test)]
pub(crate) fn statement_texts(sql: &str) -> Vec<String> {
    use squawk_syntax::ast::AstNode;
    SourceFile::parse(sql)
        .tree()
        .stmts()
        .map(|statement| {
            let node = statement.syntax();
            let significant: Vec<_> = node
                .descendants_with_tokens()
                .filter_map(|element| element.into_token())
                .filter(|token| !token.kind().is_trivia())
                .collect();
            match (significant.first(), significant.last()) {
                (Some(first), Some(last)) => {
                    let start = usize::from(first.text_range().start());
                    let end = usize::from(last.text_range().end());
                    sql[start..end].trim_end_matches(';').trim_end().to_string()
                }
                _ => String::new(),
            }
        })
        .filter(|text| !text.is_empty())
        .collect()
}

/// The other way to split with squawk: cut at the semicolons that end a top-level statement
/// (not those inside a rule's parentheses or a `BEGIN ATOMIC` body), keeping every token in
/// between, parse errors included, as the server would receive them.
#[cfg(test)]
pub(crate) fn texts_between_semicolons(sql: &str) -> Vec<String> {
    use squawk_syntax::SyntaxKind;
    let root = SourceFile::parse(sql).syntax_node();
    let is_top_level = |node: Option<squawk_syntax::SyntaxNode>| {
        node.is_some_and(|parent| {
            parent.kind() == SyntaxKind::SOURCE_FILE
                || parent
                    .parent()
                    .is_some_and(|grand| grand.kind() == SyntaxKind::SOURCE_FILE)
        })
    };
    let mut texts = Vec::new();
    let mut span: Option<(usize, usize)> = None;
    for token in root
        .descendants_with_tokens()
        .filter_map(|element| element.into_token())
    {
        let (start, end) = (
            usize::from(token.text_range().start()),
            usize::from(token.text_range().end()),
        );
        if token.kind() == SyntaxKind::SEMICOLON && is_top_level(token.parent()) {
            texts.extend(
                span.take()
                    .map(|(first, last)| sql[first..last].to_string()),
            );
        } else if !token.kind().is_trivia() {
            span = Some(span.map_or((start, end), |(first, _)| (first, end)));
        }
    }
    texts.extend(span.map(|(first, last)| sql[first..last].to_string()));
    texts
}
