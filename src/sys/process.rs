//! The process itself: its file limit, memory, cores, and the privileges it
//! gives up after binding (chroot, user and groups).
//!
//! Each is a call or two that std does not offer, or offers with more than
//! mote needs (`available_parallelism` parses cgroups), so here each is the
//! bare call behind a safe function.

use std::io;
use std::mem;

/// Raises the soft RLIMIT_NOFILE to the hard limit and returns it: a server's
/// connections are file descriptors, and the default 1024 is a peer's ceiling.
pub fn raise_file_limit() -> u64 {
    // SAFETY: rlimit is plain data; getrlimit/setrlimit only read and write it.
    unsafe {
        let mut limit: libc::rlimit = mem::zeroed();
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) != 0 {
            return 1024;
        }
        if limit.rlim_cur < limit.rlim_max {
            let raised = libc::rlimit { rlim_cur: limit.rlim_max, rlim_max: limit.rlim_max };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) == 0 {
                limit = raised;
            }
        }
        limit.rlim_cur as u64
    }
}

/// Resident set size in bytes, from /proc/self/statm.
pub fn resident_bytes() -> Option<u64> {
    let statm = super::read_to_string(std::path::Path::new("/proc/self/statm")).ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    // SAFETY: sysconf has no memory arguments.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    Some(pages * u64::try_from(page).unwrap_or(4096))
}

/// Confines the process to `dir` (it becomes `/`).
pub fn chroot(dir: &std::path::Path) -> io::Result<()> {
    use std::os::unix::ffi::OsStrExt;
    let path = std::ffi::CString::new(dir.as_os_str().as_bytes()).map_err(|_| io::ErrorKind::InvalidInput)?;
    // SAFETY: path is a NUL-terminated string that outlives the call.
    if unsafe { libc::chroot(path.as_ptr()) } != 0 {
        return Err(io::Error::last_os_error());
    }
    std::env::set_current_dir("/")
}

/// Drops to `uid`/`gid` for good: supplementary groups first, then the group,
/// then the user (the order that leaves no privilege behind), and a check
/// that root cannot be regained.
pub fn become_user(uid: u32, gid: u32) -> io::Result<()> {
    let groups = [gid as libc::gid_t];
    // SAFETY: groups is a live array of the length given; the other calls
    // take plain integers.
    unsafe {
        if libc::setgroups(1, groups.as_ptr()) != 0
            || libc::setgid(gid as libc::gid_t) != 0
            || libc::setuid(uid as libc::uid_t) != 0
        {
            return Err(io::Error::last_os_error());
        }
        if libc::setuid(0) == 0 || libc::geteuid() != uid || libc::getegid() != gid {
            // Not a system error: say it in the ErrorKind's own words.
            return Err(io::ErrorKind::PermissionDenied.into());
        }
    }
    Ok(())
}

#[cfg(feature = "tls")]
/// Fills `buf` from the kernel's random pool (getrandom(2), which waits
/// only until the pool was first seeded).
pub fn fill_random(buf: &mut [u8]) -> io::Result<()> {
    let mut filled = 0;
    while filled < buf.len() {
        let rest = &mut buf[filled..];
        // SAFETY: the pointer and length describe `rest`, which is writable.
        let n = unsafe { libc::getrandom(rest.as_mut_ptr().cast(), rest.len(), 0) };
        match n {
            n if n > 0 => filled += n as usize,
            _ => {
                let e = io::Error::last_os_error();
                if e.kind() != io::ErrorKind::Interrupted {
                    return Err(e);
                }
            }
        }
    }
    Ok(())
}

/// Cores online (for `--threads auto`): one sysconf call instead of std's
/// cgroup-aware `available_parallelism`, which adds kilobytes of parsing.
pub fn online_cpus() -> usize {
    // SAFETY: sysconf has no memory arguments.
    let n = unsafe { libc::sysconf(libc::_SC_NPROCESSORS_ONLN) };
    usize::try_from(n).unwrap_or(1).max(1)
}
