//! The few system calls std does not offer, each behind a safe function.
//! This is the only file with `unsafe`; every block says why it is sound.
// The one module allowed to use `unsafe` (main.rs denies it crate-wide).
#![allow(unsafe_code)]

use std::io;
use std::mem;
use std::net::{SocketAddr, TcpListener};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

/// A non-blocking listening socket with SO_REUSEADDR, TCP_NODELAY, a deep backlog, and
/// IPV6_V6ONLY for IPv6 so `[::]:80` and `0.0.0.0:80` can both be listened on.
pub fn listen(addr: SocketAddr, backlog: i32) -> io::Result<TcpListener> {
    let family = if addr.is_ipv4() { libc::AF_INET } else { libc::AF_INET6 };
    // SAFETY: socket() has no memory arguments; the result is checked.
    let fd = unsafe { libc::socket(family, libc::SOCK_STREAM | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: fd is a fresh descriptor that nothing else owns.
    let socket = unsafe { OwnedFd::from_raw_fd(fd) };
    set_flag(&socket, libc::SOL_SOCKET, libc::SO_REUSEADDR)?;
    if addr.is_ipv6() {
        set_flag(&socket, libc::IPPROTO_IPV6, libc::IPV6_V6ONLY)?;
    }
    // Accepted sockets inherit it, saving a setsockopt per connection: each
    // response leaves in one writev, so Nagle would only add delay.
    set_flag(&socket, libc::IPPROTO_TCP, libc::TCP_NODELAY)?;
    let (storage, len) = socket_address(addr);
    // SAFETY: storage is a valid sockaddr of `len` bytes for this family.
    if unsafe { libc::bind(fd, (&storage as *const libc::sockaddr_storage).cast(), len) } < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: plain call on an owned descriptor.
    if unsafe { libc::listen(fd, backlog) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(TcpListener::from(socket))
}

fn set_flag(socket: &OwnedFd, level: i32, name: i32) -> io::Result<()> {
    let one: libc::c_int = 1;
    // SAFETY: the option value points at a live c_int of the size given.
    let rc = unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            level,
            name,
            (&one as *const libc::c_int).cast(),
            mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

fn socket_address(addr: SocketAddr) -> (libc::sockaddr_storage, libc::socklen_t) {
    // SAFETY: sockaddr_storage is plain data for which all-zero is valid.
    let mut storage: libc::sockaddr_storage = unsafe { mem::zeroed() };
    let len = match addr {
        SocketAddr::V4(v4) => {
            // SAFETY: sockaddr_storage is large and aligned enough for sockaddr_in.
            let sin = unsafe { &mut *(&mut storage as *mut libc::sockaddr_storage).cast::<libc::sockaddr_in>() };
            sin.sin_family = libc::AF_INET as libc::sa_family_t;
            sin.sin_port = v4.port().to_be();
            sin.sin_addr = libc::in_addr { s_addr: u32::from_ne_bytes(v4.ip().octets()) };
            mem::size_of::<libc::sockaddr_in>()
        }
        SocketAddr::V6(v6) => {
            // SAFETY: sockaddr_storage is large and aligned enough for sockaddr_in6.
            let sin6 = unsafe { &mut *(&mut storage as *mut libc::sockaddr_storage).cast::<libc::sockaddr_in6>() };
            sin6.sin6_family = libc::AF_INET6 as libc::sa_family_t;
            sin6.sin6_port = v6.port().to_be();
            sin6.sin6_addr = libc::in6_addr { s6_addr: v6.ip().octets() };
            sin6.sin6_flowinfo = v6.flowinfo();
            sin6.sin6_scope_id = v6.scope_id();
            mem::size_of::<libc::sockaddr_in6>()
        }
    };
    (storage, len as libc::socklen_t)
}

/// Copies up to `count` bytes of `file` from `offset` to `socket` in the
/// kernel. The file's own offset is not used, so many connections can share
/// one descriptor.
pub fn sendfile(socket: &impl AsRawFd, file: &impl AsRawFd, offset: u64, count: usize) -> io::Result<usize> {
    let mut off = offset as libc::off_t;
    // SAFETY: both descriptors are open for the duration of the call and
    // `off` is a live off_t the kernel updates.
    let sent = unsafe { libc::sendfile(socket.as_raw_fd(), file.as_raw_fd(), &mut off, count) };
    byte_count(sent)
}

/// Sends `parts` on a connected socket in one call, like `writev` but through
/// `sendmsg`: a socket write that skips the file layer (`vfs_writev`, its checks and
/// its notifications), which is what `writev` on a socket goes through first.
pub fn send_vectored(socket: &impl AsRawFd, parts: &[io::IoSlice<'_>]) -> io::Result<usize> {
    // SAFETY: an all-zero msghdr is valid (no name, no control data). IoSlice is
    // ABI-compatible with iovec on Unix, and `parts` outlives the call.
    let sent = unsafe {
        let mut message: libc::msghdr = mem::zeroed();
        message.msg_iov = parts.as_ptr() as *mut libc::iovec;
        message.msg_iovlen = parts.len() as _;
        libc::sendmsg(socket.as_raw_fd(), &message, libc::MSG_NOSIGNAL)
    };
    byte_count(sent)
}

/// Sends `bytes` on a connected socket: the one-buffer form of
/// `send_vectored`, without the message header and iovec the kernel copies in.
pub fn send(socket: &impl AsRawFd, bytes: &[u8]) -> io::Result<usize> {
    // SAFETY: `bytes` is valid for reads of its length during the call.
    let sent = unsafe { libc::send(socket.as_raw_fd(), bytes.as_ptr().cast(), bytes.len(), libc::MSG_NOSIGNAL) };
    byte_count(sent)
}

/// A byte-count result (`ssize_t`) as the count or the error it signals.
fn byte_count(result: libc::ssize_t) -> io::Result<usize> {
    if result < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(result as usize)
}

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

/// The signals mote acts on; they are blocked in every thread and taken by
/// `wait_signal` on the signal thread, so no code runs in a handler.
pub const SIGNALS: [i32; 4] = [libc::SIGTERM, libc::SIGINT, libc::SIGHUP, libc::SIGUSR1];
pub use libc::{SIGHUP, SIGINT, SIGTERM, SIGUSR1};

fn signal_set() -> libc::sigset_t {
    // SAFETY: sigemptyset initialises the set before sigaddset uses it.
    unsafe {
        let mut set: libc::sigset_t = mem::zeroed();
        libc::sigemptyset(&mut set);
        for signal in SIGNALS {
            libc::sigaddset(&mut set, signal);
        }
        set
    }
}

/// Blocks `SIGNALS` in the calling thread; threads spawned later inherit it.
pub fn block_signals() {
    let set = signal_set();
    // SAFETY: set is initialised; the old mask is not wanted.
    unsafe {
        libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
    }
}

/// Waits for one of `SIGNALS` and returns it.
pub fn wait_signal() -> i32 {
    let set = signal_set();
    loop {
        let mut signal: libc::c_int = 0;
        // SAFETY: set is initialised and signal is a live c_int.
        if unsafe { libc::sigwait(&set, &mut signal) } == 0 {
            return signal;
        }
    }
}

/// Resident set size in bytes, from /proc/self/statm.
pub fn resident_bytes() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
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

/// Opens (creating, mode 0644) `name` inside the directory `dir` for
/// appending: works after a chroot as long as `dir` was opened before it.
pub fn open_append_at(dir: &std::fs::File, name: &std::ffi::OsStr) -> io::Result<std::fs::File> {
    use std::os::unix::ffi::OsStrExt;
    let name = std::ffi::CString::new(name.as_bytes()).map_err(|_| io::ErrorKind::InvalidInput)?;
    let flags = libc::O_WRONLY | libc::O_APPEND | libc::O_CREAT | libc::O_CLOEXEC;
    // SAFETY: name is NUL-terminated and outlives the call; dir is open.
    let fd = unsafe { libc::openat(dir.as_raw_fd(), name.as_ptr(), flags, 0o644 as libc::c_uint) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: fd is a fresh descriptor that nothing else owns.
    Ok(std::fs::File::from(unsafe { OwnedFd::from_raw_fd(fd) }))
}

/// Cores online (for `--threads auto`): one sysconf call instead of std's
/// cgroup-aware `available_parallelism`, which adds kilobytes of parsing.
pub fn online_cpus() -> usize {
    // SAFETY: sysconf has no memory arguments.
    let n = unsafe { libc::sysconf(libc::_SC_NPROCESSORS_ONLN) };
    usize::try_from(n).unwrap_or(1).max(1)
}

/// A thread started by `spawn`; `join` waits for it to end.
pub struct Thread(libc::pthread_t);

/// What a new thread runs, handed to it through pthread_create's one pointer.
struct Start {
    name: &'static std::ffi::CStr,
    body: Box<dyn FnOnce() + Send>,
}

/// Runs `body` on a new thread with a `stack`-byte stack, named `name` for `ps -T`
/// and `top -H` (15 bytes at most). A bare pthread_create: std's thread Builder also
/// brings a stack-overflow guard handler, spawn hooks, a per-closure copy of its start
/// code and a thread-naming path through musl's snprintf — 12 KB of the ARMv6 binary for
/// two threads that live as long as the process.
pub fn spawn(name: &'static std::ffi::CStr, stack: usize, body: Box<dyn FnOnce() + Send>) -> io::Result<Thread> {
    extern "C" fn start(arg: *mut libc::c_void) -> *mut libc::c_void {
        // SAFETY: `arg` is the Box<Start> that `spawn` leaked for this thread alone.
        let start = unsafe { Box::from_raw(arg.cast::<Start>()) };
        // SAFETY: PR_SET_NAME reads a NUL-terminated string of up to 16 bytes.
        unsafe { libc::prctl(libc::PR_SET_NAME, start.name.as_ptr()) };
        (start.body)();
        std::ptr::null_mut()
    }
    let arg = Box::into_raw(Box::new(Start { name, body })).cast::<libc::c_void>();
    let mut thread = mem::MaybeUninit::<libc::pthread_t>::uninit();
    // SAFETY: `attr` is initialised before use and destroyed after; on success the new
    // thread owns `arg` and `thread` holds its id, on failure `arg` is taken back here,
    // so it is freed exactly once.
    unsafe {
        let mut attr = mem::MaybeUninit::<libc::pthread_attr_t>::uninit();
        libc::pthread_attr_init(attr.as_mut_ptr());
        libc::pthread_attr_setstacksize(attr.as_mut_ptr(), stack);
        let rc = libc::pthread_create(thread.as_mut_ptr(), attr.as_ptr(), start, arg);
        libc::pthread_attr_destroy(attr.as_mut_ptr());
        if rc != 0 {
            drop(Box::from_raw(arg.cast::<Start>()));
            return Err(io::Error::from_raw_os_error(rc));
        }
        Ok(Thread(thread.assume_init()))
    }
}

impl Thread {
    /// Waits until the thread's body has returned.
    pub fn join(self) {
        // SAFETY: the thread was created joinable and is joined once (join takes self).
        unsafe { libc::pthread_join(self.0, std::ptr::null_mut()) };
    }
}
