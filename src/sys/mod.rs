//! The system calls std does not offer, each behind a safe function, split by subject
//! (files, sockets, process, signals, threads, timer, io_uring, unwinder stubs). The only
//! `unsafe` code in mote: each block says why it is sound; clippy denies one that does not.
// The one module allowed to use `unsafe` (main.rs denies it crate-wide).
#![allow(unsafe_code)]
#![deny(clippy::undocumented_unsafe_blocks, clippy::missing_safety_doc)]

mod file;
mod net;
mod process;
mod signal;
mod thread;
mod timer;
mod uring;
// See unwind.rs for when the stubs replace the real unwinder.
#[cfg(all(stub_unwinder, not(test), any(panic = "abort", panic = "immediate-abort")))]
mod unwind;

#[cfg(feature = "tls")]
pub use file::open_read_at;
#[cfg(feature = "acme")]
pub use file::{in_memory, try_lock};
pub use file::{open, open_append_at, read, read_to_string};
#[cfg(feature = "acme")]
pub use net::connect_udp;
pub use net::{connect, listen, recv_all, send, send_vectored, sendfile, set_timeouts};
#[cfg(feature = "tls")]
pub use process::fill_random;
pub use process::{become_user, chroot, online_cpus, raise_file_limit, resident_bytes};
pub use signal::{block_signals, wait_signal, SignalFd, SIGHUP, SIGINT, SIGTERM, SIGUSR1};
pub use thread::spawn;
pub use timer::TimerFd;
pub use uring::{SendRing, ShortSend};
