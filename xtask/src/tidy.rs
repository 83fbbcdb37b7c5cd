//! The workspace's boundaries, checked by reading its sources (as rust-analyzer's `tidy.rs`
//! does): a doc comment that says "the only module that ..." is a claim; these tests keep it
//! true.
//!
//! - bollard is imported only under `xtask/src/docker/`, and only xtask depends on it;
//! - SQL on the history table (`_prisma_migrations`) is written only under
//!   `crates/migrate/src/store/`;
//! - no command module imports another command module (shared pieces live below the commands);
//! - `libc::` appears only in modules whose declaration is gated by `#[cfg(...)]`, so that
//!   xtask builds on every system its developers use (Linux-only calls such as `umount2`
//!   would otherwise break the macOS build).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// The workspace root (xtask's manifest is one level down).
fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives in the workspace")
        .to_path_buf()
}

/// Every `.rs` file below `dir`, in a stable order, as paths relative to the root.
fn rust_files(root: &Path, dir: &str) -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|ext| ext == "rs") {
                out.push(path);
            }
        }
    }
    let mut files = Vec::new();
    walk(&root.join(dir), &mut files);
    files.sort();
    files
        .into_iter()
        .map(|path| {
            path.strip_prefix(root)
                .expect("below the root")
                .to_path_buf()
        })
        .collect()
}

/// The source folders of the workspace's members (library and binary code, not tests).
fn source_dirs(root: &Path) -> Vec<String> {
    let mut dirs = vec!["xtask/src".to_string()];
    let mut crates: Vec<_> = std::fs::read_dir(root.join("crates"))
        .expect("read crates/")
        .flatten()
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .collect();
    crates.sort();
    dirs.extend(crates.into_iter().map(|name| format!("crates/{name}/src")));
    dirs
}

fn source_files(root: &Path) -> Vec<PathBuf> {
    source_dirs(root)
        .iter()
        .flat_map(|dir| rust_files(root, dir))
        .collect()
}

/// The lines of `text` that are code: `//` comment lines dropped, numbered from 1.
fn code_lines(text: &str) -> impl Iterator<Item = (usize, &str)> {
    text.lines()
        .enumerate()
        .map(|(index, line)| (index + 1, line))
        .filter(|(_, line)| !line.trim_start().starts_with("//"))
}

fn read(root: &Path, file: &Path) -> String {
    std::fs::read_to_string(root.join(file))
        .unwrap_or_else(|error| panic!("read {}: {error}", file.display()))
}

/// The places (`file:line: text`) where `matches` holds, outside the files `allowed` accepts.
fn offending_lines(
    root: &Path,
    files: &[PathBuf],
    allowed: impl Fn(&Path) -> bool,
    matches: impl Fn(&str) -> bool,
) -> Vec<String> {
    let mut found = Vec::new();
    let this_file = Path::new(file!());
    for file in files
        .iter()
        .filter(|file| !allowed(file) && !this_file.ends_with(file))
    {
        let text = read(root, file);
        for (number, line) in code_lines(&text) {
            if matches(line) {
                found.push(format!("{}:{number}: {}", file.display(), line.trim()));
            }
        }
    }
    found
}

#[test]
fn bollard_is_used_only_in_the_docker_adapter() {
    let root = workspace_root();
    let found = offending_lines(
        &root,
        &source_files(&root),
        |file| file.starts_with("xtask/src/docker"),
        |line| line.contains("bollard::") || line.contains("use bollard"),
    );
    assert!(
        found.is_empty(),
        "bollard outside xtask/src/docker/ (move the call into the adapter):\n{}",
        found.join("\n")
    );
    for dir in source_dirs(&root).iter().filter(|dir| *dir != "xtask/src") {
        let manifest = root.join(dir).with_file_name("Cargo.toml");
        let text = std::fs::read_to_string(&manifest).expect("read a member's Cargo.toml");
        assert!(
            !text.contains("bollard"),
            "{} depends on bollard; only xtask talks to Docker",
            manifest.display()
        );
    }
}

/// A statement on the history table: the table named after FROM, INTO, UPDATE or TABLE.
fn names_history_table_in_sql(line: &str) -> bool {
    let upper = line.to_ascii_uppercase();
    ["FROM ", "INTO ", "UPDATE ", "TABLE ", "JOIN "]
        .iter()
        .any(|keyword| {
            upper.match_indices(keyword).any(|(at, _)| {
                let after = upper[at + keyword.len()..].trim_start();
                let name = after
                    .split(|c: char| c.is_whitespace() || c == ',' || c == ';' || c == '(')
                    .next()
                    .unwrap_or("");
                let quotes = |c: char| c == '"' || c == '\\';
                name.rsplit('.')
                    .next()
                    .is_some_and(|last| last.trim_matches(quotes) == "_PRISMA_MIGRATIONS")
            })
        })
}

