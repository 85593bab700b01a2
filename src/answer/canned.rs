//! Canned answers: a fixed status line, `text/plain` headers and a one-line
//! body naming the status, for errors and OPTIONS. They are static bytes, so
//! answering a bad request allocates nothing and a memo can keep them.
//!
//! A site's own `NNN.html` replaces an error's text (`catalog/pages.rs`):
//! its head is built at load time from the status line and the header
//! lines of the answer here, so `Allow`, `WWW-Authenticate` and `Retry-After`
//! stay whichever body is sent.
#![forbid(unsafe_code)]

use crate::answer::reply::{Answer, Content, Head};
use crate::catalog::Catalog;

/// A fixed response: head without tail, and a short text body.
pub struct Canned {
    pub head: &'static [u8],
    pub body: &'static [u8],
    pub closes: bool,
    pub status: u16,
    /// Where `head`'s status line ends, and its own header lines start
    /// (after Content-Type and Content-Length): offsets rather than copies,
    /// to keep the binary small.
    line_end: u8,
    extra_at: u8,
}

/// The last line of every canned head.
const NOSNIFF: &[u8] = b"X-Content-Type-Options: nosniff\r\n";

impl Canned {
    /// The status line, CRLF included.
    pub fn line(&self) -> &'static [u8] {
        &self.head[..usize::from(self.line_end)]
    }

    /// The header lines this answer carries beside its body's.
    pub fn extra(&self) -> &'static [u8] {
        &self.head[usize::from(self.extra_at)..self.head.len() - NOSNIFF.len()]
    }

    pub fn answer(&self, head_only: bool) -> Answer {
        Answer {
            entry: None,
            head: Head::Static(self.head),
            content: if head_only { Content::Empty } else { Content::Static(self.body) },
            closes: self.closes,
            extra: 0,
        }
    }

    /// This answer on `catalog`'s site: its `NNN.html` as the body when it
    /// has one. Only for the answers in `PAGED`, whose header lines the
    /// page's head was built with.
    pub fn on(&self, catalog: &Catalog, head_only: bool) -> Answer {
        let Some(page) = catalog.error_pages.get(self.status) else {
            return self.answer(head_only);
        };
        let content = if head_only { Content::Empty } else { Content::Entry { start: 0, end: page.len } };
        Answer { entry: Some(page.clone()), head: Head::EntryOk, content, closes: self.closes, extra: 0 }
    }
}

/// `canned!(status, "reason", body length, closes, extra header lines)`; the
/// body is the status line's text, and a unit test checks every length.
macro_rules! canned {
    ($name:ident, $code:literal, $reason:literal, $len:literal, $closes:literal $(, $extra:literal)*) => {
        pub const $name: Canned = Canned {
            head: concat!(
                "HTTP/1.1 ", $code, " ", $reason, "\r\n",
                "Content-Type: text/plain; charset=utf-8\r\nContent-Length: ", $len, "\r\n",
                $($extra,)*
                "X-Content-Type-Options: nosniff\r\n"
            ).as_bytes(),
            body: concat!($code, " ", $reason, "\n").as_bytes(),
            closes: $closes,
            status: $code,
            line_end: concat!("HTTP/1.1 ", $code, " ", $reason, "\r\n").len() as u8,
            extra_at: concat!(
                "HTTP/1.1 ", $code, " ", $reason, "\r\n",
                "Content-Type: text/plain; charset=utf-8\r\nContent-Length: ", $len, "\r\n"
            ).len() as u8,
        };
    };
}

