//! The few system calls std does not offer, each behind a safe function.
//! This is the only file with `unsafe`; every block says why it is sound.
// The one module allowed to use `unsafe` (main.rs denies it crate-wide).
#![allow(unsafe_code)]

use std::io;
use std::mem;
use std::net::{SocketAddr, TcpListener};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

/// The unwinder's entry points, as stubs. A build that aborts on panic never
/// unwinds, yet std still names the unwinder's helpers (its personality
/// routine; the panic message's backtrace), and on ARM the C library's unwind
/// tables name `__aeabi_unwind_cpp_pr0/1`. Defined here, they keep libunwind,
/// and with it printf, which its debug logging brought in, out of the builds
/// that rebuild std from source (`--cfg stub_unwinder`, set by the Makefile
/// for `make pi` and `make static`): -12.4 KB on the tiny ARMv6 build, -34 KB
/// on x86_64. Rustup's prebuilt std carries its own copy of libunwind, which
/// these would clash with, so a plain cargo build keeps the real unwinder, as
/// does a build that can unwind (tests, panic=unwind). The ones that abort are
/// reached only by unwinding, which such a build never does;
/// `_Unwind_Backtrace`, which a panic message's backtrace asks, reports no frames.
#[cfg(all(stub_unwinder, not(test), any(panic = "abort", panic = "immediate-abort")))]
mod no_unwind {
    /// `_URC_END_OF_STACK`: the backtrace has no more frames.
    const END_OF_STACK: i32 = 5;

    macro_rules! never_called {
        ($($name:ident)*) => {$(
            #[no_mangle]
            extern "C" fn $name() -> ! {
                std::process::abort()
            }
        )*};
    }

    // The personality routine's questions about a frame.
    never_called!(_Unwind_GetLanguageSpecificData _Unwind_GetRegionStart _Unwind_GetTextRelBase _Unwind_GetDataRelBase);
    // ARM's EHABI personality routines and virtual-register access.
    #[cfg(target_arch = "arm")]
    never_called!(__aeabi_unwind_cpp_pr0 __aeabi_unwind_cpp_pr1 __gnu_unwind_frame _Unwind_VRS_Get _Unwind_VRS_Set);
    // The DWARF personality routine's register access (x86_64, aarch64).
    #[cfg(not(target_arch = "arm"))]
    never_called!(_Unwind_GetIPInfo _Unwind_SetGR _Unwind_SetIP);

    /// A backtrace of no frames: the binary is stripped, so none could be
    /// named anyway.
    #[no_mangle]
    extern "C" fn _Unwind_Backtrace(_trace: *const u8, _arg: *mut u8) -> i32 {
        END_OF_STACK
    }
}

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

/// The signals mote acts on; they are blocked in every thread and taken by a
/// `SignalFd` or by `wait_signal` on the signal thread, so no code runs in a handler.
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

/// `SIGNALS`, read from a descriptor the event loop polls (signalfd) instead
/// of by a thread of their own. They must be blocked (`block_signals`).
pub struct SignalFd(OwnedFd);

