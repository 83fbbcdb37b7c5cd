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