#[test]
fn history_table_sql_is_written_only_in_the_store() {
    let root = workspace_root();
    let found = offending_lines(
        &root,
        &source_files(&root),
        |file| file.starts_with("crates/migrate/src/store"),
        names_history_table_in_sql,
    );
    assert!(
        found.is_empty(),
        "SQL on `_prisma_migrations` outside crates/migrate/src/store/ (add a store function):\n{}",
        found.join("\n")
    );
}

#[test]
fn the_history_sql_detector_sees_statements_and_not_prose() {
    assert!(names_history_table_in_sql(
        r#""SELECT count(*) FROM _prisma_migrations WHERE finished_at IS NOT NULL""#
    ));
    assert!(names_history_table_in_sql(
        r#"format!("UPDATE {schema}.\"_prisma_migrations\" SET""#
    ));
    assert!(names_history_table_in_sql(
        r#""INSERT INTO public._prisma_migrations (id) VALUES ($1)""#
    ));
    assert!(!names_history_table_in_sql(
        "\"a folder's name is its `migration_name` in `_prisma_migrations`\","
    ));
    assert!(!names_history_table_in_sql(
        "\"AND c.relname <> '_prisma_migrations' AND\""
    ));
}

/// The module a `mod NAME;` declaration for `file` lives in, and that declaration's line.
fn declaration_of(root: &Path, file: &Path) -> Option<(PathBuf, usize, String)> {
    let stem = file.file_stem()?.to_str()?;
    let (name, parent_dir) = if stem == "mod" {
        let dir = file.parent()?;
        (dir.file_name()?.to_str()?.to_string(), dir.parent()?)
    } else {
        (stem.to_string(), file.parent()?)
    };
    let candidates = [
        parent_dir.join("mod.rs"),
        parent_dir.join("main.rs"),
        parent_dir.join("lib.rs"),
        parent_dir.with_extension("rs"),
    ];
    for parent in candidates {
        let Ok(text) = std::fs::read_to_string(root.join(&parent)) else {
            continue;
        };
        let lines: Vec<&str> = text.lines().collect();
        for (index, line) in lines.iter().enumerate() {
            let trimmed = line.trim();
            let declared = trimmed
                .trim_start_matches("pub(crate) ")
                .trim_start_matches("pub ")
                .strip_prefix("mod ")
                .and_then(|rest| rest.strip_suffix(';'))
                .is_some_and(|declared| declared == name);
            if declared {
                return Some((parent, index, lines[..index].join("\n")));
            }
        }
    }
    None
}

/// Whether the declaration that ends `before` carries a `#[cfg(...)]` attribute.
fn gated(before: &str) -> bool {
    before
        .lines()
        .rev()
        .map(str::trim)
        .take_while(|line| line.starts_with("#[") || line.starts_with("///"))
        .any(|line| line.starts_with("#[cfg("))
}

#[test]
fn libc_is_used_only_in_cfg_gated_modules() {
    let root = workspace_root();
    let mut found = Vec::new();
    for file in source_files(&root) {
        let text = read(&root, &file);
        let Some((number, _)) = code_lines(&text).find(|(_, line)| line.contains("libc::")) else {
            continue;
        };
        let inner_gate = text.lines().any(|line| line.trim().starts_with("#![cfg("));
        let outer_gate = declaration_of(&root, &file).is_some_and(|(_, _, before)| gated(&before));
        if !inner_gate && !outer_gate {
            found.push(format!("{}:{number}", file.display()));
        }
    }
    assert!(
        found.is_empty(),
        "`libc::` in modules that are not gated by #[cfg(...)] (move the call into a module \
         declared with #[cfg(unix)] or #[cfg(target_os = \"linux\")], or use std's portable API):\n{}",
        found.join("\n")
    );
}

/// Where commands live: every child of `dir` (a file or a folder) is one command module,
/// except the `shared` ones (pieces the commands of that folder share).
struct CommandFolder {
    crate_src: &'static str,
    dir: &'static str,
    shared: &'static [&'static str],
}