impl SignalFd {
    pub fn new() -> io::Result<SignalFd> {
        let set = signal_set();
        // SAFETY: set is initialised and outlives the call; the result is checked.
        let fd = unsafe { libc::signalfd(-1, &set, libc::SFD_NONBLOCK | libc::SFD_CLOEXEC) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: fd is a fresh descriptor that nothing else owns.
        Ok(SignalFd(unsafe { OwnedFd::from_raw_fd(fd) }))
    }

    /// Takes the next pending signal, if any.
    pub fn take(&self) -> Option<i32> {
        // SAFETY: signalfd_siginfo is plain integers, for which all zeroes is valid.
        let mut info: libc::signalfd_siginfo = unsafe { mem::zeroed() };
        let size = mem::size_of::<libc::signalfd_siginfo>();
        loop {
            // SAFETY: info is a live, writable signalfd_siginfo of `size` bytes.
            let read =
                unsafe { libc::read(self.0.as_raw_fd(), (&mut info as *mut libc::signalfd_siginfo).cast(), size) };
            if read < 0 && io::Error::last_os_error().kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return (read == size as libc::ssize_t).then_some(info.ssi_signo as i32);
        }
    }
}

impl AsRawFd for SignalFd {
    fn as_raw_fd(&self) -> std::os::fd::RawFd {
        self.0.as_raw_fd()
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
    /// Lets the thread end by itself: its memory goes back when its body returns.
    pub fn detach(self) {
        // SAFETY: the thread was created joinable and is detached once (detach takes self), never joined.
        unsafe { libc::pthread_detach(self.0) };
    }

    /// Waits until the thread's body has returned.
    pub fn join(self) {
        // SAFETY: the thread was created joinable and is joined once (join takes self).
        unsafe { libc::pthread_join(self.0, std::ptr::null_mut()) };
    }
}

/// A one-shot timer the event loop waits on like a socket (timerfd), so its
/// `epoll_wait` never takes a timeout: a timeout costs the kernel a clock read
/// and a timer set and cancelled on every call, about 1% of the CPU per request
/// at c=50 (bench/RESULTS.md), where this costs one call a second.
pub struct TimerFd(OwnedFd);

impl TimerFd {
    pub fn new() -> io::Result<TimerFd> {
        // SAFETY: timerfd_create() has no memory arguments; the result is checked.
        let fd = unsafe { libc::timerfd_create(libc::CLOCK_MONOTONIC, libc::TFD_NONBLOCK | libc::TFD_CLOEXEC) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: fd is a fresh descriptor that nothing else owns.
        Ok(TimerFd(unsafe { OwnedFd::from_raw_fd(fd) }))
    }

    /// Fires once, `after` from now (at least a microsecond: zero would disarm it).
    /// Setting it again also clears a past expiry, so it is never read.
    pub fn set(&self, after: std::time::Duration) -> io::Result<()> {
        let after = after.max(std::time::Duration::from_micros(1));
        let spec = libc::itimerspec {
            it_interval: libc::timespec { tv_sec: 0, tv_nsec: 0 },
            it_value: libc::timespec {
                tv_sec: after.as_secs().min(i32::MAX as u64) as _,
                tv_nsec: after.subsec_nanos() as _,
            },
        };
        // SAFETY: `spec` is a valid itimerspec that outlives the call; no old value is asked for.
        if unsafe { libc::timerfd_settime(self.0.as_raw_fd(), 0, &spec, std::ptr::null_mut()) } < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }
}

impl AsRawFd for TimerFd {
    fn as_raw_fd(&self) -> std::os::fd::RawFd {
        self.0.as_raw_fd()
    }
}

/// Sends from many connections handed to the kernel in one system call, through an
/// io_uring used for nothing else. A keep-alive server answering one request at a time
/// makes a read and a write per request; with the writes of one event-loop turn batched
/// here, that is a read per request and one `io_uring_enter` per turn.
///
/// Every send carries MSG_DONTWAIT, so the kernel tries it at once, inside
/// `io_uring_enter`, and a full socket completes with EAGAIN instead of waiting: each
/// `submit` ends with every send it submitted complete, and nothing is in flight
/// between turns. The ring holds each buffer's `Arc` until then, so the memory a send
/// reads cannot change or go away under it. Needs Linux 5.18 (IORING_SETUP_SUBMIT_ALL);
/// older kernels, qemu-user and seccomp filters that refuse io_uring get an error from
/// `new`, and the caller sends directly.
pub struct SendRing {
    fd: OwnedFd,
    /// Kept mapped while the pointers below point into it.
    _rings: Mapping,
    sqes: Mapping,
    sq_head: *const AtomicU32,
    sq_tail: *const AtomicU32,
    sq_mask: u32,
    sq_array: *mut u32,
    cq_head: *const AtomicU32,
    cq_tail: *const AtomicU32,
    cq_mask: u32,
    cqes: *const RingCqe,
    entries: u32,
    /// The buffer of each queued send, in order, until it completes; a send's
    /// user_data is its index.
    held: Vec<Option<Arc<Vec<u8>>>>,
    /// Flags of every send; only tests leave out MSG_DONTWAIT.
    send_flags: u32,
    /// Set when a parked send could not be cancelled: `send` refuses from then on.
    broken: bool,
}

/// A queued send that did not send all its bytes: its index in queueing order,
/// its buffer, and how it ended.
pub type ShortSend = (usize, Arc<Vec<u8>>, io::Result<usize>);

// SAFETY: the mappings and descriptor belong to this ring alone and are only touched
// through `&mut self`; moving the ring to another thread moves all of it.
unsafe impl Send for SendRing {}

const IORING_SETUP_SUBMIT_ALL: u32 = 1 << 7;
const IORING_FEAT_SINGLE_MMAP: u32 = 1;
const IORING_OFF_SQ_RING: libc::off_t = 0;
const IORING_OFF_SQES: libc::off_t = 0x1000_0000;
const IORING_ENTER_GETEVENTS: u32 = 1;
const IORING_OP_ASYNC_CANCEL: u8 = 14;
const IORING_OP_SEND: u8 = 26;
/// user_data of the cancel requests `submit` may need (never a send's index).
const CANCEL: u64 = 1 << 63;
/// How often a refused cancel submission is tried again, a millisecond apart.
const CANCEL_TRIES: u32 = 100;

/// `struct io_uring_params` and its two offset tables (linux/io_uring.h).
#[repr(C)]
#[derive(Default)]
struct RingParams {
    sq_entries: u32,
    cq_entries: u32,
    flags: u32,
    sq_thread_cpu: u32,
    sq_thread_idle: u32,
    features: u32,
    wq_fd: u32,
    resv: [u32; 3],
    sq_off: QueueOffsets,
    cq_off: QueueOffsets,
}

/// `struct io_sqring_offsets` / `struct io_cqring_offsets`: where each field of a
/// queue lies in the mapping. The two differ only in the fields mote does not use
/// (the submission queue's flags/dropped/array are its 5th to 7th, the completion
/// queue's overflow/cqes/flags); `entries` is the submission array or the
/// completion entries.
#[repr(C)]
#[derive(Default, Clone, Copy)]
struct QueueOffsets {
    head: u32,
    tail: u32,
    ring_mask: u32,
    ring_entries: u32,
    fifth: u32,
    sixth: u32,
    seventh: u32,
    resv1: u32,
    user_addr: u64,
}

impl QueueOffsets {
    /// The submission queue's index array.
    fn sq_array(&self) -> u32 {
        self.seventh
    }

