//! The unwinder's entry points, as stubs. A build that aborts on panic never
//! unwinds, yet std still names the unwinder's helpers (its personality
//! routine; the panic message's backtrace), and on ARM the C library's unwind
//! tables name `__aeabi_unwind_cpp_pr0/1`. Defined here, they keep libunwind,
//! and with it printf, which its debug logging brought in, out of the builds
//! that rebuild std from source (`--cfg stub_unwinder`, set by the Makefile
//! for `make pi` and `make static`), code a binary sized for a Pi would carry
//! for nothing (what it saves is in size-report/README.md). Rustup's prebuilt
//! std carries its own copy of libunwind, which these would clash with, so a
//! plain cargo build keeps the real unwinder, as does a build that can unwind
//! (tests, panic=unwind). The ones that abort are reached only by unwinding,
//! which such a build never does; `_Unwind_Backtrace`, which a panic
//! message's backtrace asks, reports no frames.

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