const COMMAND_FOLDERS: &[CommandFolder] = &[
    CommandFolder {
        crate_src: "xtask/src",
        dir: "db",
        shared: &[],
    },
    CommandFolder {
        crate_src: "xtask/src",
        dir: "db/migrate",
        shared: &[],
    },
    CommandFolder {
        crate_src: "xtask/src",
        dir: "bench",
        shared: &["machine", "scratch", "stats"],
    },
    CommandFolder {
        crate_src: "crates/migrate-cli/src",
        dir: "cli",
        shared: &["advice", "args", "signal", "ui"],
    },
];

/// Command modules that stand alone: (crate source folder, module path).
const LONE_COMMANDS: &[(&str, &str)] = &[
    ("xtask/src", "image::build"),
    ("xtask/src", "test_suite"),
    ("xtask/src", "fuzz"),
];

/// Modules that dispatch to commands: they may name every command below them.
const DISPATCHERS: &[(&str, &str)] = &[
    ("xtask/src", ""),
    ("xtask/src", "db"),
    ("xtask/src", "db::migrate"),
    ("xtask/src", "bench"),
    ("xtask/src", "image"),
    ("crates/migrate-cli/src", ""),
    ("crates/migrate-cli/src", "cli"),
];

fn segments(path: &str) -> Vec<String> {
    path.split("::")
        .filter(|segment| !segment.is_empty())
        .map(String::from)
        .collect()
}

/// The module path of a source file below `crate_src` (`db/up/mod.rs` -> `db::up`).
fn module_of(crate_src: &Path, file: &Path) -> Vec<String> {
    let relative = file.strip_prefix(crate_src).expect("below its crate");
    let mut parts: Vec<String> = relative
        .components()
        .map(|part| part.as_os_str().to_string_lossy().into_owned())
        .collect();
    let last = parts.pop().expect("a file name");
    let stem = last.trim_end_matches(".rs");
    if !["mod", "main", "lib"].contains(&stem) {
        parts.push(stem.to_string());
    }
    parts
}

/// Every path a `use` tree names: `crate::{a, b::{c, d as e}}` -> `crate::a`, `crate::b::c`,
/// `crate::b::d`.
fn use_tree_paths(tree: &str) -> Vec<String> {
    fn split_top(list: &str) -> Vec<&str> {
        let (mut depth, mut start, mut parts) = (0, 0, Vec::new());
        for (at, c) in list.char_indices() {
            match c {
                '{' => depth += 1,
                '}' => depth -= 1,
                ',' if depth == 0 => {
                    parts.push(&list[start..at]);
                    start = at + 1;
                }
                _ => {}
            }
        }
        parts.push(&list[start..]);
        parts
    }
    let tree: String = tree.chars().filter(|c| !c.is_whitespace()).collect();
    let Some(open) = tree.find('{') else {
        let path = tree.split("as").next().unwrap_or(&tree);
        return vec![path.trim_end_matches("::self").to_string()];
    };
    let prefix = tree[..open].trim_end_matches("::");
    let inner = &tree[open + 1..tree.rfind('}').unwrap_or(tree.len())];
    split_top(inner)
        .into_iter()
        .filter(|part| !part.is_empty())
        .flat_map(|part| {
            use_tree_paths(part)
                .into_iter()
                .map(|path| match path.as_str() {
                    "self" => prefix.to_string(),
                    _ => format!("{prefix}::{path}"),
                })
                .collect::<Vec<_>>()
        })
        .collect()
}

/// The `crate::`, `self::` and `super::` paths `text` names, in `use` trees and inline.
fn named_paths(text: &str) -> Vec<String> {
    let code: String = code_lines(text)
        .map(|(_, line)| format!("{line}\n"))
        .collect();
    let mut paths = Vec::new();
    let mut rest = code.as_str();
    while let Some(at) = rest.find("use ") {
        let before = &rest[..at];
        let starts_statement = before
            .rsplit('\n')
            .next()
            .is_some_and(|line| line.trim().is_empty() || line.trim().starts_with("pub"));
        let Some(end) = rest[at..].find(';') else {
            break;
        };
        if starts_statement {
            paths.extend(use_tree_paths(&rest[at + 4..at + end]));
        }
        rest = &rest[at + end + 1..];
    }
    for start in ["crate::", "super::", "self::"] {
        let mut from = 0;
        while let Some(found) = code[from..].find(start) {
            let at = from + found;
            let boundary = code[..at]
                .chars()
                .next_back()
                .is_none_or(|c| !(c.is_alphanumeric() || c == '_' || c == ':'));
            let end = code[at..]
                .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':'))
                .map_or(code.len(), |end| at + end);
            if boundary {
                paths.push(code[at..end].trim_end_matches(':').to_string());
            }
            from = end.max(at + 1);
        }
    }
    paths
}

