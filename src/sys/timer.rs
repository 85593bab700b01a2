//! A timer the event loop polls like a socket (timerfd), for the work that
//! comes once a second: the Date line, deadlines, flushing access lines.
//!
//! With it, `epoll_wait` never takes a timeout. A timeout costs the kernel a
//! clock read and a timer set and cancelled on every call, so a busy loop pays
//! it on every turn, where the timerfd, set to the next second, costs one call
//! a second; on a Pi that per-call kernel work is CPU the requests do not get
//! (CPU per request: bench/RESULTS.md).

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

/// A one-shot timer the event loop waits on like a socket.
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
