//! What std does not offer and the tests need: SO_LINGER (to close with a
//! reset) and RLIMIT_NOFILE (to open thousands of connections), called in
//! the C library every std program links. The harness's only unsafe code,
//! each block with its reason.

use std::io;
use std::net::TcpStream;

mod ffi {
    use std::os::raw::{c_int, c_ulong, c_void};

    #[repr(C)]
    pub struct Linger {
        pub l_onoff: c_int,
        pub l_linger: c_int,
    }

    #[repr(C)]
    pub struct Rlimit {
        pub rlim_cur: c_ulong,
        pub rlim_max: c_ulong,
    }

    // The C library is linked into every std program on Linux already.
    extern "C" {
        pub fn setsockopt(fd: c_int, level: c_int, name: c_int, value: *const c_void, len: u32) -> c_int;
        pub fn getrlimit(resource: c_int, limit: *mut Rlimit) -> c_int;
        pub fn setrlimit(resource: c_int, limit: *const Rlimit) -> c_int;
    }

    pub const SOL_SOCKET: c_int = 1;
    pub const SO_LINGER: c_int = 13;
    pub const RLIMIT_NOFILE: c_int = 7;
}

/// SO_LINGER {on, 0}: closing the socket then sends a reset, not a FIN.
pub fn set_linger_zero(stream: &TcpStream) {
    use std::os::fd::AsRawFd;
    let linger = ffi::Linger { l_onoff: 1, l_linger: 0 };
    // SAFETY: a live descriptor and a pointer to a `struct linger` of the size given.
    let rc = unsafe {
        ffi::setsockopt(
            stream.as_raw_fd(),
            ffi::SOL_SOCKET,
            ffi::SO_LINGER,
            (&linger as *const ffi::Linger).cast(),
            std::mem::size_of::<ffi::Linger>() as u32,
        )
    };
    assert_eq!(rc, 0, "setsockopt(SO_LINGER): {}", io::Error::last_os_error());
}

/// Raises this process's soft RLIMIT_NOFILE to its hard limit (children
/// inherit it); returns (soft, hard) afterwards.
#[allow(clippy::unnecessary_cast)] // rlim_t is 32 bits on some targets
pub fn raise_nofile_limit() -> (u64, u64) {
    let mut limit = ffi::Rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit/setrlimit read and write a plain struct we own.
    unsafe {
        assert_eq!(ffi::getrlimit(ffi::RLIMIT_NOFILE, &mut limit), 0, "getrlimit");
        if limit.rlim_cur < limit.rlim_max {
            let raised = ffi::Rlimit { rlim_cur: limit.rlim_max, rlim_max: limit.rlim_max };
            if ffi::setrlimit(ffi::RLIMIT_NOFILE, &raised) == 0 {
                limit.rlim_cur = raised.rlim_cur;
            }
        }
    }
    (limit.rlim_cur as u64, limit.rlim_max as u64)
}
