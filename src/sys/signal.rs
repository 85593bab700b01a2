//! Signals taken synchronously: blocked in every thread, then read from a
//! signalfd or waited for, so no code ever runs in a handler. What each
//! signal does, and which thread takes them, is `ops/signals.rs`'s to say.

use std::io;
use std::mem;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

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
