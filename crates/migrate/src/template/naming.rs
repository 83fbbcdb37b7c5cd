//! The pure half of templates: the key, the name, the comment that records a template's
//! origin, and which templates a new one supersedes.

use sha2::{Digest, Sha256};

/// Every template's name starts with this; the rest is its key.
pub const TEMPLATE_PREFIX: &str = "nelo_tpl_";

/// Bump when the way templates are built changes, so that old templates are never reused.
pub const TEMPLATE_FORMAT: &str = "nelo template v2";

/// The start of every template's comment; the rest says who built it, for which folder and use.
const COMMENT_PREFIX: &str = "nelo template: host=";
/// What `nelo_db` wrote before templates moved here (v1); read as [`Slot::Full`].
const LEGACY_COMMENT_PREFIX: &str = "nelo test template: host=";
/// Written where the host cannot be identified: never matches a live host.
const UNKNOWN_HOST: &str = "unknown";

/// Which migrations of a folder a template holds. A folder keeps at most one template per
/// slot and host: building one supersedes the older template of the same slot, not the
/// other's, so that `status --drift` (the applied subset) and `diff` (the whole folder) do
/// not rebuild each other's template in turn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Slot {
    /// Every migration of the folder: diff sides, test databases, `db up`.
    Full,
    /// The migrations a database recorded as applied (drift), when they are not all of them.
    Applied,
}

impl Slot {
    fn as_str(self) -> &'static str {
        match self {
            Slot::Full => "full",
            Slot::Applied => "applied",
        }
    }
}

/// The key of the template that deploying `migrations` (`(name, checksum)`, in order) into
/// schema `schema` builds: the first 16 hex digits of a SHA-256 over [`TEMPLATE_FORMAT`],
/// the schema and every name and checksum. Any change to one of them changes the key.
pub fn template_key<'a>(
    schema: &str,
    migrations: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> String {
    prefix_keys(schema, migrations)
        .pop()
        .expect("prefix_keys yields the empty prefix")
}

/// The keys of every prefix of `migrations`, from the empty one (index 0) to all of them
/// (index n): `prefix_keys(..)[k]` is `template_key` of the first `k` migrations.
pub fn prefix_keys<'a>(
    schema: &str,
    migrations: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> Vec<String> {
    let mut hasher = Sha256::new();
    hasher.update(TEMPLATE_FORMAT);
    hasher.update(format!("\nschema\0{schema}"));
    let key = |hasher: &Sha256| hex::encode(&hasher.clone().finalize()[..8]);
    let mut keys = vec![key(&hasher)];
    for (name, checksum) in migrations {
        hasher.update(format!("\n{name}\0{checksum}"));
        keys.push(key(&hasher));
    }
    keys
}

/// `nelo_tpl_<key>`.
pub fn template_name(key: &str) -> String {
    format!("{TEMPLATE_PREFIX}{key}")
}

/// What a template records about its origin, in `COMMENT ON DATABASE`.
pub fn template_comment(host: Option<&str>, folder: &str, slot: Slot) -> String {
    format!(
        "{COMMENT_PREFIX}{} slot={} folder={folder}",
        host.unwrap_or(UNKNOWN_HOST),
        slot.as_str()
    )
}

/// `(host, slot, folder)` of a comment [`template_comment`] (or `nelo_db` v1) wrote.
fn parse_comment(comment: &str) -> Option<(&str, Slot, &str)> {
    if let Some(rest) = comment.strip_prefix(LEGACY_COMMENT_PREFIX) {
        let (host, folder) = rest.split_once(" folder=")?;
        return Some((host, Slot::Full, folder));
    }
    let (host, rest) = comment.strip_prefix(COMMENT_PREFIX)?.split_once(" slot=")?;
    let (slot, folder) = rest.split_once(" folder=")?;
    let slot = match slot {
        "full" => Slot::Full,
        "applied" => Slot::Applied,
        _ => return None,
    };
    Some((host, slot, folder))
}