/// `path` as seen from `module`, made absolute (without the leading `crate`).
fn absolute(module: &[String], path: &str) -> Vec<String> {
    let mut parts = segments(path).into_iter().peekable();
    let mut resolved = match parts.peek().map(String::as_str) {
        Some("crate") => {
            parts.next();
            Vec::new()
        }
        _ => module.to_vec(),
    };
    for part in parts {
        match part.as_str() {
            "self" => {}
            "super" => {
                resolved.pop();
            }
            _ => resolved.push(part),
        }
    }
    resolved
}

/// The command modules of the crate at `crate_src`.
fn command_modules(root: &Path, crate_src: &str) -> Vec<Vec<String>> {
    let mut commands: Vec<Vec<String>> = LONE_COMMANDS
        .iter()
        .filter(|(src, _)| *src == crate_src)
        .map(|(_, module)| segments(module))
        .collect();
    for folder in COMMAND_FOLDERS.iter().filter(|f| f.crate_src == crate_src) {
        let dir = root.join(crate_src).join(folder.dir);
        for entry in std::fs::read_dir(&dir)
            .expect("read a command folder")
            .flatten()
        {
            let name = entry.file_name().to_string_lossy().into_owned();
            let stem = name.trim_end_matches(".rs");
            if stem == "mod" || folder.shared.contains(&stem) {
                continue;
            }
            let mut command: Vec<String> = folder.dir.split('/').map(String::from).collect();
            command.push(stem.to_string());
            commands.push(command);
        }
    }
    commands.sort();
    commands
}

#[test]
fn commands_import_no_other_command_and_shared_layers_import_none() {
    let root = workspace_root();
    let mut found = Vec::new();
    let crates: BTreeSet<&str> = COMMAND_FOLDERS
        .iter()
        .map(|folder| folder.crate_src)
        .chain(LONE_COMMANDS.iter().map(|(src, _)| *src))
        .collect();
    for crate_src in crates {
        let commands = command_modules(&root, crate_src);
        let dispatchers: Vec<Vec<String>> = DISPATCHERS
            .iter()
            .filter(|(src, _)| *src == crate_src)
            .map(|(_, module)| segments(module))
            .collect();
        let this_file = Path::new(file!());
        for file in rust_files(&root, crate_src) {
            if this_file.ends_with(&file) {
                continue;
            }
            let module = module_of(Path::new(crate_src), &file);
            if dispatchers.contains(&module) {
                continue;
            }
            // The innermost command: `db::migrate::dev` within `db::migrate`.
            let innermost = |path: &[String]| {
                commands
                    .iter()
                    .filter(|command| path.starts_with(command))
                    .max_by_key(|command| command.len())
            };
            let own = innermost(&module);
            for path in named_paths(&read(&root, &file)) {
                let target = absolute(&module, &path);
                let reached = innermost(&target);
                // Within its own command folder, a subcommand may use what the folder's
                // dispatcher (`mod.rs`) holds, but not a sibling subcommand.
                if let Some(reached) = reached
                    && Some(reached) != own
                    && !own.is_some_and(|own| own.starts_with(reached))
                {
                    found.push(format!(
                        "{}: `{path}` reaches the command module `{}` from {}",
                        file.display(),
                        reached.join("::"),
                        own.map_or("a shared module".to_string(), |own| format!(
                            "the command module `{}`",
                            own.join("::")
                        ))
                    ));
                }
            }
        }
    }
    assert!(
        found.is_empty(),
        "a command module is a leaf (move what two commands share below them, e.g. into \
         xtask/src/workflow/):\n{}",
        found.join("\n")
    );
}

#[test]
fn paths_are_read_from_use_trees_and_code_and_resolved() {
    assert_eq!(
        use_tree_paths("crate::{docker, db::{seed::seed_target, self}, ui as u}"),
        [
            "crate::docker",
            "crate::db::seed::seed_target",
            "crate::db",
            "crate::ui"
        ]
    );
    let text = "use super::restore::check_file;\n\
                // crate::db::up::run in a comment\n\
                fn f() { crate::image::build::run(); }\n";
    assert_eq!(
        named_paths(text),
        [
            "super::restore::check_file",
            "crate::image::build::run",
            "super::restore::check_file"
        ]
    );
    let module = segments("db::backup::verify");
    assert_eq!(
        absolute(&module, "super::super::restore::x"),
        segments("db::restore::x")
    );
    assert_eq!(absolute(&module, "crate::workflow"), segments("workflow"));
}