    /// The completion queue's entries.
    fn cqes(&self) -> u32 {
        self.sixth
    }
}

/// `struct io_uring_sqe`, with only the fields a send or a cancel uses named.
#[repr(C)]
struct RingSqe {
    opcode: u8,
    flags: u8,
    ioprio: u16,
    fd: i32,
    off: u64,
    addr: u64,
    len: u32,
    msg_flags: u32,
    user_data: u64,
    rest: [u64; 3],
}

const _: () =
    assert!(mem::size_of::<RingSqe>() == 64 && mem::size_of::<RingCqe>() == 16 && mem::size_of::<RingParams>() == 120);

#[repr(C)]
struct RingCqe {
    user_data: u64,
    res: i32,
    flags: u32,
}

/// A shared mapping of the ring's memory, unmapped on drop.
struct Mapping {
    ptr: *mut libc::c_void,
    len: usize,
}

impl Mapping {
    fn new(fd: &OwnedFd, len: usize, offset: libc::off_t) -> io::Result<Mapping> {
        let prot = libc::PROT_READ | libc::PROT_WRITE;
        // SAFETY: a fresh shared mapping of the ring descriptor; the kernel checks
        // `len` and `offset` against the ring it made.
        let ptr = unsafe {
            libc::mmap(std::ptr::null_mut(), len, prot, libc::MAP_SHARED | libc::MAP_POPULATE, fd.as_raw_fd(), offset)
        };
        if ptr == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        Ok(Mapping { ptr, len })
    }