/// Whether the template with `comment` is superseded once a template of `slot` for `folder`
/// is built on `this_host`: it was built here for the same folder and slot (an older version
/// of it), or for a folder that no longer exists (a benchmark's temporary folder).
/// Templates of other hosts, of other slots, of folders that still exist, and of unknown
/// comments are left alone.
pub fn is_superseded_template(
    comment: &str,
    this_host: Option<&str>,
    folder: &str,
    slot: Slot,
    folder_exists: impl Fn(&str) -> bool,
) -> bool {
    let Some((host, template_slot, template_folder)) = parse_comment(comment) else {
        return false;
    };
    this_host.is_some_and(|this_host| this_host == host)
        && ((template_folder == folder && template_slot == slot) || !folder_exists(template_folder))
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: [(&str, &str); 2] = [
        ("20250817000000_baseline", "aa"),
        ("20250901000000_tags", "bb"),
    ];

    #[test]
    fn key_changes_with_any_name_checksum_order_or_schema() {
        let base = template_key("public", BASE);
        assert_eq!(base.len(), 16);
        assert_eq!(base, template_key("public", BASE));
        let [first, second] = BASE;
        let edited = [first, ("20250901000000_tags", "bc")];
        assert_ne!(base, template_key("public", edited));
        let renamed = [first, ("20250901000000_tag", "bb")];
        assert_ne!(base, template_key("public", renamed));
        assert_ne!(base, template_key("public", [second, first]));
        assert_ne!(base, template_key("public", [first]));
        assert_ne!(base, template_key("app", BASE));
        // The separators keep a name from absorbing the next checksum.
        assert_ne!(
            template_key("public", [("a", "bc")]),
            template_key("public", [("ab", "c")])
        );
        assert_ne!(
            template_key("a", [("b", "c")]),
            template_key("ab", [("", "c")])
        );
    }

    #[test]
    fn prefix_keys_are_the_keys_of_each_prefix() {
        let keys = prefix_keys("public", BASE);
        assert_eq!(keys.len(), 3);
        assert_eq!(keys[0], template_key("public", []));
        assert_eq!(keys[1], template_key("public", [BASE[0]]));
        assert_eq!(keys[2], template_key("public", BASE));
    }

    #[test]
    fn names_fit_postgres() {
        let name = template_name(&template_key("public", BASE));
        assert!(name.starts_with(TEMPLATE_PREFIX));
        assert!(name.len() <= 63);
    }

    #[test]
    fn superseded_templates_are_this_hosts_of_the_same_folder_and_slot_or_a_vanished_folder() {
        let here = Some("0a1b2c3d");
        let exists = |folder: &str| folder != "/tmp/gone";
        let superseded = |comment: &str, slot| {
            is_superseded_template(comment, here, "/repo/migrations", slot, exists)
        };
        let same = template_comment(here, "/repo/migrations", Slot::Full);
        assert!(superseded(&same, Slot::Full));
        assert!(!superseded(&same, Slot::Applied), "the other slot is kept");
        let applied = template_comment(here, "/repo/migrations", Slot::Applied);
        assert!(superseded(&applied, Slot::Applied));
        assert!(!superseded(&applied, Slot::Full));
        let vanished = template_comment(here, "/tmp/gone", Slot::Applied);
        assert!(superseded(&vanished, Slot::Full));
        let other_folder = template_comment(here, "/other/migrations", Slot::Full);
        assert!(!superseded(&other_folder, Slot::Full));
        let other_host = template_comment(Some("ffffffff"), "/repo/migrations", Slot::Full);
        assert!(!superseded(&other_host, Slot::Full));
        let unknown_host = template_comment(None, "/repo/migrations", Slot::Full);
        assert!(!is_superseded_template(
            &unknown_host,
            None,
            "/repo/migrations",
            Slot::Full,
            exists
        ));
        assert!(!superseded("made by hand", Slot::Full));
        let legacy = "nelo test template: host=0a1b2c3d folder=/repo/migrations";
        assert!(superseded(legacy, Slot::Full));
        assert!(!superseded(legacy, Slot::Applied));
    }
}
