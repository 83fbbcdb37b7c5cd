//! What xtask asks the operating system through libc, in one audited place: whether a
//! process still runs, the CPU time of waited-for children, a child's peak memory, a file
//! system's free space. Declared `#[cfg(unix)]`: each call here exists on Linux and macOS (the
//! Linux-only ones, such as the image build's `umount2`, live in `image/`, gated to Linux).

use std::io;
use std::path::Path;
use std::time::Duration;

/// Whether a process with this pid exists, whoever runs it.
pub fn is_alive(pid: u32) -> bool {
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return false;
    };
    // SAFETY: kill takes two integers and touches no memory; signal 0 sends nothing, it only
    // checks that the process exists.
    let result = unsafe { libc::kill(pid, 0) };
    // EPERM: it exists, under another user.
    result == 0 || io::Error::last_os_error().kind() == io::ErrorKind::PermissionDenied
}

/// User + system CPU time of the children waited for so far (`getrusage(RUSAGE_CHILDREN)`);
/// zero if the call fails.
pub fn children_cpu_time() -> Duration {
    // SAFETY: rusage is plain integers, for which all zeroes is a valid value.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: getrusage only writes into the struct it is given and keeps no pointer to it.
    if unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut usage) } != 0 {
        return Duration::ZERO;
    }
    duration(usage.ru_utime) + duration(usage.ru_stime)
}

fn duration(value: libc::timeval) -> Duration {
    Duration::from_secs(u64::try_from(value.tv_sec).unwrap_or(0))
        + Duration::from_micros(u64::try_from(value.tv_usec).unwrap_or(0))
}

/// Waits for the child `pid` and returns its raw wait status and its own peak RSS in KiB
/// (`wait4`).
pub fn wait_with_peak_memory(pid: u32) -> io::Result<(i32, i64)> {
    let pid = libc::pid_t::try_from(pid).map_err(|_| io::Error::other("pid out of range"))?;
    let mut status = 0;
    // SAFETY: an all-zero rusage is a valid value for wait4 to fill in.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `pid` is our child, not yet waited for; the pointers are valid for the call.
    let waited = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    if waited < 0 {
        return Err(io::Error::last_os_error());
    }
    // Linux counts the peak RSS in KiB, macOS in bytes.
    let peak_rss_kib = if cfg!(target_os = "macos") {
        usage.ru_maxrss / 1024
    } else {
        usage.ru_maxrss
    };
    Ok((status, peak_rss_kib))
}

/// The bytes available to this user and the size of the file system holding `dir`
/// (`statvfs`), or `None` when it cannot tell.
pub fn free_space(dir: &Path) -> Option<(u64, u64)> {
    use std::os::unix::ffi::OsStrExt;
    let path = std::ffi::CString::new(dir.as_os_str().as_bytes()).ok()?;
    let mut stats = std::mem::MaybeUninit::<libc::statvfs>::uninit();
    // SAFETY: `path` is a valid C string and `stats` is written by statvfs before it is read.
    let result = unsafe { libc::statvfs(path.as_ptr(), stats.as_mut_ptr()) };
    if result != 0 {
        return None;
    }
    // SAFETY: statvfs returned 0, so it filled `stats`.
    let stats = unsafe { stats.assume_init() };
    let block = stats.f_frsize;
    // `fsblkcnt_t` is 64 bits on Linux but 32 on macOS.
    #[allow(clippy::useless_conversion)]
    let (available, blocks) = (u64::from(stats.f_bavail), u64::from(stats.f_blocks));
    Some((available * block, blocks * block))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_is_alive_and_a_pid_beyond_any_is_not() {
        assert!(is_alive(std::process::id()));
        // Beyond the largest pid Linux and macOS hand out.
        assert!(!is_alive(99_999_999));
    }

    #[test]
    fn a_full_file_system_or_quota_is_a_full_disk() {
        use crate::dump_file::is_disk_full;
        for code in [libc::ENOSPC, libc::EDQUOT] {
            assert!(is_disk_full(&io::Error::from_raw_os_error(code)), "{code}");
        }
        assert!(!is_disk_full(&io::Error::from_raw_os_error(libc::EACCES)));
    }

    #[test]
    fn free_space_is_read_and_a_missing_folder_is_none() {
        let (available, size) =
            free_space(&std::env::temp_dir()).expect("statvfs of the temp folder");
        assert!(size > 0 && available <= size, "{available} of {size}");
        assert_eq!(free_space(Path::new("/nonexistent/nelo")), None);
    }

    #[test]
    fn children_cpu_time_grows_with_a_waited_child() {
        let before = children_cpu_time();
        std::process::Command::new("sh")
            .args(["-c", "i=0; while [ $i -lt 200000 ]; do i=$((i+1)); done"])
            .status()
            .expect("run sh");
        assert!(children_cpu_time() > before);
    }
}
