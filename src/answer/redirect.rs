//! `--https-redirect`: on a plain listener, every request but an ACME
//! HTTP-01 challenge is answered `308 Permanent Redirect` to the same URL on
//! https (RFC 9110 §15.4.9: unlike 301, the method is kept). The challenges
//! stay on plain HTTP because that is where a CA asks for them (RFC 8555
//! §8.3), before the site has a certificate at all.
//!
//! With `--acme`, a name that has no certificate yet (its first order is
//! not through) is served on plain HTTP instead: its handshakes would fail.
//!
//! The choice is made before the request is routed, on its decoded and
//! normalised path, so `/.well-known/acme-challenge/../x` is redirected like
//! `/x`, and a redirected request costs no lookup. Such a connection never
//! recalls answers from the memo: those are the site's.
#![forbid(unsafe_code)]

use crate::answer::canned;
use crate::answer::reply::{Answer, Content, Head};
use crate::answer::router::{self, Router};
use crate::catalog::challenge;
use crate::http::request::{Method, Request};
use crate::http::target::{self, Target};
use mote_site::representation::NOSNIFF;

/// The answer a plain connection under `--https-redirect` gives `request`;
/// `port` is the HTTPS port. `path` is scratch space for the decoded path.
pub fn answer(request: &Request, router: &Router, port: u16, path: &mut Vec<u8>) -> Answer {
    let challenge = match target::split(request.target) {
        Some(Target::Path { path: raw, .. }) => {
            target::normalize(raw, path).is_ok() && challenge::token(path).is_some()
        }
        _ => false,
    };
    // Requests for challenges are served on plain HTTP too.
    if challenge {
        return router::route(request, router, path);
    }
    match (request.target.first(), request.host.and_then(host_name)) {
        (Some(b'/'), Some(host)) if https_answers(router, host) => redirect(host, port, request.target),
        // No certificate for this name yet: served here, not sent to a
        // handshake that would fail.
        (Some(b'/'), Some(_)) => router::route(request, router, path),
        _ => canned::BAD_REQUEST.on(router.catalog, request.method == Method::Head),
    }
}

/// Whether the HTTPS port can answer `host`: with `--acme`, only once a
/// certificate for it is installed.
#[cfg(feature = "acme")]
fn https_answers(router: &Router, host: &[u8]) -> bool {
    router.acme.is_none_or(|acme| std::str::from_utf8(host).is_ok_and(|host| acme.https_answers(host)))
}

#[cfg(not(feature = "acme"))]
fn https_answers(_: &Router, _: &[u8]) -> bool {
    true
}

/// `308` to `https://HOST[:PORT]TARGET`; the port is left out when it is 443.
fn redirect(host: &[u8], port: u16, target: &[u8]) -> Answer {
    let mut head = b"HTTP/1.1 308 Permanent Redirect\r\nLocation: https://".to_vec();
    head.extend_from_slice(host);
    if port != 443 {
        head.push(b':');
        head.extend_from_slice(itoa::Buffer::new().format(port).as_bytes());
    }
    head.extend_from_slice(target);
    head.extend_from_slice(b"\r\nContent-Length: 0\r\n");
    head.extend_from_slice(NOSNIFF.as_bytes());
    Answer { entry: None, head: Head::Built(head.into_boxed_slice()), content: Content::Empty, closes: false, extra: 0 }
}

/// The host name of a Host field's value, without its port, when it is a
/// plain name or address (RFC 9110 §7.2; RFC 3986 §3.2.2).
fn host_name(value: &[u8]) -> Option<&[u8]> {
    let name = match value.first() {
        Some(b'[') => &value[..=value.iter().position(|&b| b == b']')?],
        _ => value.split(|&b| b == b':').next()?,
    };
    let plain = |b: &u8| b.is_ascii_alphanumeric() || b"-.:[]".contains(b);
    (!name.is_empty() && name.iter().all(plain)).then_some(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn takes_the_host_without_its_port() {
        let rows: &[(&str, &[u8], Option<&str>)] = &[
            ("name", b"example.org", Some("example.org")),
            ("name and port", b"example.org:8080", Some("example.org")),
            ("IPv6 literal (RFC 3986 §3.2.2)", b"[::1]:80", Some("[::1]")),
            ("empty", b"", None),
            ("not a name", b"a/b", None),
            ("user info", b"u@h", None),
            ("percent-encoded reg-name", b"a%41", None),
        ];
        for (name, value, want) in rows {
            assert_eq!(host_name(value), want.map(str::as_bytes), "{name}");
        }
    }

    #[test]
    fn redirects_to_the_same_target() {
        let answer = redirect(b"example.org", 8443, b"/a/b?x=1");
        let Head::Built(head) = &answer.head else { panic!("not built") };
        assert!(head.starts_with(b"HTTP/1.1 308 Permanent Redirect\r\nLocation: https://example.org:8443/a/b?x=1\r\n"));
        let answer = redirect(b"example.org", 443, b"/");
        let Head::Built(head) = &answer.head else { panic!("not built") };
        assert!(head.starts_with(b"HTTP/1.1 308 Permanent Redirect\r\nLocation: https://example.org/\r\n"));
    }
}
