//! Reading and checksumming the `migration.sql` files, on several threads for a large folder.

use std::io::Read;
use std::num::NonZeroUsize;
use std::path::{Path, PathBuf};

use super::{Migration, SQL_FILE, is_no_transaction, layout_error, misplaced_marker};
use crate::Error;
use crate::checksum::checksum;

/// A migration folder whose name fits the layout, not read yet.
#[derive(Debug)]
pub(super) struct MigrationFolder {
    pub(super) path: PathBuf,
    pub(super) name: String,
}

/// Below this many folders, threads cost more than they save.
const PARALLEL_MIN_FOLDERS: usize = 64;

/// Size of the buffer [`read_file`] reads through; most migrations fit in one read.
const READ_CHUNK_BYTES: usize = 64 * 1024;

/// Loads `folders` of `dir` in their order; the first one that fails, in that order, is the
/// error.
pub(super) fn load_migrations(
    dir: &Path,
    folders: Vec<MigrationFolder>,
) -> Result<Vec<Migration>, Error> {
    let threads = std::thread::available_parallelism().map_or(1, NonZeroUsize::get);
    if threads < 2 || folders.len() < PARALLEL_MIN_FOLDERS {
        load_sequentially(dir, folders)
    } else {
        load_in_parallel(dir, folders, threads)
    }
}

fn load_sequentially(dir: &Path, folders: Vec<MigrationFolder>) -> Result<Vec<Migration>, Error> {
    let mut reader = FileReader::new(dir);
    folders
        .into_iter()
        .map(|folder| load_migration(folder, &mut reader))
        .collect()
}

/// Splits `folders` into `threads` contiguous chunks, loads each on its own thread (the first
/// on this one) and joins them in order, so the first failing chunk holds the first failing
/// folder. The other chunks still run to their end or their own first error.
fn load_in_parallel(
    dir: &Path,
    folders: Vec<MigrationFolder>,
    threads: usize,
) -> Result<Vec<Migration>, Error> {
    let total = folders.len();
    let chunk_size = total.div_ceil(threads).max(1);
    let mut remaining = folders.into_iter();
    let mut chunks = Vec::with_capacity(threads);
    while remaining.len() > 0 {
        chunks.push(remaining.by_ref().take(chunk_size).collect::<Vec<_>>());
    }
    let mut chunks = chunks.into_iter();
    let first_chunk = chunks.next().unwrap_or_default();
    let chunk_results = std::thread::scope(|scope| {
        let handles = chunks
            .map(|chunk| scope.spawn(move || load_sequentially(dir, chunk)))
            .collect::<Vec<_>>();
        let mut results = vec![load_sequentially(dir, first_chunk)];
        for handle in handles {
            let result = handle
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
            results.push(result);
        }
        results
    });
    let mut migrations = Vec::with_capacity(total);
    for chunk_result in chunk_results {
        migrations.extend(chunk_result?);
    }
    Ok(migrations)
}

fn load_migration(folder: MigrationFolder, reader: &mut FileReader) -> Result<Migration, Error> {
    let MigrationFolder { path: folder, name } = folder;
    // Only `migration.sql` is read (as Prisma does); a folder without it is an error.
    let path = folder.join(SQL_FILE);
    let bytes = reader
        .read(&name, &path)
        .map_err(|source| match source.kind() {
            std::io::ErrorKind::NotFound => {
                layout_error(&folder, "the migration folder has no `migration.sql`")
            }
            _ => Error::Io {
                path: path.clone(),
                source,
            },
        })?;
    let checksum = checksum(&bytes);
    let sql = String::from_utf8(bytes)
        .map_err(|_| layout_error(&path, "`migration.sql` is not valid UTF-8"))?;
    if let Some((line, text)) = misplaced_marker(&sql) {
        return Err(Error::MisplacedMarker {
            line,
            text: text.to_string(),
            path,
        });
    }
    Ok(Migration {
        no_transaction: is_no_transaction(&sql),
        name,
        path,
        sql,
        checksum,
    })
}

/// Reads the `migration.sql` files of one folder of migrations, through one scratch buffer.
/// On Unix each file is opened relative to the folder (`openat`), so the kernel looks up two
/// path components per file, not the whole path: for 10,000 files that is most of what
/// opening them costs.
struct FileReader {
    #[cfg(unix)]
    dir: Option<rustix::fd::OwnedFd>,
    scratch: Vec<u8>,
}

