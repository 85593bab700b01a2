//! `mote --healthcheck [URL]`: a container's health probe without curl.
//!
//! An image built FROM scratch holds the binary and nothing else, so the
//! binary asks itself: one GET over a blocking socket, exit 0 on a 2xx or 3xx
//! status line within `TIMEOUT` all told, 1 otherwise with one line saying
//! why. Without a URL it asks what the same flags would serve: the `--status`
//! path (else `/`) on the first `--listen` address, an unspecified address
//! asked over loopback, with the first `--auth` credentials. Only the status
//! line is read; plain http only, since a probe on the same host gains
//! nothing from TLS.
#![forbid(unsafe_code)]

use std::io::{self, Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use crate::ops::config::Config;

/// The whole probe: connect, send, and the status line back.
pub const TIMEOUT: Duration = Duration::from_secs(2);

/// Asks `url`, or the server `config` describes; Err says which URL and
/// why it is not healthy, or why it could not be asked.
pub fn probe(config: &Config, url: Option<&str>, credentials: Option<&[u8]>) -> Result<(), String> {
    let (addr, host, path) = match url {
        Some(url) => parse_url(url).map_err(|why| format!("{url}: {why}"))?,
        None => own_url(config)?,
    };
    ask(addr, &host, &path, credentials).map_err(|why| format!("http://{host}{path}: {why}"))
}

fn ask(addr: SocketAddr, host: &str, path: &str, credentials: Option<&[u8]>) -> Result<(), String> {
    let deadline = Instant::now() + TIMEOUT;
    let left = || deadline.checked_duration_since(Instant::now()).filter(|left| !left.is_zero());
    let timed_out = || "no answer within 2 s".to_string();
    let failed = |e: io::Error| match e.kind() {
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => timed_out(),
        _ => mote_site::walk::error_text(&e).to_ascii_lowercase(),
    };
    let mut stream = TcpStream::connect_timeout(&addr, left().ok_or_else(timed_out)?).map_err(failed)?;
    let mut request = format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: mote-healthcheck\r\n").into_bytes();
    if let Some(pair) = credentials {
        request.extend_from_slice(b"Authorization: Basic ");
        base64(pair, &mut request);
        request.extend_from_slice(b"\r\n");
    }
    request.extend_from_slice(b"Connection: close\r\n\r\n");
    stream.set_write_timeout(left()).map_err(failed)?;
    stream.write_all(&request).map_err(failed)?;
    // `HTTP/1.1 200` is all that is judged.
    let mut line = [0u8; 12];
    let mut filled = 0;
    while filled < line.len() {
        stream.set_read_timeout(Some(left().ok_or_else(timed_out)?)).map_err(failed)?;
        match stream.read(line.split_at_mut(filled).1) {
            Ok(0) => return Err("closed without an answer".into()),
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(failed(e)),
        }
    }
    match line {
        [b'H', b'T', b'T', b'P', b'/', b'1', b'.', _, b' ', b'2' | b'3', b'0'..=b'9', b'0'..=b'9'] => Ok(()),
        [b'H', b'T', b'T', b'P', b'/', b'1', b'.', _, b' ', status @ ..] if status.iter().all(u8::is_ascii_digit) => {
            Err(format!("status {}", String::from_utf8_lossy(&status)))
        }
        _ => Err("not an HTTP/1.x answer".into()),
    }
}

/// The server these flags run: `--status` (else `/`) on the first
/// `--listen`, over loopback when that address is unspecified.
fn own_url(config: &Config) -> Result<(SocketAddr, String, String), String> {
    let Some(listen) = config.listen.first() else {
        return Err("no --listen address to ask (https is not probed: give a plain --listen, or a URL)".into());
    };
    let ip = match listen.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    let addr = SocketAddr::new(ip, listen.port());
    let host = crate::ops::address::socket(addr);
    Ok((addr, host, config.status.clone().unwrap_or_else(|| "/".into())))
}

/// `http://ADDRESS[:PORT][/PATH]`: an IP address (IPv6 in brackets) or
/// `localhost`, since a probe runs beside the server it asks and a name
/// lookup would bring a resolver into the binary.
fn parse_url(url: &str) -> Result<(SocketAddr, String, String), String> {
    let bad = || "bad URL (expected http://ADDRESS[:PORT]/PATH, ADDRESS an IP address or localhost)".to_string();
    if url.get(..8).is_some_and(|scheme| scheme.eq_ignore_ascii_case("https://")) {
        return Err("https:// is not supported: ask a plain --listen address with http://".into());
    }
    let rest = match url.get(..7) {
        Some(scheme) if scheme.eq_ignore_ascii_case("http://") => &url[7..],
        _ => return Err(bad()),
    };
    let (authority, path) = match rest.find('/') {
        Some(at) => (&rest[..at], &rest[at..]),
        None => (rest, "/"),
    };
    if !path.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(bad());
    }
    let (host, port) = match authority.rsplit_once(':') {
        Some((host, port)) if !port.contains(']') => (host, port.parse::<u16>().map_err(|_| bad())?),
        _ => (authority, 80),
    };
    let ip = match host.strip_prefix('[').and_then(|v6| v6.strip_suffix(']')) {
        Some(v6) => v6.parse::<Ipv6Addr>().map(IpAddr::V6).map_err(|_| bad())?,
        None if host.eq_ignore_ascii_case("localhost") => IpAddr::V4(Ipv4Addr::LOCALHOST),
        None => host.parse::<Ipv4Addr>().map(IpAddr::V4).map_err(|_| bad())?,
    };
    Ok((SocketAddr::new(ip, port), authority.to_string(), path.to_string()))
}

