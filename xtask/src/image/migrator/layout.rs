//! The migrator image's file system, as plain data: every directory and file with its mode
//! and owner, where each file's bytes come from, and the shared libraries `ldd` names. No
//! shell, no package manager: the binary, its libraries, the user database, the CA roots,
//! `/tmp` and the migrations.

use std::collections::BTreeSet;
use std::path::{Component, Path, PathBuf};

use super::config::{BINARY_PATH, CA_BUNDLE_PATH, MIGRATIONS_PATH, USER_ID};

/// One entry of the image's root file system; `path` is relative to `/`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub path: PathBuf,
    pub kind: Kind,
    pub mode: u32,
    /// Owner and group (root unless said otherwise).
    pub owner: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    Dir,
    /// A file copied from the host (symlinks followed: the image holds the file itself).
    HostFile(PathBuf),
    /// A file written from text.
    Text(String),
}

/// What the image is assembled from, found on the host.
#[derive(Debug, Clone)]
pub struct Inputs {
    pub binary: PathBuf,
    /// Absolute paths, as `ldd` prints them (the dynamic loader among them).
    pub libraries: Vec<PathBuf>,
    pub ca_bundle: PathBuf,
    /// The migrations folder on the host, and its files relative to it.
    pub migrations_dir: PathBuf,
    pub migration_files: Vec<PathBuf>,
}

pub const PASSWD: &str = "root:x:0:0:root:/root:/sbin/nologin\n\
                          nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n";
pub const GROUP: &str = "root:x:0:\nnonroot:x:65532:\n";
/// glibc's resolver: `/etc/hosts` first (Docker writes it), then DNS (`/etc/resolv.conf`).
pub const NSSWITCH: &str = "passwd: files\ngroup: files\nhosts: files dns\n";

/// Every entry of the image, parents before children, sorted by path; each directory on the
/// way to a file is listed once.
pub fn rootfs_entries(inputs: &Inputs) -> Vec<Entry> {
    let file = |path: &str, kind: Kind, mode: u32| Entry {
        path: PathBuf::from(path),
        kind,
        mode,
        owner: 0,
    };
    let mut files = vec![
        file(BINARY_PATH, Kind::HostFile(inputs.binary.clone()), 0o755),
        file("etc/passwd", Kind::Text(PASSWD.to_string()), 0o644),
        file("etc/group", Kind::Text(GROUP.to_string()), 0o644),
        file("etc/nsswitch.conf", Kind::Text(NSSWITCH.to_string()), 0o644),
        file(
            CA_BUNDLE_PATH,
            Kind::HostFile(inputs.ca_bundle.clone()),
            0o644,
        ),
    ];
    for library in &inputs.libraries {
        files.push(Entry {
            path: relative(library),
            kind: Kind::HostFile(library.clone()),
            mode: 0o755,
            owner: 0,
        });
    }
    for migration in &inputs.migration_files {
        files.push(Entry {
            path: Path::new(MIGRATIONS_PATH).join(migration),
            kind: Kind::HostFile(inputs.migrations_dir.join(migration)),
            mode: 0o644,
            owner: 0,
        });
    }
    let special_dirs = [
        // Writable by anyone, sticky, as everywhere; read-only under `--read-only`.
        Entry {
            path: PathBuf::from("tmp"),
            kind: Kind::Dir,
            mode: 0o1777,
            owner: 0,
        },
        Entry {
            path: PathBuf::from("home/nonroot"),
            kind: Kind::Dir,
            mode: 0o700,
            owner: USER_ID,
        },
        // Present even when the folder is empty, so that a mount has its place.
        Entry {
            path: PathBuf::from(MIGRATIONS_PATH),
            kind: Kind::Dir,
            mode: 0o755,
            owner: 0,
        },
    ];
    let mut dirs: BTreeSet<PathBuf> = BTreeSet::new();
    for entry in files.iter().chain(special_dirs.iter()) {
        let mut parent = entry.path.parent();
        while let Some(dir) = parent.filter(|dir| !dir.as_os_str().is_empty()) {
            dirs.insert(dir.to_path_buf());
            parent = dir.parent();
        }
    }
    // The special directories first: the stable sort keeps them ahead of a plain one of the
    // same path, which the dedup then drops.
    let plain_dirs = dirs.into_iter().map(|path| Entry {
        path,
        kind: Kind::Dir,
        mode: 0o755,
        owner: 0,
    });
    let mut entries: Vec<Entry> = special_dirs
        .into_iter()
        .chain(plain_dirs)
        .chain(files)
        .collect();
    entries.sort_by(|left, right| left.path.cmp(&right.path));
    entries.dedup_by(|later, earlier| later.path == earlier.path);
    entries
}

