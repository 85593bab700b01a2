//! Sockets: listening with the options a server wants, sends that skip
//! std's layers (`sendmsg`, `send`, `sendfile`), and the blocking
//! connections `--healthcheck` and the ACME client make.
//!
//! std writes to a socket with `write` and `writev`, which pass through the
//! kernel's file layer before reaching the socket; the socket calls here go
//! to it directly, on the path every response takes.

use std::io;
use std::mem;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::time::Duration;

/// A non-blocking listening socket with SO_REUSEADDR, TCP_NODELAY, a deep backlog, and
/// IPV6_V6ONLY for IPv6 so `[::]:80` and `0.0.0.0:80` can both be listened on.
pub fn listen(addr: SocketAddr, backlog: i32) -> io::Result<TcpListener> {
    let socket = tcp_socket(addr, libc::SOCK_NONBLOCK)?;
    let fd = socket.as_raw_fd();
    set_flag(&socket, libc::SOL_SOCKET, libc::SO_REUSEADDR)?;
    if addr.is_ipv6() {
        set_flag(&socket, libc::IPPROTO_IPV6, libc::IPV6_V6ONLY)?;
    }
    // Accepted sockets inherit it, saving a setsockopt per connection: each
    // write hands over whole replies, so Nagle would only add delay.
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

fn set_flag(socket: &impl AsRawFd, level: i32, name: i32) -> io::Result<()> {
    set_option(socket, level, name, &(1 as libc::c_int))
}

fn set_option<T>(socket: &impl AsRawFd, level: i32, name: i32, value: &T) -> io::Result<()> {
    // SAFETY: the option value points at a live T of the size given.
    let rc = unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            level,
            name,
            (value as *const T).cast(),
            mem::size_of::<T>() as libc::socklen_t,
        )
    };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// A blocking connection to `addr`, made within `timeout`, whose sends and
/// receives then wait at most `timeout` each. On Linux a blocking connect
/// gives up after the send timeout (EINPROGRESS, reported as `TimedOut`),
/// so no poll and no non-blocking dance are needed, as std's
/// `connect_timeout` does them.
pub fn connect(addr: SocketAddr, timeout: Duration) -> io::Result<TcpStream> {
    let stream = TcpStream::from(tcp_socket(addr, 0)?);
    set_timeouts(&stream, timeout)?;
    let (storage, len) = socket_address(addr);
    // SAFETY: storage is a valid sockaddr of `len` bytes for this family.
    if unsafe { libc::connect(stream.as_raw_fd(), (&storage as *const libc::sockaddr_storage).cast(), len) } < 0 {
        let error = io::Error::last_os_error();
        if error.raw_os_error() == Some(libc::EINPROGRESS) {
            return Err(io::ErrorKind::TimedOut.into());
        }
        return Err(error);
    }
    Ok(stream)
}

/// A UDP socket connected to `addr` (the ACME client's name server): its
/// sends go there, and only that address's datagrams are received.
#[cfg(feature = "acme")]
pub fn connect_udp(addr: SocketAddr) -> io::Result<std::net::UdpSocket> {
    let family = if addr.is_ipv4() { libc::AF_INET } else { libc::AF_INET6 };
    // SAFETY: socket() has no memory arguments; the result is checked.
    let fd = unsafe { libc::socket(family, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: fd is a fresh descriptor that nothing else owns.
    let socket = std::net::UdpSocket::from(unsafe { OwnedFd::from_raw_fd(fd) });
    let (storage, len) = socket_address(addr);
    // SAFETY: storage is a valid sockaddr of `len` bytes for this family.
    if unsafe { libc::connect(socket.as_raw_fd(), (&storage as *const libc::sockaddr_storage).cast(), len) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(socket)
}

/// A new TCP socket for `addr`'s family, close-on-exec, with `flags`.
fn tcp_socket(addr: SocketAddr, flags: i32) -> io::Result<OwnedFd> {
    let family = if addr.is_ipv4() { libc::AF_INET } else { libc::AF_INET6 };
    // SAFETY: socket() has no memory arguments; the result is checked.
    let fd = unsafe { libc::socket(family, libc::SOCK_STREAM | libc::SOCK_CLOEXEC | flags, 0) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: fd is a fresh descriptor that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Bounds each later send and receive on `socket` by `timeout` (at least
/// a microsecond: zero would mean no bound at all).
pub fn set_timeouts(socket: &impl AsRawFd, timeout: Duration) -> io::Result<()> {
    let time = libc::timeval { tv_sec: timeout.as_secs() as _, tv_usec: timeout.subsec_micros().max(1) as _ };
    set_option(socket, libc::SOL_SOCKET, libc::SO_RCVTIMEO, &time)?;
    set_option(socket, libc::SOL_SOCKET, libc::SO_SNDTIMEO, &time)
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

/// Receives until `buf` is full, the peer closes, or the receive timeout
/// runs out: one wait in all (MSG_WAITALL), not one per segment.
pub fn recv_all(socket: &impl AsRawFd, buf: &mut [u8]) -> io::Result<usize> {
    // SAFETY: `buf` is valid for writes of its length during the call.
    let got = unsafe { libc::recv(socket.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), libc::MSG_WAITALL) };
    byte_count(got)
}

/// A byte-count result (`ssize_t`) as the count or the error it signals.
fn byte_count(result: libc::ssize_t) -> io::Result<usize> {
    if result < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(result as usize)
}
