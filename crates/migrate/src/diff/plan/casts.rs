//! Column type changes: which casts cannot lose data (no warning), and when a `USING` cast
//! may be written at all.
//!
//! An explicit cast to a length-limited string or bit type truncates silently
//! (`'abcd'::varchar(3)` is `'abc'`), while the assignment cast `ALTER COLUMN ... TYPE` uses
//! without `USING` raises "value too long" (PostgreSQL, "Character Types"). So a change to a
//! string or bit type never gets a `USING`: every type has an assignment cast to the string
//! types (automatic I/O conversion). Other targets keep `USING column::type`, an explicit cast
//! that fails on a value it cannot convert rather than altering it, printed with a warning.
//!
//! The safe casts are at least Prisma's (prisma-engines `sql_schema_differ_flavour/postgres.rs`,
//! `SAFE_CASTS` in its `safe_casts` tests): integer widenings, to `numeric`, `real` to `double
//! precision`, longer `varchar`, `varchar` and `char` to `text`, anything to `text`.

/// The type without its modifier, and the modifier's numbers: `character varying(20)` is
/// (`character varying`, [20]); `numeric(10,2)` is (`numeric`, [10, 2]).
fn parse(data_type: &str) -> (&str, Vec<u32>) {
    match data_type.split_once('(') {
        Some((base, rest)) => {
            let (inside, tail) = rest.split_once(')').unwrap_or((rest, ""));
            let numbers = inside
                .split(',')
                .filter_map(|part| part.trim().parse().ok())
                .collect();
            // `timestamp(3) with time zone`: the base keeps its words.
            let base = if tail.trim().is_empty() {
                base.trim()
            } else {
                return (data_type, numbers);
            };
            (base, numbers)
        }
        None => (data_type, Vec::new()),
    }
}

/// Decimal digits an integer type needs (and one more for the sign, as text).
fn integer_digits(base: &str) -> Option<u32> {
    match base {
        "smallint" => Some(5),
        "integer" => Some(10),
        "bigint" => Some(19),
        _ => None,
    }
}

fn is_string(base: &str) -> bool {
    matches!(base, "text" | "character varying" | "character")
}

/// Every value of `from` converts to `to` and back unchanged: the change is no data-loss
/// warning. Both as `format_type` renders them; arrays follow their elements.
pub(super) fn is_safe_cast(from: &str, to: &str) -> bool {
    if from == to {
        return true;
    }
    match (from.strip_suffix("[]"), to.strip_suffix("[]")) {
        (Some(from), Some(to)) => return is_safe_cast(from, to),
        (None, None) => {}
        _ => return false,
    }
    let (from_base, from_mod) = parse(from);
    let (to_base, to_mod) = parse(to);
    // Text holds any value's text form; an unbounded varchar too.
    if to_base == "text" || (to_base == "character varying" && to_mod.is_empty()) {
        return true;
    }
    if let (Some(from_digits), Some(to_digits)) =
        (integer_digits(from_base), integer_digits(to_base))
    {
        return to_digits >= from_digits;
    }
    match (from_base, to_base) {
        (_, "numeric") if integer_digits(from_base).is_some() => match to_mod.as_slice() {
            [] => true,
            [precision] => *precision >= integer_digits(from_base).unwrap_or(u32::MAX),
            [precision, scale] => {
                precision.saturating_sub(*scale) >= integer_digits(from_base).unwrap_or(u32::MAX)
            }
            _ => false,
        },
        ("numeric", "numeric") => match (from_mod.as_slice(), to_mod.as_slice()) {
            (_, []) => true,
            ([p1], [p2]) => p2 >= p1,
            ([p1], [p2, s2]) => p2.saturating_sub(*s2) >= *p1,
            ([p1, s1], [p2]) => *s1 == 0 && p2 >= p1,
            ([p1, s1], [p2, s2]) => s2 >= s1 && p2.saturating_sub(*s2) >= p1.saturating_sub(*s1),
            _ => false,
        },
        ("smallint", "real" | "double precision") => true,
        ("integer", "double precision") => true,
        ("real", "double precision") => true,
        ("character varying" | "character", "character varying") => match to_mod.as_slice() {
            [] => true,
            [to_length] => from_mod.first().is_some_and(|length| to_length >= length),
            _ => false,
        },
        ("character", "character") => false,
        ("bit varying", "bit varying") | ("bit", "bit varying") => match to_mod.as_slice() {
            [] => true,
            [to_length] => from_mod.first().is_some_and(|length| to_length >= length),
            _ => false,
        },
        ("date", "timestamp without time zone" | "timestamp") => true,
        (
            "timestamp without time zone" | "timestamp with time zone" | "time without time zone",
            _,
        ) if from_base == to_base => to_mod.is_empty() || to_mod >= from_mod,
        _ => {
            // `timestamp(3) without time zone` and the like keep the modifier inside.
            precision_widening(from, to)
        }
    }
}

