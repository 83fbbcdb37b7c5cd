//! This machine's processes: whether one still runs, by pid (for leftovers of killed runs).

use std::io;

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_is_alive_and_a_pid_beyond_any_is_not() {
        assert!(is_alive(std::process::id()));
        // Beyond the largest pid Linux and macOS hand out.
        assert!(!is_alive(99_999_999));
    }
}
