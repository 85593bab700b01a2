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
use crate::http::request::Method;
use mote_site::representation::NOSNIFF;

/// Requests under this path are served on plain HTTP too.
pub const ACME_CHALLENGE: &[u8] = b"/.well-known/acme-challenge/";

/// `answered` as a plain listener under `--https-redirect` answers it:
/// `input` starts with the request head, `port` is the HTTPS port.
pub fn apply<'b>(answered: Answered<'b>, input: &[u8], port: u16) -> Answered<'b> {
    let head = &input[..answered.head_len.min(input.len())];
    let Source::Parsed { request, .. } = &answered.source else {
        return answered; // a rejected head keeps its error
    };
    if request.target.starts_with(ACME_CHALLENGE) {
        return answered;
    }
    let head_only = request.method == Method::Head;
    let answer = match (request.target.first(), host(head)) {
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

/// The host name of the head's Host field without its port, when it is a
/// plain name or address (RFC 9110 §7.2; RFC 3986 §3.2.2).
fn host(head: &[u8]) -> Option<&[u8]> {
    let value = head.split(|&b| b == b'\n').skip(1).find_map(|line| {
        let (name, value) = line.split_at_checked(5)?;
        name.eq_ignore_ascii_case(b"host:").then(|| value.trim_ascii())
    })?;
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
            ("name", b"GET / HTTP/1.1\r\nHost: example.org\r\n\r\n", Some("example.org")),
            ("name and port", b"GET / HTTP/1.1\r\nhost: example.org:8080\r\n\r\n", Some("example.org")),
            ("IPv6 literal (RFC 3986 §3.2.2)", b"GET / HTTP/1.1\r\nHOST: [::1]:80\r\n\r\n", Some("[::1]")),
            ("among others", b"GET / HTTP/1.1\r\nAccept: */*\r\nHost:  a.b \r\n\r\n", Some("a.b")),
            ("none", b"GET / HTTP/1.0\r\n\r\n", None),
            ("empty", b"GET / HTTP/1.1\r\nHost: \r\n\r\n", None),
            ("not a name", b"GET / HTTP/1.1\r\nHost: a/b\r\n\r\n", None),
            ("user info", b"GET / HTTP/1.1\r\nHost: u@h\r\n\r\n", None),
        ];
        for (name, head, want) in rows {
            assert_eq!(host(head), want.map(str::as_bytes), "{name}");
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