impl FileReader {
    fn new(dir: &Path) -> Self {
        Self {
            // Without it (say, the folder went meanwhile), each file is opened by its path,
            // which then says what is wrong.
            #[cfg(unix)]
            dir: rustix::fs::open(
                dir,
                rustix::fs::OFlags::RDONLY
                    | rustix::fs::OFlags::DIRECTORY
                    | rustix::fs::OFlags::CLOEXEC,
                rustix::fs::Mode::empty(),
            )
            .ok(),
            scratch: vec![0; READ_CHUNK_BYTES],
        }
    }

    /// The `migration.sql` of the folder `name`, which is at `path`.
    fn read(&mut self, name: &str, path: &Path) -> std::io::Result<Vec<u8>> {
        let file = self.open(name, path)?;
        read_file(file, &mut self.scratch)
    }

    #[cfg(unix)]
    fn open(&self, name: &str, path: &Path) -> std::io::Result<std::fs::File> {
        let Some(dir) = &self.dir else {
            return std::fs::File::open(path);
        };
        let relative = Path::new(name).join(SQL_FILE);
        rustix::fs::openat(
            dir,
            &relative,
            rustix::fs::OFlags::RDONLY | rustix::fs::OFlags::CLOEXEC,
            rustix::fs::Mode::empty(),
        )
        .map(std::fs::File::from)
        .map_err(std::io::Error::from)
    }

    #[cfg(not(unix))]
    fn open(&self, _name: &str, path: &Path) -> std::io::Result<std::fs::File> {
        std::fs::File::open(path)
    }
}

/// Reads a whole file with `read` until end of file: unlike [`std::fs::read`], no `stat` to
/// size the buffer. `scratch` is reused from file to file and the result is allocated at the
/// file's size.
fn read_file(mut file: std::fs::File, scratch: &mut [u8]) -> std::io::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    loop {
        match file.read(scratch) {
            Ok(0) => return Ok(bytes),
            Ok(read) => bytes.extend_from_slice(&scratch[..read]),
            Err(error) if error.kind() == std::io::ErrorKind::Interrupted => {}
            Err(error) => return Err(error),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::folder::list_migration_folders;

    fn generated(count: usize) -> (tempfile::TempDir, Vec<String>) {
        let dir = tempfile::tempdir().unwrap();
        let names = nelo_fixtures::generated_folder(dir.path(), count).unwrap();
        (dir, names)
    }

    fn folders(dir: &Path) -> Vec<MigrationFolder> {
        let listing = list_migration_folders(dir).unwrap();
        assert!(listing.first_misplaced.is_none());
        listing.folders
    }

    #[test]
    fn parallel_and_sequential_loads_are_identical() {
        let (dir, names) = generated(300);
        let sequential = load_sequentially(dir.path(), folders(dir.path())).unwrap();
        let loaded_names = sequential
            .iter()
            .map(|m| m.name.clone())
            .collect::<Vec<_>>();
        assert_eq!(loaded_names, names);
        for migration in &sequential {
            let bytes = std::fs::read(&migration.path).unwrap();
            assert_eq!(migration.checksum, checksum(&bytes));
            assert_eq!(migration.sql.as_bytes(), bytes);
        }
        for threads in [2, 3, 7, 300] {
            let parallel = load_in_parallel(dir.path(), folders(dir.path()), threads).unwrap();
            assert_eq!(parallel, sequential, "{threads} threads");
        }
        assert_eq!(
            load_migrations(dir.path(), folders(dir.path())).unwrap(),
            sequential
        );
    }

    #[test]
    fn parallel_load_reports_the_first_failing_folder() {
        let (dir, names) = generated(300);
        // Folder 250 is in a later chunk than folder 40, and fails differently.
        std::fs::remove_file(dir.path().join(&names[40]).join(SQL_FILE)).unwrap();
        std::fs::write(dir.path().join(&names[250]).join(SQL_FILE), [0xff, 0xfe]).unwrap();
        for threads in [1, 2, 3, 7] {
            match load_in_parallel(dir.path(), folders(dir.path()), threads) {
                Err(Error::Layout { path, reason }) => {
                    assert_eq!(path, dir.path().join(&names[40]), "{threads} threads");
                    assert!(reason.contains("no `migration.sql`"), "{reason}");
                }
                other => panic!("{threads} threads: {other:?}"),
            }
        }
    }

    #[test]
    fn read_file_reads_past_one_scratch_buffer() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(SQL_FILE);
        let text = (0..READ_CHUNK_BYTES / 4)
            .map(|index| format!("{index};"))
            .collect::<String>();
        std::fs::write(&path, &text).unwrap();
        let open = || std::fs::File::open(&path).unwrap();
        let mut scratch = vec![0; READ_CHUNK_BYTES];
        assert_eq!(read_file(open(), &mut scratch).unwrap(), text.as_bytes());
        assert_eq!(read_file(open(), &mut [0; 7]).unwrap(), text.as_bytes());
    }
}
