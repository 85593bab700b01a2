//! Threads started with a bare pthread_create and a small stack: the workers,
//! the signal thread beside several workers, and a reload's thread.
//!
//! std's thread Builder also brings a stack-overflow guard handler, spawn
//! hooks, a per-closure copy of its start code and a thread-naming path
//! through musl's snprintf: kilobytes of code a Pi's small binary carries for
//! threads that need none of it (the saving is in size-report/README.md).

use std::io;
use std::mem;

/// Stack for each thread: the request path keeps a few KiB on it, the reload
/// walk a little more per directory level; far below std's 2 MiB default.
const STACK: usize = 256 * 1024;

/// A thread started by `spawn`; `join` waits for it to end.
pub struct Thread(libc::pthread_t);

/// What a new thread runs, handed to it through pthread_create's one pointer.
struct Start {
    name: &'static std::ffi::CStr,
    body: Box<dyn FnOnce() + Send>,
}

/// Runs `body` on a new thread with a small stack (`STACK`), named `name` for
/// `ps -T` and `top -H` (15 bytes at most).
pub fn spawn(name: &'static std::ffi::CStr, body: Box<dyn FnOnce() + Send>) -> io::Result<Thread> {
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
        libc::pthread_attr_setstacksize(attr.as_mut_ptr(), STACK);
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
