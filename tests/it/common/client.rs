//! The client side of a test: connections with timeouts, requests written as
//! raw bytes (so malformed ones can be sent too), and reading until the server
//! closes. Whatever comes back is parsed by `response`.

use super::response::{parse_all, read_response, Response};
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

/// Read/write timeout of every test socket.
pub const IO_TIMEOUT: Duration = Duration::from_secs(5);

/// A connection with 5 s read and write timeouts.
pub fn connect(addr: SocketAddr) -> TcpStream {
    let stream = TcpStream::connect(addr).unwrap_or_else(|e| panic!("connect {addr}: {e}"));
    stream.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    stream.set_write_timeout(Some(IO_TIMEOUT)).unwrap();
    stream.set_nodelay(true).unwrap();
    stream
}

/// Writes all of `bytes`; panics on error.
pub fn send_raw(stream: &mut TcpStream, bytes: impl AsRef<[u8]>) {
    stream.write_all(bytes.as_ref()).expect("write request");
    stream.flush().unwrap();
}

/// Writes `bytes`, ignoring errors: for requests the server may reject (and
/// close on) before it has read them whole.
pub fn send_lenient(stream: &mut TcpStream, bytes: impl AsRef<[u8]>) {
    let _ = stream.write_all(bytes.as_ref());
    let _ = stream.flush();
}

/// `GET path HTTP/1.1` with a Host header.
pub fn get(path: &str) -> String {
    format!("GET {path} HTTP/1.1\r\nHost: test\r\n\r\n")
}

/// `METHOD path HTTP/1.1`, Host, then each of `headers` (`"Name: value"`).
pub fn req(method: &str, path: &str, headers: &[&str]) -> String {
    let mut s = format!("{method} {path} HTTP/1.1\r\nHost: test\r\n");
    for h in headers {
        s.push_str(h);
        s.push_str("\r\n");
    }
    s.push_str("\r\n");
    s
}

/// A final request that asks the server to close, used to end a keep-alive
/// exchange so the whole byte stream can be read to EOF and counted.
pub fn closing_get(path: &str) -> String {
    format!("GET {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n")
}

/// Sends `raw` on a fresh connection and reads one response (body-less when
/// `raw` is a HEAD request).
pub fn request(addr: SocketAddr, raw: impl AsRef<[u8]>) -> Response {
    let raw = raw.as_ref();
    let mut s = connect(addr);
    send_raw(&mut s, raw);
    read_response(&mut s, raw.starts_with(b"HEAD "))
}

/// Sends `raw` on a fresh connection, reads until the server closes, and
/// parses every response in the stream (none may be to HEAD).
pub fn exchange(addr: SocketAddr, raw: impl AsRef<[u8]>) -> Vec<Response> {
    let mut s = connect(addr);
    send_lenient(&mut s, raw);
    parse_all(&read_to_close(&mut s))
}

/// Reads all bytes until EOF. Panics if the server keeps the connection open
/// past the read timeout. A reset counts as the end.
pub fn read_to_close(stream: &mut TcpStream) -> Vec<u8> {
    match read_until_close(stream, IO_TIMEOUT) {
        Ok(bytes) => bytes,
        Err(bytes) => panic!(
            "server did not close the connection within {IO_TIMEOUT:?}; received so far:\n{}",
            String::from_utf8_lossy(&bytes)
        ),
    }
}

/// Reads until EOF within `limit`: `Ok(bytes)` if the server closed,
/// `Err(bytes)` if it was still open when time ran out.
pub fn read_until_close(stream: &mut TcpStream, limit: Duration) -> Result<Vec<u8>, Vec<u8>> {
    let deadline = Instant::now() + limit;
    let mut all = Vec::new();
    let mut buf = [0u8; 65536];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(all);
        }
        stream.set_read_timeout(Some(left)).unwrap();
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => all.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => return Err(all),
            Err(_) => break, // reset / aborted: the server is gone
        }
    }
    stream.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    Ok(all)
}

/// Asserts the server closes `stream` without sending anything more.
pub fn assert_closed_silently(stream: &mut TcpStream) {
    let rest = read_to_close(stream);
    assert!(
        rest.is_empty(),
        "expected the server to close with nothing more; got {} bytes:\n{}",
        rest.len(),
        String::from_utf8_lossy(&rest)
    );
}
