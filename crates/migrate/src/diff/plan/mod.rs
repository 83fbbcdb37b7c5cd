//! The planner: the differences between two models turned into one SQL script, in an order
//! PostgreSQL accepts. Drops of relations first (triggers, views, foreign keys, indexes,
//! constraints, columns, tables), then creates and alters (schemas, extensions, enums,
//! sequences, functions, tables, columns, indexes and constraints, foreign keys last, views in
//! dependency order, triggers, comments), then the drops of what relations used (functions,
//! sequences, enums, extensions, schemas). Views and triggers over changed objects are
//! dropped and recreated. Pure: the same models give the same script.

mod alter;
mod emit;
mod expand;
mod sql;
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
    DropTrigger,
    DropView,
    DropForeignKey,
    DropIndex,
    DropConstraint,
    DropDefault,
    DropFunctionEarly,
    DropColumn,
    DropTable,
    CreateSchema,
    CreateExtension,
    AlterExtension,
    CreateEnum,
    RecreateEnum,
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
    Comment,
    DropFunction,
    DropSequence,
    DropEnum,
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
}

impl Plan {
    pub fn is_empty(&self) -> bool {
        self.steps.is_empty()
    }

    /// The SQL script, with Prisma's `Warnings` header when a step can lose data.
    pub fn script(&self) -> String {
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

struct Planner<'a> {
    from: &'a SchemaModel,
    to: &'a SchemaModel,
    search_path: &'a str,
    steps: Vec<(Phase, Step)>,
    warnings: Vec<String>,
    /// Column defaults dropped and set again around a function they call.
    forced_defaults: BTreeSet<(Name, String)>,
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

/// The plan that turns `from` into `to`.
pub fn plan(
    from: &SchemaModel,
    to: &SchemaModel,
    differences: &[Difference],
    renames: &[PossibleRename],
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
    };
    emit::drops(&mut planner, &changes, &x, renames);
    let creates_functions = emit::creates(&mut planner, &changes, &x);
    emit::comments(&mut planner, &changes, &x);
    emit::final_drops(&mut planner, &changes, &x);
    planner.steps.sort_by_key(|(phase, _)| *phase);
    Plan {
        warnings: planner.warnings,
        steps: planner.steps.into_iter().map(|(_, step)| step).collect(),
        creates_functions,
    }
}