/// RFC 4648 §4 base64, for the Basic credentials (RFC 7617).
fn base64(bytes: &[u8], out: &mut Vec<u8>) {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    for chunk in bytes.chunks(3) {
        let n = chunk.iter().enumerate().fold(0u32, |n, (i, &b)| n | u32::from(b) << (16 - 8 * i));
        for i in 0..4 {
            let sextet = (n >> (18 - 6 * i) & 63) as usize;
            out.push(if i <= chunk.len() { ALPHABET[sextet] } else { b'=' });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_urls() {
        // The URL, and the address, Host and path it asks.
        type Row<'a> = (&'a str, Option<(&'a str, &'a str, &'a str)>);
        let rows: &[Row] = &[
            ("http://127.0.0.1:8080/.mote-status", Some(("127.0.0.1:8080", "127.0.0.1:8080", "/.mote-status"))),
            ("http://127.0.0.1", Some(("127.0.0.1:80", "127.0.0.1", "/"))),
            ("HTTP://localhost:9/a?b=c", Some(("127.0.0.1:9", "localhost:9", "/a?b=c"))),
            ("http://[::1]:8080/", Some(("[::1]:8080", "[::1]:8080", "/"))),
            ("http://[::1]/", Some(("[::1]:80", "[::1]", "/"))),
            ("http://example.org/", None),
            ("http://127.0.0.1:99999/", None),
            ("http://127.0.0.1:/", None),
            ("http://[::1/", None),
            ("http://127.0.0.1/a b", None),
            ("ftp://127.0.0.1/", None),
            ("127.0.0.1:8080", None),
        ];
        for (url, want) in rows {
            let got = parse_url(url).ok();
            let got = got.as_ref().map(|(addr, host, path)| (addr.to_string(), host.as_str(), path.as_str()));
            assert_eq!(got, want.map(|(addr, host, path)| (addr.to_string(), host, path)), "{url}");
        }
        assert!(parse_url("https://127.0.0.1/").unwrap_err().starts_with("https:// is not supported"));
    }

    #[test]
    fn asks_over_loopback() {
        let config = |line: &str| match crate::ops::config::parse(line.split_whitespace().map(String::from)) {
            Ok(crate::ops::config::Command::Healthcheck(config, None)) => config,
            _ => panic!("{line}"),
        };
        let rows: &[(&str, &str, &str)] = &[
            ("--healthcheck", "127.0.0.1:8080", "/"),
            ("--healthcheck --listen [::]:80 --status /s", "[::1]:80", "/s"),
            ("--healthcheck --listen 192.0.2.1:81 --listen 0.0.0.0:82", "192.0.2.1:81", "/"),
        ];
        for (line, addr, path) in rows {
            let (got, host, got_path) = own_url(&config(line)).unwrap();
            assert_eq!((got.to_string().as_str(), host.as_str(), got_path.as_str()), (*addr, *addr, *path), "{line}");
        }
    }

    /// RFC 4648 §10's test vectors.
    #[test]
    fn base64_vectors() {
        for (bytes, want) in
            [("", ""), ("f", "Zg=="), ("fo", "Zm8="), ("foo", "Zm9v"), ("foob", "Zm9vYg=="), ("fooba", "Zm9vYmE=")]
        {
            let mut out = Vec::new();
            base64(bytes.as_bytes(), &mut out);
            assert_eq!(out, want.as_bytes(), "{bytes}");
        }
    }
}
