//! Verification: the script applied to a shadow holding the `from` side, read again and
//! compared with the `to` side; anything left is an error that lists it.

use sqlx::Connection;

use super::model::SchemaModel;
use super::plan::Plan;
use super::sides::Context;
use super::{DiffError, Source, compare, plan};
use crate::shadow::Shadow;
use crate::store::run_script;
use crate::{DatabaseUrl, Error, postgres};

impl Context {
    /// Applies `script` to a shadow holding `from`, and compares the result with `to`.
    pub(super) async fn verify(
        &self,
        from: &Source,
        from_model: &SchemaModel,
        to_model: &SchemaModel,
        plan: &Plan,
    ) -> Result<(), Error> {
        let shadow = self.shadow_holding(from, "verify", "from").await?;
        let outcome = self
            .verify_in(&shadow, from, from_model, to_model, plan)
            .await;
        let removed = shadow.remove().await;
        outcome?;
        removed
    }

    /// `shadow` holds `from` already, except for a live database's (empty).
    async fn verify_in(
        &self,
        shadow: &Shadow,
        from: &Source,
        from_model: &SchemaModel,
        to_model: &SchemaModel,
        plan: &Plan,
    ) -> Result<(), Error> {
        if let Source::Url(_) = from {
            // A live database cannot be copied: rebuild it from an empty one with the planner's
            // own script, checked the same way.
            let empty = self.introspect(&shadow.url).await?;
            let differences = compare::compare(&empty, from_model);
            let renames = compare::possible_renames(&differences, &empty, from_model);
            let base = plan::plan(&empty, from_model, &differences, &renames);
            self.apply_and_compare(shadow, from_model, &base).await?;
        }
        self.apply_and_compare(shadow, to_model, plan).await
    }

    async fn apply_and_compare(
        &self,
        shadow: &Shadow,
        expected: &SchemaModel,
        plan: &Plan,
    ) -> Result<(), Error> {
        let mut conn =
            postgres::connect(&DatabaseUrl::parse(&shadow.url)?, self.connect_timeout).await?;
        for part in &plan.parts() {
            let applied = run_script(&mut conn, &part.plan.runnable_script()).await;
            if let Err(error) = applied {
                let _ = run_script(&mut conn, "ROLLBACK").await;
                let _ = conn.close().await;
                return Err(DiffError::ScriptFailed {
                    message: with_detail(&error),
                    script: plan.script(),
                }
                .into());
            }
        }
        let _ = conn.close().await;
        let reached = self.introspect(&shadow.url).await?;
        let remaining: Vec<String> = compare::compare(&reached, expected)
            .iter()
            .map(ToString::to_string)
            .collect();
        if remaining.is_empty() {
            Ok(())
        } else {
            Err(DiffError::Unverified {
                remaining,
                script: plan.script(),
            }
            .into())
        }
    }
}

/// The server's message with its DETAIL (what depends on a type or value being dropped) and
/// HINT, which `sqlx::Error`'s text leaves out.
fn with_detail(error: &sqlx::Error) -> String {
    let mut message = error.to_string();
    if let sqlx::Error::Database(database) = error
        && let Some(postgres) = database.try_downcast_ref::<sqlx::postgres::PgDatabaseError>()
    {
        if let Some(detail) = postgres.detail() {
            message += &format!("\nDETAIL: {detail}");
        }
        if let Some(hint) = postgres.hint() {
            message += &format!("\nHINT: {hint}");
        }
    }
    message
}