/// `/lib/x86_64-linux-gnu/libc.so.6` as `lib/x86_64-linux-gnu/libc.so.6`.
fn relative(path: &Path) -> PathBuf {
    path.components()
        .filter(|component| matches!(component, Component::Normal(_)))
        .collect()
}

/// The shared libraries in `ldd`'s output, loader included; none for a static binary. A
/// library `ldd` cannot find is an error naming it.
pub fn ldd_libraries(output: &str) -> Result<Vec<PathBuf>, String> {
    let mut libraries = Vec::new();
    for line in output.lines().map(str::trim) {
        if line.is_empty()
            || line.contains("statically linked")
            || line.contains("not a dynamic executable")
        {
            continue;
        }
        if let Some((name, _)) = line.split_once("=> not found") {
            return Err(format!(
                "`ldd` cannot find the library `{}` the binary needs",
                name.trim()
            ));
        }
        // `name => /path (0x...)`, `/path (0x...)` (the loader) or `linux-vdso.so.1 (0x...)`
        // (in the kernel, not a file).
        let target = line.split_once("=>").map_or(line, |(_, target)| target);
        let path = target.split_whitespace().next().unwrap_or_default();
        if path.starts_with('/') {
            libraries.push(PathBuf::from(path));
        }
    }
    libraries.sort();
    libraries.dedup();
    Ok(libraries)
}

#[cfg(test)]
mod tests {
    use super::*;

    const LDD: &str = "\tlinux-vdso.so.1 (0x00007ffd4b7f5000)\n\
        \tlibgcc_s.so.1 => /lib/x86_64-linux-gnu/libgcc_s.so.1 (0x00007f038bcc3000)\n\
        \tlibm.so.6 => /lib/x86_64-linux-gnu/libm.so.6 (0x00007f038b120000)\n\
        \tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007f038af3e000)\n\
        \t/lib64/ld-linux-x86-64.so.2 (0x00007f038bcf6000)\n";

    fn inputs() -> Inputs {
        Inputs {
            binary: PathBuf::from("/repo/target/release/nelo-migrate"),
            libraries: ldd_libraries(LDD).unwrap(),
            ca_bundle: PathBuf::from("/etc/ssl/certs/ca-certificates.crt"),
            migrations_dir: PathBuf::from("/repo/migrations"),
            migration_files: vec![
                PathBuf::from("20250817000000_baseline/migration.sql"),
                PathBuf::from("migration_lock.toml"),
            ],
        }
    }

