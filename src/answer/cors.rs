//! `--cors`: which pages of other origins may read the site's responses, by
//! the Fetch standard's CORS protocol (Fetch §3.2), decided at start-up as
//! far as it can be.
//!
//! With `*`, any origin may read any response, and every response says so in
//! the same words: the lines are part of every response's `--header` lines,
//! and no request but OPTIONS costs anything more. With origins named, a
//! request's Origin picks the lines it gets, made at start-up for each
//! origin with the `--header` lines after them, so a reply still has its
//! four parts and only points at another of them (`Answer::extra`). The memo
//! and the whole-response copies need nothing of their own: a head's Origin
//! is part of its bytes, and the lines live as long as the process.
//!
//! Every response of such a site says `Vary: Origin`, or a cache would hand
//! one origin's copy to another, or a copy fetched without Origin (a
//! year-long immutable asset) to a cross-origin fetch, which would then fail.
//! File heads say it from the load (`site/representation.rs`, one Vary field
//! with Accept-Encoding); answers built without an entry get it here.
//!
//! A preflight (OPTIONS with Origin and Access-Control-Request-Method) is
//! answered before `--auth` asks for credentials, since a browser never sends
//! them on one (Fetch §4.8). GET and HEAD from an allowed origin get a 204
//! saying what the request may carry; any other gets no CORS header, so the
//! browser does not send the request it asked about.
#![forbid(unsafe_code)]

use crate::answer::reply::{Answer, Content, Extras, Head};
use crate::http::request::{self, eq_lowercase, CrossOrigin, Method, Request};
use mote_site::representation::NOSNIFF;

/// What a script may read beside the CORS-safelisted response headers
/// (Fetch §3.2.6): revalidation and ranges.
const EXPOSE: &[u8] = b"Access-Control-Expose-Headers: ETag, Content-Range, Content-Length\r\n";
const ALLOW_ORIGIN: &[u8] = b"Access-Control-Allow-Origin: ";
const CREDENTIALS: &[u8] = b"Access-Control-Allow-Credentials: true\r\n";
const VARY: &[u8] = b"Vary: Origin\r\n";
/// How long a browser may keep a preflight's answer: two hours, Chromium's
/// cap (Firefox's is a day), so a changed `--cors` reaches every browser
/// within that time.
const MAX_AGE: &[u8] = b"Access-Control-Max-Age: 7200\r\n";
/// The request headers a preflight may allow: those mote acts on, the last
/// only with `--auth`.
const REQUEST_HEADERS: [&str; 5] = ["range", "if-none-match", "if-modified-since", "if-range", "authorization"];

/// Where the lines are in `Cors::extras`: the ones every response carries
/// (the `--header` lines, after the CORS lines with `*`), the `--header`
/// lines alone, those after `Vary: Origin`, then two for each named origin:
/// its Access-Control-Allow-Origin, -Expose-Headers (and
/// -Allow-Credentials) lines, then the same with `Vary: Origin`, each
/// followed by the `--header` lines.
const EVERY: u8 = 0;
const PLAIN: u8 = 1;
const VARYING: u8 = 2;
const FIRST_ORIGIN: u8 = 3;
/// Most origins `--cors` may name: each has two places in `Cors::extras`,
/// whose index is a byte.
pub const MAX_ORIGINS: usize = 64;

/// `--cors`, with the lines its answers point at.
pub struct Cors {
    /// `*`: every response carries the CORS lines.
    any: bool,
    /// Named origins, as browsers send them (in their lines in `extras`).
    origins: Vec<&'static [u8]>,
    /// `--auth`: responses are read with credentials.
    credentials: bool,
    /// The lines a reply may carry after its head (see `EVERY`).
    pub extras: Extras,
}

/// What `--cors` gives the answer to a request that is not an allowed
/// preflight.
pub enum Asked {
    /// With `*`: what every response carries.
    Every,
    /// A preflight not allowed: no CORS lines at all.
    Plain,
    /// With origins named: the request's, when it is one of them.
    Named(Option<u8>),
}

impl Cors {
    /// `origins` as `--cors` keeps them (`*` alone, or origins), the
    /// `--header` lines, and whether `--auth` is on; None without `--cors`.
    pub fn new(origins: &[String], credentials: bool, headers: &'static [u8]) -> Option<Cors> {
        let any = origins.first()? == "*";
        let origins: &[String] = if any { &[] } else { &origins[..origins.len().min(MAX_ORIGINS)] };
        let credentials_line: &[u8] = if credentials { CREDENTIALS } else { b"" };
        let every = if any { lines(&[b"Access-Control-Allow-Origin: *\r\n", EXPOSE, headers]) } else { headers };
        let mut extras = Vec::with_capacity(FIRST_ORIGIN as usize + 2 * origins.len());
        extras.extend([every, headers, lines(&[VARY, headers])]);
        let mut named = Vec::with_capacity(origins.len());
        for origin in origins {
            let origin = origin.as_bytes();
            let allow = [ALLOW_ORIGIN, origin, b"\r\n", EXPOSE, credentials_line].concat();
            let line = lines(&[&allow, headers]);
            extras.push(line);
            extras.push(lines(&[&allow, VARY, headers]));
            named.push(&line[ALLOW_ORIGIN.len()..][..origin.len()]);
        }
        Some(Cors { any, origins: named, credentials, extras: extras.leak() })
    }

