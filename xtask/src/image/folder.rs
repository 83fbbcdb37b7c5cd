//! The temporary build folder of `image build`, removed however the build ends, and never
//! through a mount point debootstrap left behind. Linux only (`/proc/self/mounts`,
//! `umount2`), like the build itself.

use std::path::{Path, PathBuf};

use anyhow::Context as _;

/// The temporary build folder. Dropping it (after a failure, Ctrl-C or success) first detaches
/// whatever debootstrap left mounted inside (`proc`, `sys` when it was killed), so that the
/// removal never reaches into the host's file systems.
pub struct BuildFolder {
    folder: Option<tempfile::TempDir>,
}

impl BuildFolder {
    pub fn new(parent: &Path) -> anyhow::Result<BuildFolder> {
        let folder = tempfile::Builder::new()
            .prefix("nelo-image-")
            .tempdir_in(parent)
            .with_context(|| format!("cannot create a build folder in {}", parent.display()))?;
        Ok(BuildFolder {
            folder: Some(folder),
        })
    }

    pub fn path(&self) -> &Path {
        self.folder.as_ref().expect("present until dropped").path()
    }
}

impl Drop for BuildFolder {
    fn drop(&mut self) {
        let Some(folder) = self.folder.take() else {
            return;
        };
        let mounts = std::fs::read_to_string("/proc/self/mounts").unwrap_or_default();
        let stuck = mounts_under(&mounts, folder.path());
        for mount in &stuck {
            if let Ok(path) = std::ffi::CString::new(mount.as_os_str().as_encoded_bytes()) {
                // SAFETY: `path` is a NUL-terminated string that outlives the call; umount2
                // reads it and keeps no pointer. A failure is seen below, in the mounts.
                unsafe { libc::umount2(path.as_ptr(), libc::MNT_DETACH) };
            }
        }
        let still_mounted = !mounts_under(
            &std::fs::read_to_string("/proc/self/mounts").unwrap_or_default(),
            folder.path(),
        )
        .is_empty();
        if still_mounted {
            // Never delete through a mount: leave the folder and say where it is.
            let kept = folder.keep();
            eprintln!(
                "warning: {} still has mounts inside; unmount them and remove it by hand",
                kept.display()
            );
        }
    }
}

/// The mount points inside `root`, deepest first, from the text of `/proc/self/mounts`.
pub fn mounts_under(mounts: &str, root: &Path) -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = mounts
        .lines()
        .filter_map(|line| line.split_whitespace().nth(1))
        // The kernel escapes spaces and tabs as octal.
        .map(|point| PathBuf::from(point.replace("\\040", " ").replace("\\011", "\t")))
        .filter(|point| point.starts_with(root) && point != root)
        .collect();
    found.sort_by_key(|point| std::cmp::Reverse(point.components().count()));
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mounts_inside_the_build_folder_are_found_deepest_first() {
        let mounts = "proc /proc proc rw 0 0\n\
                      proc /var/tmp/nelo-image-x/rootfs/proc proc rw 0 0\n\
                      sysfs /var/tmp/nelo-image-x/rootfs/sys sysfs rw 0 0\n\
                      binfmt /var/tmp/nelo-image-x/rootfs/proc/sys/fs/binfmt_misc binfmt rw 0 0\n\
                      tmpfs /var/tmp/nelo-image-y tmpfs rw 0 0\n";
        let found = mounts_under(mounts, Path::new("/var/tmp/nelo-image-x"));
        assert_eq!(found.len(), 3);
        assert_eq!(
            found[0],
            Path::new("/var/tmp/nelo-image-x/rootfs/proc/sys/fs/binfmt_misc")
        );
        assert!(mounts_under(mounts, Path::new("/var/tmp/nelo-image-z")).is_empty());
    }
}
