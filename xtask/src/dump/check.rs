//! What makes a file safe to restore, decided before anything is touched: a plain file must
//! be a whole pg_dump script (its header and its closing line), and the databases a restore
//! works in are named after its target.

/// The first line pg_dump writes in a plain dump of one database.
const PLAIN_HEADER: &str = "-- PostgreSQL database dump";
/// The line pg_dump writes last; a script without it was cut short.
const PLAIN_TRAILER: &str = "-- PostgreSQL database dump complete";
/// How many leading lines may come before the header (pg_dump writes `--` first).
const HEADER_LINES: usize = 5;
/// PostgreSQL's identifier limit, in bytes.
const MAX_IDENTIFIER: usize = 63;

/// Why a plain file is not a complete pg_dump script, or `None` when it is one. `head` is the
/// start of the file, `tail` its end (they may overlap for a small file).
pub fn plain_dump_problem(head: &[u8], tail: &[u8]) -> Option<&'static str> {
    let head = String::from_utf8_lossy(head);
    let has_header = head
        .lines()
        .take(HEADER_LINES)
        .any(|line| line.trim_end() == PLAIN_HEADER);
    if !has_header {
        return Some(
            "it is not a pg_dump plain dump (it does not start with `-- PostgreSQL database \
             dump`)",
        );
    }
    let tail = String::from_utf8_lossy(tail);
    let complete = tail.lines().any(|line| line.trim_end() == PLAIN_TRAILER);
    if !complete {
        return Some(
            "it was cut short: the last line pg_dump writes (`-- PostgreSQL database dump \
             complete`) is missing",
        );
    }
    None
}

/// The scratch database a restore into `target` fills before it takes `target`'s name.
pub fn scratch_database_name(target: &str) -> String {
    suffixed(target, "_nelo_restoring")
}

/// The name `target` holds for the instant of the swap, before it is dropped.
pub fn replaced_database_name(target: &str) -> String {
    suffixed(target, "_nelo_replaced")
}

/// `target` + `suffix`, `target` shortened (at a character boundary) to fit 63 bytes.
fn suffixed(target: &str, suffix: &str) -> String {
    let mut end = target.len().min(MAX_IDENTIFIER - suffix.len());
    while !target.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}{suffix}", &target[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEAD: &str = "--\n-- PostgreSQL database dump\n--\n\n\\restrict abc\n\nSET x = 0;\n";
    const TAIL: &str = "\\unrestrict abc\n\n--\n-- PostgreSQL database dump complete\n--\n\n";

    #[test]
    fn a_whole_pg_dump_script_passes() {
        assert_eq!(plain_dump_problem(HEAD.as_bytes(), TAIL.as_bytes()), None);
    }

    #[test]
    fn text_that_is_not_a_dump_is_named() {
        let readme = b"# nelo\n\nThe database toolchain.\n";
        let problem = plain_dump_problem(readme, readme).unwrap();
        assert!(problem.contains("not a pg_dump plain dump"), "{problem}");
        // pg_dumpall's script is not one database's dump.
        let cluster = b"--\n-- PostgreSQL database cluster dump\n--\n";
        assert!(plain_dump_problem(cluster, cluster).is_some());
    }

    #[test]
    fn a_script_cut_short_is_named() {
        let cut = b"COPY public.t (a) FROM stdin;\n1\n2\n";
        let problem = plain_dump_problem(HEAD.as_bytes(), cut).unwrap();
        assert!(problem.contains("cut short"), "{problem}");
    }

    #[test]
    fn working_names_fit_an_identifier_and_keep_the_target_readable() {
        assert_eq!(scratch_database_name("nelo"), "nelo_nelo_restoring");
        assert_eq!(replaced_database_name("nelo"), "nelo_nelo_replaced");
        let long = "é".repeat(40);
        let scratch = scratch_database_name(&long);
        assert!(scratch.len() <= 63, "{}", scratch.len());
        assert!(scratch.ends_with("_nelo_restoring"));
        assert_ne!(scratch_database_name(&long), replaced_database_name(&long));
    }
}
