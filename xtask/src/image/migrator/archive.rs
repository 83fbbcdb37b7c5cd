//! The image's root file system as a tar archive, written from [`Entry`]s: every header
//! fixed (mtime 0, numeric owners, no user names), so the same inputs give the same layer.

use std::io::{self, Write};

use anyhow::Context as _;

use super::layout::{Entry, Kind};

/// Writes `entries` as a tar archive into `writer`, reading each host file as it goes.
pub fn write_archive(entries: &[Entry], writer: impl Write) -> anyhow::Result<()> {
    let mut builder = tar::Builder::new(writer);
    for entry in entries {
        let mut header = tar::Header::new_gnu();
        header.set_mode(entry.mode);
        header.set_uid(entry.owner.into());
        header.set_gid(entry.owner.into());
        header.set_mtime(0);
        let appended = match &entry.kind {
            Kind::Dir => {
                header.set_entry_type(tar::EntryType::Directory);
                header.set_size(0);
                builder.append_data(&mut header, &entry.path, io::empty())
            }
            Kind::Text(text) => {
                header.set_entry_type(tar::EntryType::Regular);
                header.set_size(text.len() as u64);
                builder.append_data(&mut header, &entry.path, text.as_bytes())
            }
            Kind::HostFile(source) => {
                let file = std::fs::File::open(source)
                    .with_context(|| format!("cannot read {}", source.display()))?;
                let size = file
                    .metadata()
                    .with_context(|| format!("cannot read {}", source.display()))?
                    .len();
                header.set_entry_type(tar::EntryType::Regular);
                header.set_size(size);
                builder.append_data(&mut header, &entry.path, file)
            }
        };
        appended.with_context(|| format!("cannot add `/{}` to the image", entry.path.display()))?;
    }
    builder
        .into_inner()
        .and_then(|mut writer| writer.flush())
        .context("cannot finish the image's archive")
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    #[test]
    fn the_archive_has_each_entry_with_its_mode_owner_and_bytes() {
        let folder = tempfile::tempdir().unwrap();
        let host_file = folder.path().join("tool");
        std::fs::write(&host_file, b"\x7fELF...").unwrap();
        let entries = vec![
            Entry {
                path: PathBuf::from("home"),
                kind: Kind::Dir,
                mode: 0o755,
                owner: 0,
            },
            Entry {
                path: PathBuf::from("home/nonroot"),
                kind: Kind::Dir,
                mode: 0o700,
                owner: 65532,
            },
            Entry {
                path: PathBuf::from("tmp"),
                kind: Kind::Dir,
                mode: 0o1777,
                owner: 0,
            },
            Entry {
                path: PathBuf::from("usr/local/bin/tool"),
                kind: Kind::HostFile(host_file),
                mode: 0o755,
                owner: 0,
            },
            Entry {
                path: PathBuf::from("etc/group"),
                kind: Kind::Text("nonroot:x:65532:\n".to_string()),
                mode: 0o644,
                owner: 0,
            },
        ];
        let mut bytes = Vec::new();
        write_archive(&entries, &mut bytes).unwrap();
        let mut again = Vec::new();
        write_archive(&entries, &mut again).unwrap();
        assert_eq!(bytes, again, "the same entries give the same archive");

        let mut archive = tar::Archive::new(bytes.as_slice());
        let mut seen = Vec::new();
        for item in archive.entries().unwrap() {
            let mut item = item.unwrap();
            let path = item.path().unwrap().display().to_string();
            let header = item.header().clone();
            let mut contents = String::new();
            io::Read::read_to_string(&mut item, &mut contents).unwrap_or_default();
            seen.push((
                path,
                header.mode().unwrap(),
                header.uid().unwrap(),
                header.entry_type().is_dir(),
                contents,
            ));
        }
        assert_eq!(
            seen[1],
            ("home/nonroot".into(), 0o700, 65532, true, String::new())
        );
        assert_eq!(seen[2].1, 0o1777);
        assert_eq!(seen[3].0, "usr/local/bin/tool");
        assert_eq!(seen[3].1, 0o755);
        assert_eq!(seen[4].4, "nonroot:x:65532:\n");
    }

    #[test]
    fn a_missing_host_file_is_named() {
        let entries = vec![Entry {
            path: PathBuf::from("usr/local/bin/nelo-migrate"),
            kind: Kind::HostFile(PathBuf::from("/nonexistent/nelo-migrate")),
            mode: 0o755,
            owner: 0,
        }];
        let error = write_archive(&entries, Vec::new()).unwrap_err();
        assert!(
            format!("{error:#}").contains("cannot read /nonexistent/nelo-migrate"),
            "{error:#}"
        );
    }
}