canned!(BAD_REQUEST, 400, "Bad Request", "16", true);
// RFC 9111 §3 and §4.2.2: a 401 is not heuristically cacheable, so a
// conforming cache keeps one only when told a freshness; `no-store` makes
// sure none is kept, because a cache key ignores Authorization and a stored
// 401 could be replayed to a request that now carries credentials.
canned!(
    UNAUTHORIZED,
    401,
    "Unauthorized",
    "17",
    false,
    "WWW-Authenticate: Basic realm=\"mote\", charset=\"UTF-8\"\r\n",
    "Cache-Control: no-store\r\n"
);
canned!(NOT_FOUND, 404, "Not Found", "14", false);
canned!(METHOD_NOT_ALLOWED, 405, "Method Not Allowed", "23", false, "Allow: GET, HEAD, OPTIONS\r\n");
// RFC 9110 §15.5.20: no site here for the request's host (or, over TLS,
// not under this connection's certificate); a client may retry elsewhere.
canned!(MISDIRECTED_REQUEST, 421, "Misdirected Request", "24", false);
canned!(PRECONDITION_FAILED, 412, "Precondition Failed", "24", false);
canned!(CONTENT_TOO_LARGE, 413, "Content Too Large", "22", true);
canned!(URI_TOO_LONG, 414, "URI Too Long", "17", true);
canned!(RANGE_NOT_SATISFIABLE, 416, "Range Not Satisfiable", "26", false);
canned!(HEAD_TOO_LARGE, 431, "Request Header Fields Too Large", "36", true);
canned!(NOT_IMPLEMENTED, 501, "Not Implemented", "20", true);
canned!(SERVICE_UNAVAILABLE, 503, "Service Unavailable", "24", true, "Retry-After: 1\r\n");
canned!(VERSION_NOT_SUPPORTED, 505, "HTTP Version Not Supported", "31", true);

/// The answers a site's `NNN.html` is the body of, one per status (a 416's
/// head, and a 404 that varies, are built per request from its page).
pub const PAGED: [Canned; 13] = [
    BAD_REQUEST,
    UNAUTHORIZED,
    NOT_FOUND,
    METHOD_NOT_ALLOWED,
    PRECONDITION_FAILED,
    MISDIRECTED_REQUEST,
    CONTENT_TOO_LARGE,
    URI_TOO_LONG,
    RANGE_NOT_SATISFIABLE,
    HEAD_TOO_LARGE,
    NOT_IMPLEMENTED,
    SERVICE_UNAVAILABLE,
    VERSION_NOT_SUPPORTED,
];

/// Plain HTTP sent to an HTTPS port. A TLS alert means nothing to such a
/// client, so it is told in its own protocol, in nginx's words.
#[cfg(feature = "tls")]
pub const PLAIN_HTTP_TO_HTTPS: Canned = Canned {
    head: b"HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 50\r\n\
        X-Content-Type-Options: nosniff\r\n",
    body: b"400 The plain HTTP request was sent to HTTPS port\n",
    closes: true,
    status: 400,
    line_end: b"HTTP/1.1 400 Bad Request\r\n".len() as u8,
    extra_at: b"HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 50\r\n".len()
        as u8,
};

/// RFC 9110 §9.3.7: OPTIONS answers with Allow; §8.6: no Content-Length on 204.
pub const OPTIONS: &[u8] =
    b"HTTP/1.1 204 No Content\r\nAllow: GET, HEAD, OPTIONS\r\nX-Content-Type-Options: nosniff\r\n";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canned_lengths_match_bodies() {
        // Every canned answer but OPTIONS has a page (the TLS build's plain-HTTP
        // 400 aside, which tells such a client what it did).
        #[cfg(feature = "tls")]
        let others = [PLAIN_HTTP_TO_HTTPS];
        #[cfg(not(feature = "tls"))]
        let others: [Canned; 0] = [];
        for canned in PAGED.iter().chain(&others) {
            let head = std::str::from_utf8(canned.head).unwrap();
            let expected = format!("Content-Length: {}\r\n", canned.body.len());
            assert!(head.contains(&expected), "{head}");
            assert!(head.starts_with("HTTP/1.1 ") && head.ends_with("\r\n"));
            // The offsets a page's head is built from.
            assert_eq!(canned.line(), format!("{}\r\n", head.lines().next().unwrap()).as_bytes());
            assert_eq!(canned.line()[9..12], *canned.status.to_string().as_bytes());
            assert!(head[..usize::from(canned.extra_at)].ends_with(&expected), "{head}");
            assert!(canned.head.ends_with(NOSNIFF));
        }
        assert_eq!(NOT_FOUND.extra(), b"");
        assert_eq!(METHOD_NOT_ALLOWED.extra(), b"Allow: GET, HEAD, OPTIONS\r\n");
        assert_eq!(
            UNAUTHORIZED.extra(),
            b"WWW-Authenticate: Basic realm=\"mote\", charset=\"UTF-8\"\r\nCache-Control: no-store\r\n"
        );
        for (i, canned) in PAGED.iter().enumerate() {
            assert!(PAGED[..i].iter().all(|other| other.status != canned.status), "one page per status");
        }
    }
}
