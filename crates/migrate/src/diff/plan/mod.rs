//! The planner: the differences between two models turned into one SQL script, in an order
//! PostgreSQL accepts. Drops of relations first (policies, triggers, views, foreign keys, indexes,
//! constraints, columns, tables), then creates and alters (schemas, extensions, enums,
//! sequences, functions, tables, columns, row-level security, indexes and constraints, foreign
//! keys last, views in dependency order, triggers, policies, grants, comments), then the drops of what relations used (functions,
//! sequences, enums, extensions, schemas). Views and triggers over changed objects are
//! dropped and recreated. Pure: the same models give the same script.

mod alter;
mod casts;
mod collation;
mod composite;
mod domain;
mod emit;
mod event_trigger;
mod expand;
mod order;
mod policy;
mod privileges;
mod publication;
mod range;
mod sql;
mod statistics;
#[cfg(test)]
mod tests;

use std::collections::BTreeSet;

use serde::Serialize;

use super::compare::{Difference, PossibleRename};
use super::model::{FunctionName, Name, SchemaModel};
use expand::{Changes, expand};
use sql::qualified;

/// Where a step goes; steps run in this order, and in the order added within one phase.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Phase {
    DropPolicy,
    DropTrigger,
    DropView,
    DropForeignKey,
    DropIndex,
    DropConstraint,
    DropDefault,
    DropFunctionEarly,
    DropColumn,
    DropTable,
    DropDomainEarly,
    CreateSchema,
    CreateExtension,
    AlterExtension,
    CreateCollation,
    CreateEnum,
    RecreateEnum,
    CreateDomain,
    AlterDomain,
    CreateSequence,
    CreateFunction,
    CreateTable,
    AlterTable,
    OwnSequence,
    CreateIndex,
    AddForeignKey,
    CreateRowTypeFunction,
    CreateView,
    CreateViewIndex,
    CreateTrigger,
    CreatePolicy,
    CreatePublication,
    Grant,
    Comment,
    DropFunction,
    DropSequence,
    DropCompositeType,
    DropDomain,
    DropEnum,
    DropCollation,
    DropExtension,
    DropSchema,
}

/// One statement under a Prisma-style section comment (`-- CreateTable`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Step {
    pub section: &'static str,
    pub sql: String,
}

/// The script: its steps in order and the data-loss warnings of its header.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Plan {
    pub warnings: Vec<String>,
    pub steps: Vec<Step>,
    /// Functions are created: the script turns `check_function_bodies` off first.
    pub creates_functions: bool,
    /// The script must commit after this step (an index into `steps`) before it goes on:
    /// later steps use enum labels that it adds, and PostgreSQL refuses a label in the
    /// transaction that added it ("unsafe use of new value", `ALTER TYPE ... ADD VALUE`).
    /// [`Plan::parts`] splits there; `create` writes each part as its own migration.
    pub commit_after: Option<usize>,
    /// Indexes on tables that already exist, built `CONCURRENTLY` (asked for with
    /// [`super::DiffOptions::concurrent_indexes`]): each runs alone, outside a transaction,
    /// after the rest, so that writes to the table go on while it builds. Prisma runs a
    /// migration of one such statement as it is, outside a transaction, as nelo does.
    pub concurrent: Vec<ConcurrentIndex>,
    /// This part runs outside a transaction (one `CONCURRENTLY` statement).
    pub outside_transaction: bool,
}

/// An index built `CONCURRENTLY`, in a migration of its own.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConcurrentIndex {
    /// The index's name, for its migration's name.
    pub name: String,
    pub step: Step,
}

/// One migration of a plan: its script, and what to add to the migration's name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PlanPart {
    /// Empty for the first; `_after_enum_values` for the part that uses enum values the
    /// first adds; `_index_<name>` for a concurrent index.
    pub suffix: String,
    pub plan: Plan,
}

impl Plan {
    pub fn is_empty(&self) -> bool {
        self.steps.is_empty() && self.concurrent.is_empty()
    }

    /// The plan as the migrations it needs, in order: the transactional steps (two parts
    /// when [`Plan::commit_after`] is set), then each concurrent index alone. The warnings
    /// go with the first part.
    pub fn parts(&self) -> Vec<PlanPart> {
        let part = |steps: &[Step], warnings: Vec<String>, suffix: String| PlanPart {
            suffix,
            plan: Plan {
                warnings,
                steps: steps.to_vec(),
                creates_functions: self.creates_functions,
                ..Plan::default()
            },
        };
        let mut parts = match self.commit_after {
            None if self.steps.is_empty() => Vec::new(),
            None => vec![part(&self.steps, self.warnings.clone(), String::new())],
            Some(last) => {
                let (first, second) = self.steps.split_at(last + 1);
                vec![
                    part(first, self.warnings.clone(), String::new()),
                    part(second, Vec::new(), AFTER_ENUM_VALUES_SUFFIX.to_string()),
                ]
            }
        };
        for index in &self.concurrent {
            let warnings = if parts.is_empty() {
                self.warnings.clone()
            } else {
                Vec::new()
            };
            let suffix = if parts.is_empty() {
                String::new()
            } else {
                format!("_index_{}", index.name)
            };
            parts.push(PlanPart {
                suffix,
                plan: Plan {
                    warnings,
                    steps: vec![index.step.clone()],
                    outside_transaction: true,
                    ..Plan::default()
                },
            });
        }
        parts
    }

    /// The SQL script, with Prisma's `Warnings` header when a step can lose data; between
    /// parts, a comment says what the next one needs (a new transaction, or none).
    pub fn script(&self) -> String {
        let mut script = String::new();
        for (index, part) in self.parts().iter().enumerate() {
            if part.plan.outside_transaction {
                script.push_str(OUTSIDE_A_TRANSACTION);
            } else if index > 0 {
                script.push_str(COMMIT_BEFORE_NEXT_PART);
            }
            script.push_str(&part.plan.part_script());
        }
        script
    }