    /// What `request`, whose head is `head`, asks of `--cors`: an allowed
    /// preflight's answer (Err), or what the site's answer is to get. Out of
    /// line, as is `apply`: the router, which every request runs, stays as
    /// small as it was without `--cors`.
    #[inline(never)]
    pub fn ask(&self, request: &Request, head: &[u8]) -> Result<Asked, Answer> {
        if self.any && request.method != Method::Options {
            return Ok(Asked::Every);
        }
        let fields = request::cross_origin(head);
        let allowed = fields.origin.and_then(|origin| self.find(origin));
        if request.method == Method::Options && fields.origin.is_some() && fields.request_method.is_some() {
            return match self.preflight(&fields, allowed) {
                Some(answer) => Err(answer),
                None => Ok(Asked::Plain),
            };
        }
        Ok(if self.any { Asked::Every } else { Asked::Named(allowed.map(|at| at as u8)) })
    }

    /// The 204 to a preflight for GET or HEAD from an allowed origin
    /// (`allowed`: its index among the named ones).
    fn preflight(&self, fields: &CrossOrigin, allowed: Option<usize>) -> Option<Answer> {
        if !matches!(fields.request_method?, b"GET" | b"HEAD") {
            return None;
        }
        let origin: &[u8] = if self.any { b"*" } else { self.origins[allowed?] };
        let mut head = b"HTTP/1.1 204 No Content\r\nAccess-Control-Allow-Origin: ".to_vec();
        head.extend_from_slice(origin);
        head.extend_from_slice(b"\r\n");
        if self.credentials {
            head.extend_from_slice(CREDENTIALS);
        }
        head.extend_from_slice(b"Access-Control-Allow-Methods: GET, HEAD\r\n");
        // Each name asked for that is on the list, once; the browser then
        // refuses a request that needs any other.
        let asked = fields.request_headers.unwrap_or_default();
        let names = &REQUEST_HEADERS[..REQUEST_HEADERS.len() - usize::from(!self.credentials)];
        let mut separator: &[u8] = b"Access-Control-Allow-Headers: ";
        for name in names {
            if asked.split(|&b| b == b',').any(|item| eq_lowercase(request::trim(item), name.as_bytes())) {
                head.extend_from_slice(separator);
                head.extend_from_slice(name.as_bytes());
                separator = b", ";
            }
        }
        if separator == b", " {
            head.extend_from_slice(b"\r\n");
        }
        head.extend_from_slice(MAX_AGE);
        if !self.any {
            head.extend_from_slice(VARY);
        }
        head.extend_from_slice(b"Allow: GET, HEAD, OPTIONS\r\n");
        head.extend_from_slice(NOSNIFF.as_bytes());
        let head = Head::Built(head.into_boxed_slice());
        Some(Answer { entry: None, head, content: Content::Empty, closes: false, extra: PLAIN })
    }

    /// The named origin `origin` is: equal once ASCII case is ignored (a
    /// scheme and host are case-insensitive, RFC 3986 §3.1, §3.2.2); they
    /// are kept lowercase.
    fn find(&self, origin: &[u8]) -> Option<usize> {
        self.origins.iter().position(|allowed| eq_lowercase(origin, allowed))
    }
}

/// `parts` joined, kept for the life of the process, so replies can point
/// at them.
fn lines(parts: &[&[u8]]) -> &'static [u8] {
    parts.concat().leak()
}

impl Asked {
    /// `answer` with the lines `--cors` gives it.
    #[inline(never)]
    pub fn apply(self, answer: &mut Answer) {
        let allowed = match self {
            Asked::Every => return,
            Asked::Plain => return answer.extra = PLAIN,
            Asked::Named(allowed) => allowed,
        };
        // A file's heads and an error page's, and the answers made from
        // them, say Vary: Origin already (built at load, `vary_origin`);
        // a redirect's or a 404 rule's do not.
        let head: &[u8] = match (&answer.head, &answer.entry) {
            (Head::Static(head), _) => head,
            (Head::Built(head), _) => head,
            (Head::EntryOk, Some(entry)) => &entry.head_ok,
            (Head::EntryNotModified, Some(entry)) => &entry.head_not_modified,
            _ => b"",
        };
        let says_vary =
            head.split(|&b| b == b'\n').any(|line| line.starts_with(b"Vary:") && line.ends_with(b"Origin\r"));
        answer.extra = match (allowed, says_vary) {
            (Some(at), true) => FIRST_ORIGIN + 2 * at,
            (Some(at), false) => FIRST_ORIGIN + 2 * at + 1,
            (None, true) => EVERY,
            (None, false) => VARYING,
        };
    }
}
