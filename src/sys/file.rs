//! Opening files: by path, or by name inside a directory opened earlier (which
//! still works after a chroot), and reading a whole file.
//!
//! std's `File::open` goes through `OpenOptions`, whose checks of option sets
//! mote never asks for build their errors from strings; that error type
//! alone brings the `Debug` formatting of `str`, with Unicode's printable and
//! grapheme tables, into a binary whose panics print nothing (the Pi 1's
//! smallest build). Each open here is the bare `openat` call with the flags
//! asked for, close-on-exec as std's.

use std::ffi::{CString, OsStr};
use std::fs::File;
use std::io::{self, Read};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// The permission bits a created file asks for before the umask, as std's
/// `OpenOptions` does.
const CREATE_MODE: libc::c_uint = 0o666;

/// Opens `path` with `flags` (`libc::O_RDONLY`, ...).
pub fn open(path: &Path, flags: libc::c_int) -> io::Result<File> {
    open_in(libc::AT_FDCWD, path.as_os_str(), flags, CREATE_MODE)
}

/// The whole file at `path`, as `std::fs::read` (`File`'s reads reserve
/// what the file holds first).
pub fn read(path: &Path) -> io::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    open(path, libc::O_RDONLY)?.read_to_end(&mut bytes)?;
    Ok(bytes)
}

/// The whole file at `path` as UTF-8, as `std::fs::read_to_string`.
pub fn read_to_string(path: &Path) -> io::Result<String> {
    let mut text = String::new();
    open(path, libc::O_RDONLY)?.read_to_string(&mut text)?;
    Ok(text)
}

/// Opens (creating, mode 0644) `name` inside the directory `dir` for
/// appending: works after a chroot as long as `dir` was opened before it.
pub fn open_append_at(dir: &File, name: &OsStr) -> io::Result<File> {
    open_in(dir.as_raw_fd(), name, libc::O_WRONLY | libc::O_APPEND | libc::O_CREAT, 0o644)
}

#[cfg(feature = "tls")]
/// Opens `name` inside the directory `dir` for reading, as `open_append_at`
/// does for writing.
pub fn open_read_at(dir: &File, name: &OsStr) -> io::Result<File> {
    open_in(dir.as_raw_fd(), name, libc::O_RDONLY, 0o644)
}

/// Whether `path` lies on a file system held in memory (tmpfs or ramfs),
/// whose contents a reboot loses.
#[cfg(feature = "acme")]
pub fn in_memory(path: &Path) -> io::Result<bool> {
    const TMPFS_MAGIC: u32 = 0x0102_1994;
    const RAMFS_MAGIC: u32 = 0x8584_58f6;
    let path = CString::new(path.as_os_str().as_bytes()).map_err(|_| io::ErrorKind::InvalidInput)?;
    let mut stat = std::mem::MaybeUninit::<libc::statfs>::uninit();
    // SAFETY: path is NUL-terminated and outlives the call; stat is memory
    // for one statfs, which the kernel fills when the call succeeds.
    if unsafe { libc::statfs(path.as_ptr(), stat.as_mut_ptr()) } != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: statfs returned 0, so it wrote the whole struct.
    let stat = unsafe { stat.assume_init() };
    // The field's type differs between targets; the magic numbers fit 32 bits.
    #[allow(clippy::unnecessary_cast)]
    let kind = stat.f_type as u32;
    Ok(kind == TMPFS_MAGIC || kind == RAMFS_MAGIC)
}

/// Takes an exclusive lock on `file` (flock) for as long as it stays open:
/// Ok(false) when another process holds it.
#[cfg(feature = "acme")]
pub fn try_lock(file: &File) -> io::Result<bool> {
    // SAFETY: flock() takes an open descriptor and no memory.
    if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } == 0 {
        return Ok(true);
    }
    let e = io::Error::last_os_error();
    if e.kind() == io::ErrorKind::WouldBlock {
        Ok(false)
    } else {
        Err(e)
    }
}

fn open_in(dir: libc::c_int, name: &OsStr, flags: libc::c_int, mode: libc::c_uint) -> io::Result<File> {
    let name = CString::new(name.as_bytes()).map_err(|_| io::ErrorKind::InvalidInput)?;
    // SAFETY: name is NUL-terminated and outlives the call; dir is open (or
    // AT_FDCWD, the working directory).
    let fd = unsafe { libc::openat(dir, name.as_ptr(), flags | libc::O_CLOEXEC, mode) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: fd is a fresh descriptor that nothing else owns.
    Ok(File::from(unsafe { OwnedFd::from_raw_fd(fd) }))
}