    /// A pointer `offset` bytes in, where the kernel said a field is.
    fn at<T>(&self, offset: u32) -> *mut T {
        debug_assert!(offset as usize + mem::size_of::<T>() <= self.len);
        // SAFETY: the kernel's offsets lie inside the mapping it sized.
        unsafe { self.ptr.cast::<u8>().add(offset as usize).cast() }
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        // SAFETY: ptr/len are the mapping made in `new`, unmapped once.
        unsafe { libc::munmap(self.ptr, self.len) };
    }
}

impl SendRing {
    /// A ring for up to `entries` sends per `submit` (a power of two).
    pub fn new(entries: u32) -> io::Result<SendRing> {
        let mut params = RingParams { flags: IORING_SETUP_SUBMIT_ALL, ..RingParams::default() };
        // SAFETY: params is a live io_uring_params the kernel fills in.
        let fd =
            unsafe { libc::syscall(libc::SYS_io_uring_setup, entries as libc::c_long, &mut params as *mut RingParams) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: fd is a fresh descriptor that nothing else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(fd as i32) };
        if params.features & IORING_FEAT_SINGLE_MMAP == 0 {
            return Err(io::ErrorKind::Unsupported.into());
        }
        let (sq, cq) = (params.sq_off, params.cq_off);
        let sq_len = sq.sq_array() as usize + params.sq_entries as usize * mem::size_of::<u32>();
        let cq_len = cq.cqes() as usize + params.cq_entries as usize * mem::size_of::<RingCqe>();
        let rings = Mapping::new(&fd, sq_len.max(cq_len), IORING_OFF_SQ_RING)?;
        let sqes = Mapping::new(&fd, params.sq_entries as usize * mem::size_of::<RingSqe>(), IORING_OFF_SQES)?;
        // SAFETY: the masks are plain u32s inside the mapping, written by the kernel
        // before io_uring_setup returned.
        let (sq_mask, cq_mask) = unsafe { (*rings.at::<u32>(sq.ring_mask), *rings.at::<u32>(cq.ring_mask)) };
        Ok(SendRing {
            sq_head: rings.at(sq.head),
            sq_tail: rings.at(sq.tail),
            sq_mask,
            sq_array: rings.at(sq.sq_array()),
            cq_head: rings.at(cq.head),
            cq_tail: rings.at(cq.tail),
            cq_mask,
            cqes: rings.at(cq.cqes()),
            entries: params.sq_entries,
            held: Vec::with_capacity(params.sq_entries as usize),
            send_flags: (libc::MSG_NOSIGNAL | libc::MSG_DONTWAIT) as u32,
            broken: false,
            fd,
            _rings: rings,
            sqes,
        })
    }

    /// Queues a send of all of `bytes` on `socket` for the next `submit`; false
    /// when the ring is full (the caller sends directly).
    pub fn send(&mut self, socket: &impl AsRawFd, bytes: &Arc<Vec<u8>>) -> bool {
        let index = self.held.len() as u64;
        if index == u64::from(self.entries) || self.broken {
            return false;
        }
        self.push(RingSqe {
            opcode: IORING_OP_SEND,
            fd: socket.as_raw_fd(),
            addr: bytes.as_ptr() as usize as u64,
            len: bytes.len() as u32,
            msg_flags: self.send_flags,
            user_data: index,
            ..blank()
        });
        self.held.push(Some(Arc::clone(bytes)));
        true
    }

    /// Writes one entry at the tail; the kernel reads it at the next
    /// io_uring_enter. Between turns the queue is empty (head == tail).
    fn push(&mut self, sqe: RingSqe) {
        // SAFETY: only this ring writes the tail; the kernel only reads it.
        let tail = unsafe { (*self.sq_tail).load(Ordering::Relaxed) };
        let slot = tail & self.sq_mask;
        // SAFETY: slot < sq_entries, inside both mappings; the kernel does not read
        // entries past the published tail.
        unsafe {
            self.sqes.at::<RingSqe>(0).add(slot as usize).write(sqe);
            self.sq_array.add(slot as usize).write(slot);
            (*self.sq_tail).store(tail.wrapping_add(1), Ordering::Release);
        }
    }

