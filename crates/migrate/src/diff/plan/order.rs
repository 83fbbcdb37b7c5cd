//! Where a function is created: before the tables (it reads nothing), after them (it takes or
//! returns a table's row type, or its `BEGIN ATOMIC` body reads tables), or among the views,
//! in one dependency order with them (it reads a view or returns its rows, or calls such a
//! function; a view may call it in turn). The edges are the server's own: `pg_depend` as the
//! catalog reads it into [`Function::reads`], [`Function::calls`], [`View::depends_on`] and
//! [`View::calls`].
//!
//! [`Function::reads`]: super::super::model::Function::reads
//! [`Function::calls`]: super::super::model::Function::calls
//! [`View::depends_on`]: super::super::model::View::depends_on
//! [`View::calls`]: super::super::model::View::calls

use std::collections::BTreeSet;

use super::super::model::{FunctionName, Name, SchemaModel};

/// When a function is created.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum FunctionPlace {
    BeforeTables,
    AfterTables,
    WithViews,
}

/// The place of every function of `model`: the latest of its own needs and those of the
/// functions its body calls.
pub(super) fn function_places(
    model: &SchemaModel,
) -> std::collections::BTreeMap<FunctionName, FunctionPlace> {
    let mut places: std::collections::BTreeMap<FunctionName, FunctionPlace> = model
        .functions
        .iter()
        .map(|(name, function)| {
            let place = if function
                .reads
                .iter()
                .any(|read| model.views.contains_key(read))
            {
                FunctionPlace::WithViews
            } else if function.uses_row_type || !function.reads.is_empty() {
                FunctionPlace::AfterTables
            } else {
                FunctionPlace::BeforeTables
            };
            (name.clone(), place)
        })
        .collect();
    // Calls go at most as deep as there are functions.
    for _ in 0..model.functions.len() {
        let mut moved = false;
        for (name, function) in &model.functions {
            let needed = function
                .calls
                .iter()
                .filter_map(|called| places.get(called).copied())
                .max()
                .unwrap_or(FunctionPlace::BeforeTables);
            if needed > places[name] {
                places.insert(name.clone(), needed);
                moved = true;
            }
        }
        if !moved {
            break;
        }
    }
    places
}

/// A view or a function created among the views.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Node {
    View(Name),
    Function(FunctionName),
}

/// `views` and `functions` in an order where each comes after what it reads or calls among
/// them (depth first, in name order, so the same models give the same order).
pub(super) fn views_and_functions(
    views: &BTreeSet<Name>,
    functions: &BTreeSet<FunctionName>,
    model: &SchemaModel,
) -> Vec<Node> {
    fn needs(
        node: &Node,
        views: &BTreeSet<Name>,
        functions: &BTreeSet<FunctionName>,
        model: &SchemaModel,
    ) -> Vec<Node> {
        let (reads, calls) = match node {
            Node::View(name) => match model.views.get(name) {
                Some(view) => (&view.depends_on, &view.calls),
                None => return Vec::new(),
            },
            Node::Function(name) => match model.functions.get(name) {
                Some(function) => (&function.reads, &function.calls),
                None => return Vec::new(),
            },
        };
        reads
            .iter()
            .filter(|read| views.contains(*read))
            .map(|read| Node::View(read.clone()))
            .chain(
                calls
                    .iter()
                    .filter(|called| functions.contains(*called))
                    .map(|called| Node::Function(called.clone())),
            )
            .collect()
    }
    fn visit(
        node: Node,
        views: &BTreeSet<Name>,
        functions: &BTreeSet<FunctionName>,
        model: &SchemaModel,
        done: &mut BTreeSet<Node>,
        order: &mut Vec<Node>,
    ) {
        if !done.insert(node.clone()) {
            return;
        }
        for need in needs(&node, views, functions, model) {
            visit(need, views, functions, model, done, order);
        }
        order.push(node);
    }
    let mut done = BTreeSet::new();
    let mut order = Vec::new();
    let nodes = views
        .iter()
        .cloned()
        .map(Node::View)
        .chain(functions.iter().cloned().map(Node::Function));
    for node in nodes {
        visit(node, views, functions, model, &mut done, &mut order);
    }
    order
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diff::model::{Function, View};

    fn function(name: &str, reads: &[&str], calls: &[&str]) -> (FunctionName, Function) {
        let key = |name: &str| FunctionName {
            name: Name::new("public", name),
            arguments: String::new(),
        };
        (
            key(name),
            Function {
                kind: 'f',
                definition: String::new(),
                result: String::new(),
                uses_row_type: false,
                reads: reads.iter().map(|read| Name::new("public", read)).collect(),
                calls: calls.iter().map(|called| key(called)).collect(),
                used_by: BTreeSet::new(),
            },
        )
    }

    #[test]
    fn a_function_over_a_view_goes_with_the_views_and_pulls_its_callers_along() {
        let mut model = SchemaModel::default();
        model
            .tables
            .insert(Name::new("public", "t"), Default::default());
        model.views.insert(
            Name::new("public", "v"),
            View {
                materialized: false,
                definition: String::new(),
                options: Vec::new(),
                depends_on: [Name::new("public", "t")].into(),
                calls: BTreeSet::new(),
            },
        );
        model.functions.extend([
            function("plain", &[], &[]),
            function("on_table", &["t"], &[]),
            function("rows_of_v", &["v"], &[]),
            function("calls_rows_of_v", &[], &["rows_of_v"]),
        ]);
        let places = function_places(&model);
        let place = |name: &str| {
            places[&FunctionName {
                name: Name::new("public", name),
                arguments: String::new(),
            }]
        };
        assert_eq!(place("plain"), FunctionPlace::BeforeTables);
        assert_eq!(place("on_table"), FunctionPlace::AfterTables);
        assert_eq!(place("rows_of_v"), FunctionPlace::WithViews);
        assert_eq!(place("calls_rows_of_v"), FunctionPlace::WithViews);

        let functions: BTreeSet<FunctionName> = places
            .iter()
            .filter(|(_, place)| **place == FunctionPlace::WithViews)
            .map(|(name, _)| name.clone())
            .collect();
        let order = views_and_functions(&[Name::new("public", "v")].into(), &functions, &model);
        let shown: Vec<String> = order
            .iter()
            .map(|node| match node {
                Node::View(name) => name.name.clone(),
                Node::Function(name) => name.name.name.clone(),
            })
            .collect();
        assert_eq!(shown, ["v", "rows_of_v", "calls_rows_of_v"]);
    }
}