    fn find<'e>(entries: &'e [Entry], path: &str) -> &'e Entry {
        entries
            .iter()
            .find(|entry| entry.path == Path::new(path))
            .unwrap_or_else(|| panic!("`{path}` is not in the image"))
    }

    #[test]
    fn ldd_output_gives_the_libraries_and_the_loader_but_not_the_vdso() {
        assert_eq!(
            ldd_libraries(LDD).unwrap(),
            [
                "/lib/x86_64-linux-gnu/libc.so.6",
                "/lib/x86_64-linux-gnu/libgcc_s.so.1",
                "/lib/x86_64-linux-gnu/libm.so.6",
                "/lib64/ld-linux-x86-64.so.2",
            ]
            .map(PathBuf::from)
        );
        assert!(ldd_libraries("\tstatically linked\n").unwrap().is_empty());
        assert!(
            ldd_libraries("\tnot a dynamic executable\n")
                .unwrap()
                .is_empty()
        );
        let missing = ldd_libraries("\tlibssl.so.3 => not found\n").unwrap_err();
        assert!(missing.contains("`libssl.so.3`"), "{missing}");
    }

    #[test]
    fn the_image_holds_the_binary_libraries_certificates_users_and_migrations() {
        let entries = rootfs_entries(&inputs());
        assert_eq!(
            find(&entries, "usr/local/bin/nelo-migrate").kind,
            Kind::HostFile("/repo/target/release/nelo-migrate".into())
        );
        assert_eq!(find(&entries, "usr/local/bin/nelo-migrate").mode, 0o755);
        assert_eq!(
            find(&entries, "lib64/ld-linux-x86-64.so.2").kind,
            Kind::HostFile("/lib64/ld-linux-x86-64.so.2".into())
        );
        find(&entries, "lib/x86_64-linux-gnu/libc.so.6");
        assert_eq!(
            find(&entries, "etc/ssl/certs/ca-certificates.crt").kind,
            Kind::HostFile("/etc/ssl/certs/ca-certificates.crt".into())
        );
        assert_eq!(
            find(&entries, "migrations/20250817000000_baseline/migration.sql").kind,
            Kind::HostFile("/repo/migrations/20250817000000_baseline/migration.sql".into())
        );
        find(&entries, "migrations/migration_lock.toml");
        let Kind::Text(passwd) = &find(&entries, "etc/passwd").kind else {
            panic!("passwd is written from text");
        };
        assert!(passwd.contains(":65532:65532:"));
        assert!(
            matches!(&find(&entries, "etc/group").kind, Kind::Text(group) if group.contains("nonroot:x:65532:"))
        );
    }

    #[test]
    fn there_is_no_shell_and_no_package_manager() {
        let entries = rootfs_entries(&inputs());
        for absent in [
            "bin",
            "bin/sh",
            "usr/bin",
            "sbin",
            "var/lib/dpkg",
            "usr/bin/apt",
        ] {
            assert!(
                entries.iter().all(|entry| entry.path != Path::new(absent)),
                "`{absent}` is in the image"
            );
        }
    }

    #[test]
    fn directories_come_once_and_before_what_they_hold() {
        let entries = rootfs_entries(&inputs());
        let paths: Vec<&Path> = entries.iter().map(|entry| entry.path.as_path()).collect();
        let unique: BTreeSet<&Path> = paths.iter().copied().collect();
        assert_eq!(unique.len(), paths.len(), "a path is listed twice");
        for (index, entry) in entries.iter().enumerate() {
            if let Some(parent) = entry.path.parent().filter(|p| !p.as_os_str().is_empty()) {
                let parent_index = paths.iter().position(|path| *path == parent);
                assert!(
                    parent_index.is_some_and(|parent_index| parent_index < index),
                    "`{}` comes before its folder",
                    entry.path.display()
                );
                assert_eq!(entries[parent_index.unwrap()].kind, Kind::Dir);
            }
        }
        assert!(
            paths.iter().all(|path| path.is_relative()),
            "paths are relative to /"
        );
    }

    #[test]
    fn tmp_is_sticky_and_the_home_belongs_to_the_user() {
        let entries = rootfs_entries(&inputs());
        assert_eq!(find(&entries, "tmp").mode, 0o1777);
        assert_eq!(find(&entries, "home/nonroot").owner, 65532);
        assert_eq!(find(&entries, "home").owner, 0);
        assert_eq!(find(&entries, "migrations").kind, Kind::Dir);
        // Everything else is root's, so that the user cannot change the image's files.
        assert!(
            entries
                .iter()
                .filter(|entry| entry.path != Path::new("home/nonroot"))
                .all(|entry| entry.owner == 0)
        );
    }

    #[test]
    fn an_empty_migrations_folder_still_has_its_mount_point() {
        let mut inputs = inputs();
        inputs.migration_files.clear();
        let entries = rootfs_entries(&inputs);
        assert_eq!(find(&entries, "migrations").kind, Kind::Dir);
    }
}