    /// Submits every queued send. The ones that did not send all their bytes
    /// land in `unfinished` with their index (in queueing order), buffer and
    /// result: the bytes sent, WouldBlock for a full socket, Interrupted for a
    /// send the kernel did not take (the caller sends it directly), or the error.
    pub fn submit(&mut self, unfinished: &mut Vec<ShortSend>) {
        let queued = self.held.len();
        if queued == 0 {
            return;
        }
        let submitted = loop {
            match self.enter(queued as u32, 0) {
                Ok(n) => break n.min(queued),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => break 0,
            }
        };
        if submitted < queued {
            // Take back what the kernel left in the queue.
            // SAFETY: the kernel reads the queue only inside io_uring_enter.
            unsafe {
                let head = (*self.sq_head).load(Ordering::Acquire);
                (*self.sq_tail).store(head, Ordering::Release);
            }
            for index in submitted..queued {
                if let Some(bytes) = self.held[index].take() {
                    unfinished.push((index, bytes, Err(io::ErrorKind::Interrupted.into())));
                }
            }
        }
        self.reap(unfinished);
        if self.held.iter().any(Option::is_some) {
            // A send the kernel parked instead of failing it with EAGAIN (one that
            // ignores MSG_DONTWAIT): cancel it and wait, so nothing outlives the turn.
            let mut cancels = 0;
            for index in 0..queued {
                if self.held[index].is_some() {
                    self.push(RingSqe { addr: index as u64, ..blank() });
                    cancels += 1;
                }
            }
            for _ in 0..CANCEL_TRIES {
                match self.enter(cancels, 0) {
                    Ok(n) => cancels -= n.min(cancels as usize) as u32,
                    Err(_) => std::thread::sleep(std::time::Duration::from_millis(1)),
                }
                if cancels == 0 {
                    break;
                }
            }
            self.reap(unfinished);
            while cancels == 0 && self.held.iter().any(Option::is_some) {
                let _ = self.enter(0, 1);
                self.reap(unfinished);
            }
            if self.held.iter().any(Option::is_some) {
                // The kernel took no cancel: the sends may still read their
                // buffers, so they are never freed, and the ring is not used again.
                for bytes in self.held.drain(..).flatten() {
                    mem::forget(bytes);
                }
                self.broken = true;
            }
        }
        self.held.clear();
    }

    /// io_uring_enter: submits `count` queued entries and, with `wait`, waits
    /// until that many completions are posted. Returns how many were submitted.
    fn enter(&self, count: u32, wait: u32) -> io::Result<usize> {
        let flags = if wait > 0 { IORING_ENTER_GETEVENTS } else { 0 };
        let (fd, count, wait, flags) = (self.fd.as_raw_fd(), count as libc::c_long, wait as libc::c_long, flags);
        // SAFETY: plain call on the ring descriptor, without a signal mask. Every
        // argument is passed at the width of a register (a variadic call).
        let rc = unsafe {
            libc::syscall(
                libc::SYS_io_uring_enter,
                fd as libc::c_long,
                count,
                wait,
                flags as libc::c_long,
                std::ptr::null::<libc::sigset_t>(),
                0 as libc::size_t,
            )
        };
        if rc < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(rc as usize)
    }

