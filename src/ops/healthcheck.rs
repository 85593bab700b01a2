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

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::{Duration, Instant};

use crate::http::forwarded::socket_addr;
use crate::ops::config::Config;

/// The whole probe: connect, send, and the status line back.
pub const TIMEOUT: Duration = Duration::from_secs(2);

/// Asks `url`, or the server `config` describes; Err says which URL and
/// why it is not healthy, or why it could not be asked.
pub fn probe(config: &Config, url: Option<&str>, credentials: Option<&[u8]>) -> Result<(), String> {
    let (addr, host, path) = match url {
        // parse_url reads http:// only.
        Some(url) => parse_url(url).ok_or_else(|| {
            let why = match url.starts_with("https://") {
                true => "https:// is not supported: ask a plain --listen address with http://",
                false => "bad URL (expected http://ADDRESS[:PORT]/PATH, ADDRESS an IP address or localhost)",
            };
            line(url, why)
        })?,
        None => own_url(config)?,
    };
    let fields = b"\r\nUser-Agent: mote-healthcheck\r\nConnection: close\r\n";
    let mut request = [&b"GET "[..], path.as_bytes(), b" HTTP/1.1\r\nHost: ", host.as_bytes(), fields].concat();
    if let Some(pair) = credentials {
        request.extend_from_slice(b"Authorization: Basic ");
        base64(pair, &mut request);
        request.extend_from_slice(b"\r\n");
    }
    request.extend_from_slice(b"\r\n");
    ask(addr, &request).map_err(|why| {
        let mut url = String::from("http://");
        url.push_str(&host);
        url.push_str(path);
        line(&url, &why)
    })
}

/// `subject: why`, the line an unhealthy probe prints after the flag.
fn line(subject: &str, why: &str) -> String {
    let mut line = String::with_capacity(subject.len() + 2 + why.len());
    line.push_str(subject);
    line.push_str(": ");
    line.push_str(why);
    line
}

/// Sends `request` to `addr` and judges the status line that comes back.
fn ask(addr: SocketAddr, request: &[u8]) -> Result<(), String> {
    // `HTTP/1.1 200` is all that is judged.
    let mut line = [0u8; 12];
    match exchange(addr, request, &mut line).map_err(failed)? {
        12 => {}
        0 => return Err("closed without an answer".into()),
        _ => return Err("no whole status line within 2 s".into()),
    }
    let (version, status) = line.split_at(9);
    if !version.starts_with(b"HTTP/1.") || !status.iter().all(u8::is_ascii_digit) {
        return Err("not an HTTP/1.x answer".into());
    }
    if matches!(status[0], b'2' | b'3') {
        return Ok(());
    }
    let mut why = String::from("status ");
    why.push_str(std::str::from_utf8(status).unwrap_or_default());
    Err(why)
}

/// Connects, sends `request` and receives into `answer` within TIMEOUT
/// all told: how many bytes came.
fn exchange(addr: SocketAddr, request: &[u8], answer: &mut [u8]) -> io::Result<usize> {
    let started = Instant::now();
    let stream = crate::sys::connect(addr, TIMEOUT)?;
    // What is left of TIMEOUT, in the microseconds a socket timeout counts.
    let spent = started.elapsed();
    let spent = spent.as_secs() * 1_000_000 + u64::from(spent.subsec_micros());
    let left = Duration::from_micros((TIMEOUT.as_secs() * 1_000_000).saturating_sub(spent));
    crate::sys::set_timeouts(&stream, left)?;
    // A head this short goes in one send on a fresh connection.
    crate::sys::send(&stream, request)?;
    // The status line in one wait.
    crate::sys::recv_all(&stream, answer)
}

/// Why a socket call failed, as the unhealthy line says it.
#[inline(never)]
fn failed(e: io::Error) -> String {
    match e.kind() {
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => "no answer within 2 s".into(),
        _ => mote_site::walk::error_text(&e).to_ascii_lowercase(),
    }
}

/// The server these flags run: `--status` (else `/`) on the first
/// `--listen`, over loopback when that address is unspecified.
fn own_url(config: &Config) -> Result<(SocketAddr, String, &str), String> {
    let Some(listen) = config.listen.first() else {
        return Err("no --listen address to ask (https is not probed: give a plain --listen, or a URL)".into());
    };
    let ip = match listen.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    let addr = SocketAddr::new(ip, listen.port());
    // Without --status the probe asks for a site's `/`: with --vhost and no
    // --root, the first --vhost's, as any other host is answered 421.
    let host = match (&config.status, config.vhosts.first(), &config.root) {
        (None, Some((name, _)), None) => name.clone(),
        _ => crate::ops::address::socket(addr),
    };
    Ok((addr, host, config.status.as_deref().unwrap_or("/")))
}

/// `http://ADDRESS[:PORT][/PATH]`: an IP address (IPv6 in brackets) or
/// `localhost`, since a probe runs beside the server it asks and a name
/// lookup would bring a resolver into the binary.
fn parse_url(url: &str) -> Option<(SocketAddr, String, &str)> {
    let rest = url.strip_prefix("http://")?;
    let slash = rest.bytes().position(|b| b == b'/').unwrap_or(rest.len());
    let (authority, path) = (&rest[..slash], &rest[slash..]);
    if !path.bytes().all(|b| b.is_ascii_graphic()) {
        return None;
    }
    let (ip, port) = match authority.strip_prefix("localhost") {
        Some(port) => ("127.0.0.1", port),
        None => ("", authority),
    };
    let (ip, port) = (ip.as_bytes(), port.as_bytes());
    let addr = socket_addr(&[ip, port]).or_else(|| socket_addr(&[ip, port, b":80"]))?;
    Some((addr, authority.into(), if path.is_empty() { "/" } else { path }))
}

/// RFC 4648 §4 base64, for the Basic credentials (RFC 7617).
fn base64(bytes: &[u8], out: &mut Vec<u8>) {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut at = 0;
    while at < bytes.len() {
        let byte = |i: usize| u32::from(bytes.get(at + i).copied().unwrap_or(0));
        let n = byte(0) << 16 | byte(1) << 8 | byte(2);
        let left = bytes.len() - at;
        for i in 0..4 {
            out.push(if i <= left { ALPHABET[(n >> (18 - 6 * i) & 63) as usize] } else { b'=' });
        }
        at += 3;
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
            ("http://localhost:9/a?b=c", Some(("127.0.0.1:9", "localhost:9", "/a?b=c"))),
            ("http://localhost/", Some(("127.0.0.1:80", "localhost", "/"))),
            ("http://[::1]:8080/", Some(("[::1]:8080", "[::1]:8080", "/"))),
            ("http://[::1]/", Some(("[::1]:80", "[::1]", "/"))),
            ("http://example.org/", None),
            ("http://127.0.0.1:99999/", None),
            ("http://127.0.0.1:/", None),
            ("http://[::1/", None),
            ("http://localhost.example/", None),
            ("http://127.0.0.1/a b", None),
            ("ftp://127.0.0.1/", None),
            ("127.0.0.1:8080", None),
        ];
        for (url, want) in rows {
            let got = parse_url(url);
            let got = got.as_ref().map(|(addr, host, path)| (addr.to_string(), host.as_str(), *path));
            assert_eq!(got, want.map(|(addr, host, path)| (addr.to_string(), host, path)), "{url}");
        }
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
            let config = config(line);
            let (got, host, got_path) = own_url(&config).unwrap();
            assert_eq!((got.to_string().as_str(), host.as_str(), got_path), (*addr, *addr, *path), "{line}");
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
