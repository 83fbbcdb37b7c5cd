//! `diff`'s flags, for `nelo-migrate diff` and `cargo xtask db migrate diff` alike: the two
//! sides (Prisma's flag names) and what to print.

use std::path::PathBuf;
use std::process::ExitCode;

use nelo_migrate::diff::{DiffOptions, SchemaDiff, Source};

use crate::schema_report::{diff_json, diff_summary};

/// The `from` side (one of).
#[derive(clap::Args, Debug)]
#[group(required = true, multiple = false)]
pub struct FromArgs {
    /// Compare from an empty database
    #[arg(long)]
    from_empty: bool,
    /// Compare from a migrations folder, deployed into a shadow database
    #[arg(long, value_name = "DIR")]
    from_migrations: Option<PathBuf>,
    /// Compare from a live database (read only)
    #[arg(long, value_name = "URL")]
    from_url: Option<String>,
    /// Compare from a SQL schema file, or a folder of .sql files applied in name order
    #[arg(long, value_name = "PATH")]
    from_schema: Option<PathBuf>,
}

impl FromArgs {
    /// The side the flags name.
    pub fn source(&self) -> Source {
        source(
            self.from_empty,
            &self.from_migrations,
            &self.from_url,
            &self.from_schema,
        )
    }
}

/// The `to` side (one of).
#[derive(clap::Args, Debug)]
#[group(required = true, multiple = false)]
pub struct ToArgs {
    /// Compare to an empty database
    #[arg(long)]
    to_empty: bool,
    /// Compare to a migrations folder, deployed into a shadow database
    #[arg(long, value_name = "DIR")]
    to_migrations: Option<PathBuf>,
    /// Compare to a live database (read only)
    #[arg(long, value_name = "URL")]
    to_url: Option<String>,
    /// Compare to a SQL schema file, or a folder of .sql files applied in name order
    #[arg(long, value_name = "PATH")]
    to_schema: Option<PathBuf>,
}

impl ToArgs {
    /// The side the flags name.
    pub fn source(&self) -> Source {
        source(
            self.to_empty,
            &self.to_migrations,
            &self.to_url,
            &self.to_schema,
        )
    }
}

/// The source one of the four flags of a side names (clap's group makes it exactly one).
fn source(
    empty: bool,
    migrations: &Option<PathBuf>,
    url: &Option<String>,
    schema: &Option<PathBuf>,
) -> Source {
    match (migrations, url, schema) {
        (Some(dir), _, _) => Source::Migrations(dir.clone()),
        (_, Some(url), _) => Source::Url(url.clone()),
        (_, _, Some(path)) => Source::Schema(path.clone()),
        _ => {
            debug_assert!(empty);
            Source::Empty
        }
    }
}

/// How a change is planned (`diff`, `create --from-schema`, `cargo xtask db migrate dev`).
#[derive(clap::Args, Debug, Clone, Copy, Default)]
pub struct PlanArgs {
    /// Build new indexes on tables that already exist CONCURRENTLY, each in a migration of
    /// its own after the rest: writes to the table go on while the index builds
    #[arg(long)]
    pub concurrent_indexes: bool,
}

impl PlanArgs {
    /// `options` with this plan's choices.
    pub fn apply(self, options: DiffOptions) -> DiffOptions {
        DiffOptions {
            concurrent_indexes: self.concurrent_indexes,
            ..options
        }
    }
}

/// What `diff` prints on stdout and how it exits.
#[derive(clap::Args, Debug)]
pub struct DiffOutputArgs {
    /// Print the SQL script that turns `from` into `to` (verified on a shadow database)
    #[arg(long)]
    script: bool,
    /// Exit 2 when there is a difference, or when one cannot be ruled out (an object of a
    /// kind nelo does not compare exists on one side only or differs); 0 when none, 1 on error
    #[arg(long)]
    exit_code: bool,
    /// Print the differences, the script and what was not compared as JSON on stdout
    #[arg(long, conflicts_with = "script")]
    json: bool,
}

impl DiffOutputArgs {
    /// The text for stdout: the JSON object ([`diff_json`]), the script (Prisma's
    /// `-- This is an empty migration.` when there is no difference), or the summary.
    pub fn stdout_text(&self, diff: &SchemaDiff) -> serde_json::Result<String> {
        Ok(if self.json {
            format!("{}\n", serde_json::to_string_pretty(&diff_json(diff))?)
        } else if self.script {
            let mut script = diff.script();
            if diff.is_empty() {
                script += nelo_migrate::EMPTY_MIGRATION;
            }
            script
        } else {
            diff_summary(diff)
        })
    }

    /// 0, or 2 with `--exit-code` when there is a difference or nelo cannot tell (errors are
    /// 1, by the caller).
    pub fn exit_code(&self, diff: &SchemaDiff) -> ExitCode {
        if self.exit_code && !diff.is_in_sync() {
            ExitCode::from(2)
        } else {
            ExitCode::SUCCESS
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser, Debug)]
    struct Diff {
        #[command(flatten)]
        from: FromArgs,
        #[command(flatten)]
        to: ToArgs,
        #[command(flatten)]
        output: DiffOutputArgs,
    }

    #[test]
    fn each_flag_names_its_side_and_a_side_takes_exactly_one() {
        let parsed = Diff::try_parse_from([
            "diff",
            "--from-migrations",
            "m",
            "--to-url",
            "postgres://h/d",
        ])
        .unwrap();
        assert_eq!(parsed.from.source(), Source::Migrations("m".into()));
        assert_eq!(parsed.to.source(), Source::Url("postgres://h/d".into()));
        let parsed =
            Diff::try_parse_from(["diff", "--from-empty", "--to-schema", "schema.sql"]).unwrap();
        assert_eq!(parsed.from.source(), Source::Empty);
        assert_eq!(parsed.to.source(), Source::Schema("schema.sql".into()));
        assert!(
            Diff::try_parse_from(["diff", "--from-empty", "--to-empty", "--from-url", "u"])
                .is_err()
        );
        assert!(Diff::try_parse_from(["diff", "--from-empty"]).is_err());
        assert!(
            Diff::try_parse_from(["diff", "--from-empty", "--to-empty", "--script", "--json"])
                .is_err()
        );
    }
}