    /// Takes the completions the kernel has posted; sends that fell short go
    /// to `unfinished`.
    fn reap(&mut self, unfinished: &mut Vec<ShortSend>) {
        // SAFETY: the kernel writes the entries before the tail (Acquire pairs with
        // its release); only this ring moves the head.
        unsafe {
            let mut head = (*self.cq_head).load(Ordering::Relaxed);
            let tail = (*self.cq_tail).load(Ordering::Acquire);
            while head != tail {
                let cqe = &*self.cqes.add((head & self.cq_mask) as usize);
                // Compared before any narrowing: on 32 bits CANCEL as usize is 0.
                let index = if cqe.user_data < self.held.len() as u64 { cqe.user_data as usize } else { usize::MAX };
                if let Some(bytes) = self.held.get_mut(index).and_then(Option::take) {
                    let result = match cqe.res {
                        n if n >= 0 => Ok(n as usize),
                        // A cancelled send sent nothing: the socket was full.
                        e if e == -libc::ECANCELED => Err(io::ErrorKind::WouldBlock.into()),
                        e => Err(io::Error::from_raw_os_error(-e)),
                    };
                    if !matches!(result, Ok(n) if n == bytes.len()) {
                        unfinished.push((index, bytes, result));
                    }
                }
                head = head.wrapping_add(1);
            }
            (*self.cq_head).store(head, Ordering::Release);
        }
    }
}

/// An entry with only its opcode and user_data set: a cancel of nothing, and the
/// fields every other entry leaves at zero.
fn blank() -> RingSqe {
    RingSqe {
        opcode: IORING_OP_ASYNC_CANCEL,
        flags: 0,
        ioprio: 0,
        fd: -1,
        off: 0,
        addr: 0,
        len: 0,
        msg_flags: 0,
        user_data: CANCEL,
        rest: [0; 3],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;
    use std::os::unix::net::UnixStream;

    /// A ring, or None (with a note) where the kernel offers no io_uring.
    fn ring() -> Option<SendRing> {
        match SendRing::new(8) {
            Ok(ring) => Some(ring),
            Err(e) => {
                eprintln!("NOTE: io_uring unavailable here ({e}): ring tests skipped");
                None
            }
        }
    }

    fn submit(ring: &mut SendRing) -> Vec<(usize, usize, io::ErrorKind)> {
        let mut unfinished = Vec::new();
        ring.submit(&mut unfinished);
        unfinished
            .into_iter()
            .map(|(i, b, r)| (i, b.len(), r.map_or_else(|e| e.kind(), |_| io::ErrorKind::Other)))
            .collect()
    }

    #[test]
    fn sends_arrive_in_order_and_only_shortfalls_are_reported() {
        let Some(mut ring) = ring() else { return };
        let (a, mut b) = UnixStream::pair().unwrap();
        a.set_nonblocking(true).unwrap();
        let (one, two) = (Arc::new(b"one ".to_vec()), Arc::new(b"two".to_vec()));
        assert!(ring.send(&a, &one) && ring.send(&a, &two));
        assert!(submit(&mut ring).is_empty());
        assert_eq!(Arc::strong_count(&one), 1, "the ring let go of the buffer");
        let mut got = [0u8; 7];
        b.read_exact(&mut got).unwrap();
        assert_eq!(&got, b"one two");
    }

    #[test]
    fn a_full_ring_refuses_more() {
        let Some(mut ring) = ring() else { return };
        let (a, _b) = UnixStream::pair().unwrap();
        let bytes = Arc::new(vec![b'x'; 10]);
        let taken = (0..20).take_while(|_| ring.send(&a, &bytes)).count();
        assert_eq!(taken as u32, ring.entries);
        assert!(submit(&mut ring).is_empty());
        assert!(ring.send(&a, &bytes), "room again after submit");
        submit(&mut ring);
    }

    /// Sends `big` on `a`, one submit each, until a send reports WouldBlock
    /// (at most 64 times); returns every shortfall reported on the way.
    fn fill(ring: &mut SendRing, a: &UnixStream, big: &Arc<Vec<u8>>) -> Vec<(usize, usize, io::ErrorKind)> {
        let mut reports = Vec::new();
        for _ in 0..64 {
            assert!(ring.send(a, big));
            reports.extend(submit(ring));
            if reports.iter().any(|r| r.2 == io::ErrorKind::WouldBlock) {
                break;
            }
        }
        reports
    }

    /// A full socket: the send that does not fit reports how much went, the
    /// next one WouldBlock, at once.
    #[test]
    fn a_full_socket_reports_a_short_send_then_would_block() {
        let Some(mut ring) = ring() else { return };
        let (a, _b) = UnixStream::pair().unwrap();
        a.set_nonblocking(true).unwrap();
        let reports = fill(&mut ring, &a, &Arc::new(vec![b'x'; 64 * 1024]));
        let short = reports.iter().position(|r| r.2 == io::ErrorKind::Other); // sent, not whole
        let blocked = reports.iter().position(|r| r.2 == io::ErrorKind::WouldBlock);
        assert!(short.is_some() && short < blocked, "a short send, then WouldBlock: {reports:?}");
    }

    /// Without MSG_DONTWAIT the kernel parks a send on a full socket instead
    /// of failing it; `submit` must still return, with the send cancelled.
    #[test]
    fn a_parked_send_is_cancelled_not_waited_for() {
        let Some(mut ring) = ring() else { return };
        let (a, _b) = UnixStream::pair().unwrap();
        a.set_nonblocking(true).unwrap();
        let big = Arc::new(vec![b'x'; 64 * 1024]);
        assert!(fill(&mut ring, &a, &big).iter().any(|r| r.2 == io::ErrorKind::WouldBlock), "the socket never filled");
        ring.send_flags = libc::MSG_NOSIGNAL as u32;
        assert!(ring.send(&a, &big));
        let reports = submit(&mut ring);
        assert_eq!(reports.len(), 1, "{reports:?}");
        assert_eq!(reports[0].2, io::ErrorKind::WouldBlock);
        assert_eq!(Arc::strong_count(&big), 1);
    }
}
