//! `resolve`: mark one migration applied or rolled back (exactly one of the two flags).

use anyhow::Context;
use nelo_migrate::{DatabaseUrl, Migrator};

/// `--applied NAME` or `--rolled-back NAME`, exactly one (clap enforces it).
#[derive(clap::Args, Debug, Clone)]
#[group(required = true, multiple = false)]
pub struct ResolveArgs {
    /// Record migration NAME as applied without running it (baselining, or fixed by hand)
    #[arg(long, value_name = "NAME")]
    pub applied: Option<String>,
    /// Mark the failed migration NAME rolled back, so that the next deploy runs it again
    #[arg(long, value_name = "NAME")]
    pub rolled_back: Option<String>,
}

impl ResolveArgs {
    /// Records the resolution in `url`'s history table through `migrator` (which holds the
    /// lock while it does); returns what was done, for the person.
    pub async fn run(&self, migrator: &Migrator, url: &DatabaseUrl) -> anyhow::Result<String> {
        match (&self.applied, &self.rolled_back) {
            (Some(name), None) => {
                migrator
                    .resolve_applied(url.as_str(), name)
                    .await
                    .with_context(|| format!("cannot mark `{name}` applied in {url}"))?;
                Ok(format!("marked `{name}` applied in {url}"))
            }
            (None, Some(name)) => {
                migrator
                    .resolve_rolled_back(url.as_str(), name)
                    .await
                    .with_context(|| format!("cannot mark `{name}` rolled back in {url}"))?;
                Ok(format!(
                    "marked `{name}` rolled back in {url}; the next deploy runs it again"
                ))
            }
            _ => anyhow::bail!("pass exactly one of --applied NAME and --rolled-back NAME"),
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Parser, Debug)]
    struct Tool {
        #[command(flatten)]
        resolve: ResolveArgs,
    }

    #[test]
    fn exactly_one_of_applied_and_rolled_back() {
        let parsed = Tool::try_parse_from(["tool", "--applied", "0_init"]).unwrap();
        assert_eq!(parsed.resolve.applied.as_deref(), Some("0_init"));
        assert!(Tool::try_parse_from(["tool"]).is_err());
        assert!(Tool::try_parse_from(["tool", "--applied", "a", "--rolled-back", "b"]).is_err());
    }
}