/// `timestamp(3) without time zone` to `timestamp(6) without time zone` or to
/// `timestamp without time zone` (and the same for `with time zone` and `time`).
fn precision_widening(from: &str, to: &str) -> bool {
    let split = |text: &str| -> Option<(String, Option<u32>)> {
        match text.split_once('(') {
            Some((head, rest)) => {
                let (number, tail) = rest.split_once(')')?;
                Some((format!("{head}{tail}"), number.trim().parse().ok()))
            }
            None => Some((text.to_string(), None)),
        }
    };
    let (Some((from_kind, from_precision)), Some((to_kind, to_precision))) =
        (split(from), split(to))
    else {
        return false;
    };
    if from_kind != to_kind
        || !(from_kind.starts_with("timestamp") || from_kind.starts_with("time "))
    {
        return false;
    }
    match (from_precision, to_precision) {
        (_, None) => true,
        (Some(from), Some(to)) => to >= from,
        (None, Some(_)) => false,
    }
}

/// Whether `ALTER COLUMN ... TYPE` to `to` should carry `USING column::to`: not to a string
/// or bit type, whose explicit casts truncate silently where the assignment cast raises an
/// error.
pub(super) fn writes_using(to: &str) -> bool {
    let element = to.trim_end_matches("[]");
    let (base, _) = parse(element);
    !(is_string(base) || matches!(base, "bit" | "bit varying"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn widenings_are_safe_and_narrowings_are_not() {
        for (from, to) in [
            ("integer", "bigint"),
            ("smallint", "integer"),
            ("character varying(20)", "character varying(40)"),
            ("character varying(20)", "text"),
            ("character varying", "text"),
            ("text", "character varying"),
            ("character(3)", "character varying(3)"),
            ("integer", "numeric"),
            ("integer", "numeric(12,2)"),
            ("numeric(10,2)", "numeric(12,2)"),
            ("real", "double precision"),
            ("integer[]", "bigint[]"),
            ("uuid", "text"),
            (
                "timestamp(3) without time zone",
                "timestamp(6) without time zone",
            ),
            ("timestamp(3) with time zone", "timestamp with time zone"),
            ("date", "timestamp without time zone"),
        ] {
            assert!(is_safe_cast(from, to), "{from} -> {to}");
        }
        for (from, to) in [
            ("bigint", "integer"),
            ("character varying(40)", "character varying(3)"),
            ("text", "character varying(3)"),
            ("text", "integer"),
            ("numeric(12,2)", "numeric(12,1)"),
            ("numeric", "numeric(10,2)"),
            ("integer", "numeric(5,0)"),
            ("double precision", "real"),
            ("bigint", "double precision"),
            (
                "timestamp(6) without time zone",
                "timestamp(3) without time zone",
            ),
            ("timestamp with time zone", "date"),
            ("integer[]", "integer"),
            ("integer", "boolean"),
        ] {
            assert!(!is_safe_cast(from, to), "{from} -> {to}");
        }
    }

    #[test]
    fn string_and_bit_targets_get_no_truncating_using() {
        assert!(!writes_using("character varying(3)"));
        assert!(!writes_using("character(2)"));
        assert!(!writes_using("text"));
        assert!(!writes_using("bit varying(4)"));
        assert!(!writes_using("character varying(3)[]"));
        assert!(writes_using("integer"));
        assert!(writes_using("numeric(10,2)"));
        assert!(writes_using("\"Role\""));
    }
}