    /// What to send to run this part: its script in a transaction block, or alone when it
    /// cannot run in one ([`Plan::outside_transaction`]).
    pub fn runnable_script(&self) -> String {
        if self.outside_transaction {
            self.part_script()
        } else {
            format!("BEGIN;\n{}\nCOMMIT;", self.part_script())
        }
    }

    fn part_script(&self) -> String {
        let mut script = String::new();
        if !self.warnings.is_empty() {
            script.push_str("/*\n  Warnings:\n\n");
            for warning in &self.warnings {
                script.push_str(&format!("  - {warning}\n"));
            }
            script.push_str("\n*/\n");
        }
        if self.creates_functions {
            script.push_str("SET check_function_bodies = off;\n\n");
        }
        for step in &self.steps {
            script.push_str(&format!("-- {}\n{};\n\n", step.section, step.sql));
        }
        script
    }
}

/// The name suffix of the part that uses enum values the first part adds.
pub const AFTER_ENUM_VALUES_SUFFIX: &str = "_after_enum_values";

/// Before a statement that cannot run in a transaction block.
const OUTSIDE_A_TRANSACTION: &str = "-- The statement below cannot run in a transaction block: run it alone (`create` writes\n\
     -- it as a migration of its own, which nelo and Prisma run outside a transaction).\n\n";

/// Between the parts of a script: what the second part needs.
pub const COMMIT_BEFORE_NEXT_PART: &str = "-- The statements below use enum values added above: PostgreSQL accepts them only\n\
     -- after those are committed, so run them in a new transaction (`create` writes them as\n\
     -- a second migration).\n\n";

struct Planner<'a> {
    from: &'a SchemaModel,
    to: &'a SchemaModel,
    search_path: &'a str,
    steps: Vec<(Phase, Step)>,
    warnings: Vec<String>,
    /// Column defaults dropped and set again around a function they call.
    forced_defaults: BTreeSet<(Name, String)>,
    /// The labels `ALTER TYPE ... ADD VALUE` steps add, as SQL literals.
    added_labels: Vec<String>,
    /// Build new indexes on existing tables `CONCURRENTLY`, into `concurrent`.
    concurrent_indexes: bool,
    concurrent: Vec<ConcurrentIndex>,
}

impl Planner<'_> {
    fn push(&mut self, phase: Phase, section: &'static str, sql: String) {
        self.steps.push((phase, Step { section, sql }));
    }

    fn name(&self, name: &Name) -> String {
        qualified(name, self.search_path)
    }

    fn function(&self, function: &FunctionName) -> String {
        format!("{}({})", self.name(&function.name), function.arguments)
    }
}

/// The plan that turns `from` into `to`, every step in transactions.
pub fn plan(
    from: &SchemaModel,
    to: &SchemaModel,
    differences: &[Difference],
    renames: &[PossibleRename],
) -> Plan {
    plan_with(from, to, differences, renames, false)
}

/// [`plan`], with `concurrent_indexes`: new indexes on tables `from` already has are built
/// `CONCURRENTLY`, each alone after the rest ([`Plan::concurrent`]).
pub fn plan_with(
    from: &SchemaModel,
    to: &SchemaModel,
    differences: &[Difference],
    renames: &[PossibleRename],
    concurrent_indexes: bool,
) -> Plan {
    let changes = Changes::gather(differences);
    let x = expand(from, to, &changes);
    let mut planner = Planner {
        from,
        to,
        search_path: &to.search_path,
        steps: Vec::new(),
        warnings: Vec::new(),
        forced_defaults: x.forced_defaults.clone(),
        added_labels: Vec::new(),
        concurrent_indexes,
        concurrent: Vec::new(),
    };
    emit::drops(&mut planner, &changes, &x, renames);
    let creates_functions = emit::creates(&mut planner, &changes, &x);
    domain::plan_domains(&mut planner, &changes);
    composite::plan_composite_types(&mut planner, &changes);
    statistics::plan_statistics(&mut planner, &changes);
    publication::plan_publications(&mut planner, &changes);
    collation::plan_collations(&mut planner, &changes);
    range::plan_ranges(&mut planner, &changes);
    event_trigger::plan_event_triggers(&mut planner, &changes, &x);
    policy::plan_policies(&mut planner, &changes, &x);
    privileges::plan_privileges(&mut planner, &changes, &x);
    emit::comments(&mut planner, &changes, &x);
    emit::final_drops(&mut planner, &changes, &x);
    planner.steps.sort_by_key(|(phase, _)| *phase);
    let steps: Vec<Step> = planner.steps.into_iter().map(|(_, step)| step).collect();
    let commit_after = commit_after(&steps, &planner.added_labels);
    Plan {
        warnings: planner.warnings,
        steps,
        creates_functions,
        commit_after,
        concurrent: planner.concurrent,
        outside_transaction: false,
    }
}

/// The last step that adds an enum label, when a later step uses one of the added labels.
fn commit_after(steps: &[Step], added_labels: &[String]) -> Option<usize> {
    let last = steps.iter().rposition(|step| {
        step.section == ADD_ENUM_VALUE_SECTION && step.sql.contains(" ADD VALUE ")
    })?;
    steps[last + 1..]
        .iter()
        .any(|step| {
            added_labels
                .iter()
                .any(|label| step.sql.contains(label.as_str()))
        })
        .then_some(last)
}

/// The section of an `ALTER TYPE ... ADD VALUE` step.
const ADD_ENUM_VALUE_SECTION: &str = "AlterEnum";
