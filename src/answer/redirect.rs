//! `--https-redirect`: on a plain listener, every request but an ACME
//! HTTP-01 challenge is answered `308 Permanent Redirect` to the same URL on
//! https (RFC 9110 §15.4.9: unlike 301, the method is kept). The challenges
//! stay on plain HTTP because that is where a CA asks for them (RFC 8555
//! §8.3), before the site has a certificate at all.
//!
//! The redirect is made from the parsed head after it is routed, and such a
//! connection never recalls answers from the memo: those are the site's.
#![forbid(unsafe_code)]

use crate::answer::canned;
use crate::answer::head::{Answered, Source};
use crate::answer::reply::{Answer, Content, Head};
use crate::catalog::challenge;
use crate::http::request::Method;
use mote_site::representation::NOSNIFF;

/// `answered` as a plain listener under `--https-redirect` answers it;
/// `port` is the HTTPS port.
pub fn apply(answered: Answered<'_>, port: u16) -> Answered<'_> {
    let Source::Parsed { request, .. } = &answered.source else {
        return answered; // a rejected head keeps its error
    };
    // Requests for challenges are served on plain HTTP too.
    if request.target.starts_with(challenge::PREFIX.as_bytes()) {
        return answered;
    }
    let head_only = request.method == Method::Head;
    let answer = match (request.target.first(), request.host.and_then(host_name)) {
        (Some(b'/'), Some(host)) => redirect(host, port, request.target),
        _ => canned::BAD_REQUEST.answer(head_only),
    };
    let Answered { head_len, body_len, persistence, source, .. } = answered;
    let source = match source {
        Source::Parsed { request, .. } => Source::Parsed { request, remember: None },
        other => other,
    };
    Answered { answer, head_len, body_len, persistence, source }
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
    Answer { entry: None, head: Head::Built(head.into_boxed_slice()), content: Content::Empty, closes: false }
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
