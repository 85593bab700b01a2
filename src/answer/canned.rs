//! Canned answers: a fixed status line, `text/plain` headers and a one-line
//! body naming the status, for errors and OPTIONS. They are static bytes, so
//! answering a bad request allocates nothing and a memo can keep them.
#![forbid(unsafe_code)]

use crate::answer::reply::{Answer, Content, Head};

/// A fixed response: head without tail, and a short text body.
pub struct Canned {
    pub head: &'static [u8],
    pub body: &'static [u8],
    pub closes: bool,
}

impl Canned {
    pub fn answer(&self, head_only: bool) -> Answer {
        Answer {
            entry: None,
            head: Head::Static(self.head),
            content: if head_only { Content::Empty } else { Content::Static(self.body) },
            closes: self.closes,
            extra: 0,
        }
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
        };
    };
}

canned!(BAD_REQUEST, "400", "Bad Request", "16", true);
// RFC 9111 §3 and §4.2.2: a 401 is not heuristically cacheable, so a
// conforming cache keeps one only when told a freshness; `no-store` makes
// sure none is kept, because a cache key ignores Authorization and a stored
// 401 could be replayed to a request that now carries credentials.
canned!(
    UNAUTHORIZED,
    "401",
    "Unauthorized",
    "17",
    false,
    "WWW-Authenticate: Basic realm=\"mote\", charset=\"UTF-8\"\r\n",
    "Cache-Control: no-store\r\n"
);
canned!(NOT_FOUND, "404", "Not Found", "14", false);
// A file on disk only precompressed, for a client that accepts none of its
// codings: another Accept-Encoding would get a 200, and caches must know.
canned!(NOT_FOUND_VARYING, "404", "Not Found", "14", false, "Vary: Accept-Encoding\r\n");
// The same where `--cors` names origins: one Vary field (`cors.rs`).
canned!(NOT_FOUND_VARYING_ORIGIN, "404", "Not Found", "14", false, "Vary: Accept-Encoding, Origin\r\n");
canned!(METHOD_NOT_ALLOWED, "405", "Method Not Allowed", "23", false, "Allow: GET, HEAD, OPTIONS\r\n");
// RFC 9110 §15.5.20: no site here for the request's host (or, over TLS,
// not under this connection's certificate); a client may retry elsewhere.
canned!(MISDIRECTED_REQUEST, "421", "Misdirected Request", "24", false);
canned!(PRECONDITION_FAILED, "412", "Precondition Failed", "24", false);
canned!(CONTENT_TOO_LARGE, "413", "Content Too Large", "22", true);
canned!(URI_TOO_LONG, "414", "URI Too Long", "17", true);
canned!(RANGE_NOT_SATISFIABLE, "416", "Range Not Satisfiable", "26", false);
canned!(HEAD_TOO_LARGE, "431", "Request Header Fields Too Large", "36", true);
canned!(NOT_IMPLEMENTED, "501", "Not Implemented", "20", true);
canned!(SERVICE_UNAVAILABLE, "503", "Service Unavailable", "24", true, "Retry-After: 1\r\n");
canned!(VERSION_NOT_SUPPORTED, "505", "HTTP Version Not Supported", "31", true);

/// Plain HTTP sent to an HTTPS port. A TLS alert means nothing to such a
/// client, so it is told in its own protocol, in nginx's words.
#[cfg(feature = "tls")]
pub const PLAIN_HTTP_TO_HTTPS: Canned = Canned {
    head: b"HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 50\r\n\
        X-Content-Type-Options: nosniff\r\n",
    body: b"400 The plain HTTP request was sent to HTTPS port\n",
    closes: true,
};

/// RFC 9110 §9.3.7: OPTIONS answers with Allow; §8.6: no Content-Length on 204.
pub const OPTIONS: &[u8] =
    b"HTTP/1.1 204 No Content\r\nAllow: GET, HEAD, OPTIONS\r\nX-Content-Type-Options: nosniff\r\n";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canned_lengths_match_bodies() {
        for canned in [
            BAD_REQUEST,
            UNAUTHORIZED,
            NOT_FOUND,
            NOT_FOUND_VARYING,
            NOT_FOUND_VARYING_ORIGIN,
            METHOD_NOT_ALLOWED,
            MISDIRECTED_REQUEST,
            PRECONDITION_FAILED,
            CONTENT_TOO_LARGE,
            URI_TOO_LONG,
            RANGE_NOT_SATISFIABLE,
            HEAD_TOO_LARGE,
            NOT_IMPLEMENTED,
            SERVICE_UNAVAILABLE,
            VERSION_NOT_SUPPORTED,
            #[cfg(feature = "tls")]
            PLAIN_HTTP_TO_HTTPS,
        ] {
            let head = std::str::from_utf8(canned.head).unwrap();
            let expected = format!("Content-Length: {}\r\n", canned.body.len());
            assert!(head.contains(&expected), "{head}");
            assert!(head.starts_with("HTTP/1.1 ") && head.ends_with("\r\n"));
        }
        let allow = b"Allow: GET, HEAD, OPTIONS\r\n";
        assert!(METHOD_NOT_ALLOWED.head.windows(allow.len()).any(|w| w == allow));
    }
}
