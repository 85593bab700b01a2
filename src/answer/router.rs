//! Which response a request gets: method, target, route, preconditions and
//! range decide among the precomputed parts; nothing here writes, and only
//! an ACME challenge the catalog does not hold is read (`catalog/challenge`).
//!
//! The common case — a cached file, no conditions — is a map lookup and an
//! `Arc` clone: no allocation. Only 206, 301 and 416 build a head, because
//! they carry per-request numbers or paths.
#![forbid(unsafe_code)]

use std::sync::Arc;

use crate::answer::canned::{self, Canned};
use crate::answer::reply::{Answer, Content, Head};
use crate::catalog::{challenge, Catalog, Entry, Resource, Route};
use crate::http::auth::Auth;
use crate::http::conditional::{evaluate, if_range_holds, Precondition};
use crate::http::encoding::{self, Coding};
use crate::http::range::{self, ByteRange};
use crate::http::request::{Method, Rejection, Request};
use crate::http::target::{self, Target};
use mote_site::representation::NOSNIFF;
use mote_site::walk;

/// The answer to a head that could not be accepted; `head_only` when it
/// still reads as a HEAD request (RFC 9110 §9.3.2: no content then).
pub fn reject(rejection: Rejection, head_only: bool) -> Answer {
    let canned = match rejection {
        Rejection::BadRequest => canned::BAD_REQUEST,
        Rejection::ContentTooLarge => canned::CONTENT_TOO_LARGE,
        Rejection::UriTooLong => canned::URI_TOO_LONG,
        Rejection::HeadTooLarge => canned::HEAD_TOO_LARGE,
        Rejection::NotImplemented => canned::NOT_IMPLEMENTED,
        Rejection::VersionNotSupported => canned::VERSION_NOT_SUPPORTED,
    };
    canned.answer(head_only)
}

/// Which counters a page shows, and in which form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Counters {
    /// `--status`: plain text for a person.
    Status,
    /// `--metrics`: the Prometheus text format.
    Metrics,
}

/// A page of counters, made afresh for each request; its path and type are
/// fixed at start-up.
pub struct Page {
    pub path: Box<[u8]>,
    pub content_type: &'static str,
    pub counters: Counters,
}

/// The pages that are switched on, and what renders a page's body.
pub type Pages<'a> = (&'a [Page], &'a dyn Fn(Counters) -> Vec<u8>);

/// What a request is routed by: the catalog, and the settings that decide
/// answers outside it.
pub struct Router<'a> {
    pub catalog: &'a Catalog,
    /// None without `--status` and `--metrics`.
    pub pages: Option<Pages<'a>>,
    /// `--spa`: extension-less paths that match nothing get `/index.html`.
    pub spa: bool,
    pub auth: Option<&'a Auth>,
    /// `--acme`: the HTTP-01 challenges its client has on.
    #[cfg(feature = "acme")]
    pub acme: Option<&'a crate::acme::challenge::Challenges>,
    /// `--https-redirect` on a plain connection: the HTTPS port its requests
    /// are sent to.
    #[cfg(feature = "tls")]
    pub https_port: Option<u16>,
}

/// The answer to a request. `path` is scratch space for the decoded path.
pub fn answer(request: &Request, router: &Router, path: &mut Vec<u8>) -> Answer {
    // The built-in client's challenges come before anything else decides.
    #[cfg(feature = "acme")]
    if let Some(answer) = router.acme.and_then(|acme| acme_challenge(request, acme, request.method == Method::Head)) {
        return answer;
    }
    // Decided before anything is looked up: the site is not this
    // connection's to see.
    #[cfg(feature = "tls")]
    if let Some(port) = router.https_port {
        return crate::answer::redirect::answer(request, router, port, path);
    }
    route(request, router, path)
}

/// The site's answer to a request.
pub fn route(request: &Request, router: &Router, path: &mut Vec<u8>) -> Answer {
    let head_only = request.method == Method::Head;
    let canned = |canned: Canned| canned.answer(head_only);
    // A CA cannot send credentials, and a challenge's content is public by
    // design (RFC 8555 §8.3): its exact origin-form path is let through.
    if router.auth.is_some_and(|auth| !auth.allows(request.authorization)) && challenge::token(request.target).is_none()
    {
        return canned(canned::UNAUTHORIZED);
    }
    // The method first: CONNECT's authority-form target is not malformed,
    // the method is just not one a static server allows (405 with Allow).
    if request.method == Method::Other {
        return canned(canned::METHOD_NOT_ALLOWED);
    }
    let Some(target) = target::split(request.target) else {
        return canned(canned::BAD_REQUEST);
    };
    let (raw_path, query) = match (request.method, target) {
        (Method::Options, _) => {
            return Answer { entry: None, head: Head::Static(canned::OPTIONS), content: Content::Empty, closes: false }
        }
        (_, Target::Asterisk) => return canned(canned::BAD_REQUEST),
        (_, Target::Path { path, query }) => (path, query),
    };
    let Ok(normalized) = target::normalize(raw_path, path) else {
        return canned(canned::BAD_REQUEST);
    };
    // The pages' paths are the owner's choice, dotted or not.
    if let Some((pages, render)) = router.pages {
        if let Some(page) = pages.iter().find(|page| path[..] == *page.path) {
            return counters(page, render(page.counters), head_only);
        }
    }
    let route = if normalized.hidden { None } else { router.catalog.lookup(path) };
    match route {
        Some(Route::Directory) => redirect_to_slash(path, query),
        Some(Route::File(resource)) => file(request, resource, head_only),
        // Not the site's 404 page: without credentials (see above) it
        // would show a page of the site.
        None if challenge::token(path).is_some() => match router.catalog.challenge(path) {
            Some(resource) => unremembered(file(request, &resource, head_only)),
            None => unremembered(canned::NOT_FOUND.answer(head_only)),
        },
        None => match router.catalog.lookup(b"/") {
            // RFC-wise a 200 for a made-up path; it is what client-side routers
            // need. Well-known URIs are read by programs: they get their 404.
            Some(Route::File(index))
                if router.spa && !normalized.hidden && !has_extension(path) && walk::well_known(path).is_none() =>
            {
                file(request, index, head_only)
            }
            _ => not_found(router.catalog, head_only),
        },
    }
}

/// RFC 8555 §8.3: the key authorization for a token the ACME client has on,
/// before anything else decides (the site, `--auth`, `--https-redirect`):
/// the CA asks for exactly this path, with no credentials. Built for this
/// request, so neither the memo nor the whole-response copies keep it.
#[cfg(feature = "acme")]
#[inline(never)]
fn acme_challenge(request: &Request, acme: &crate::acme::challenge::Challenges, head_only: bool) -> Option<Answer> {
    if !matches!(request.method, Method::Get | Method::Head) {
        return None;
    }
    let (head, body) = crate::acme::challenge::http_response(acme, challenge::token(request.target)?)?;
    let content = if head_only { Content::Empty } else { Content::Built(body) };
    Some(Answer { entry: None, head: Head::Built(head), content, closes: false })
}

/// An answer that holds for this moment only (a challenge read from disk, or
/// its absence): its head is copied out, so that neither the memo nor the
/// whole-response copies keep it, as they keep nothing built for one request.
fn unremembered(mut answer: Answer) -> Answer {
    let head: Box<[u8]> = match (&answer.head, &answer.entry) {
        (Head::Static(bytes), _) => Box::from(*bytes),
        (Head::EntryOk, Some(entry)) => Box::from(&entry.head_ok[..]),
        (Head::EntryNotModified, Some(entry)) => Box::from(&entry.head_not_modified[..]),
        _ => return answer,
    };
    answer.head = Head::Built(head);
    answer
}

/// The last segment has a dot after its first byte: `app.js`, not `about`.
fn has_extension(path: &[u8]) -> bool {
    let name = path.rsplit(|&b| b == b'/').next().unwrap_or(path);
    name.iter().skip(1).any(|&b| b == b'.')
}

/// 404, with the site's own `/404.html` as the body when it has one.
fn not_found(catalog: &Catalog, head_only: bool) -> Answer {
    let Some(page) = &catalog.not_found else {
        return canned::NOT_FOUND.answer(head_only);
    };
    let content = if head_only { Content::Empty } else { Content::Entry { start: 0, end: page.len } };
    Answer { entry: Some(page.clone()), head: Head::EntryOk, content, closes: false }
}

/// The variant Accept-Encoding picks; preconditions and ranges then apply
/// to the variant actually sent (its own ETag and length).
fn file(request: &Request, resource: &Resource, head_only: bool) -> Answer {
    let entry = match encoding::choose(request.accept_encoding, resource.gzip.is_some(), resource.br.is_some()) {
        Coding::Br => resource.br.as_ref(),
        Coding::Gzip => resource.gzip.as_ref(),
        Coding::Identity => None,
    };
    match entry.or(resource.identity.as_ref()) {
        Some(entry) => representation(request, entry, head_only),
        // Only variants on disk, none acceptable: mote never decompresses.
        None => canned::NOT_FOUND_VARYING.answer(head_only),
    }
}

fn representation(request: &Request, entry: &Arc<Entry>, head_only: bool) -> Answer {
    let conditions = &request.conditions;
    let (head, content) = match evaluate(conditions, &entry.etag, entry.last_modified) {
        Precondition::Failed => return canned::PRECONDITION_FAILED.answer(head_only),
        Precondition::NotModified => (Head::EntryNotModified, Content::Empty),
        Precondition::Proceed => {
            let range = match conditions.range {
                // RFC 9110 §14.2: Range applies to GET only.
                Some(value) if !head_only && if_range_holds(conditions, &entry.etag, entry.last_modified) => {
                    range::parse(value, entry.len)
                }
                _ => ByteRange::Whole,
            };
            match range {
                ByteRange::Whole => {
                    let content = if head_only { Content::Empty } else { Content::Entry { start: 0, end: entry.len } };
                    (Head::EntryOk, content)
                }
                ByteRange::Partial { first, last } => {
                    (Head::Built(partial_head(entry, first, last)), Content::Entry { start: first, end: last + 1 })
                }
                ByteRange::Unsatisfiable => {
                    let head = unsatisfiable_head(entry.len);
                    return Answer {
                        entry: None,
                        head: Head::Built(head),
                        content: Content::Static(canned::RANGE_NOT_SATISFIABLE.body),
                        closes: false,
                    };
                }
            }
        }
    };
    Answer { entry: Some(entry.clone()), head, content, closes: false }
}

/// A page of counters: never cached, since it is out of date a second later.
/// Its head and body are each one allocation of their exact size.
fn counters(page: &Page, body: Vec<u8>, head_only: bool) -> Answer {
    let mut length = itoa::Buffer::new();
    let length = length.format(body.len()).as_bytes();
    let parts: [&[u8]; 6] = [
        b"HTTP/1.1 200 OK\r\nContent-Type: ",
        page.content_type.as_bytes(),
        b"\r\nCache-Control: no-store\r\nContent-Length: ",
        length,
        b"\r\n",
        NOSNIFF.as_bytes(),
    ];
    let head: Box<[u8]> = parts.concat().into_boxed_slice();
    let content = if head_only { Content::Empty } else { Content::Built(body.into_boxed_slice()) };
    // A health check polls the status page; a scrape of the metrics is logged.
    let head = if page.counters == Counters::Status { Head::Unlogged(head) } else { Head::Built(head) };
    Answer { entry: None, head, content, closes: false }
}

/// RFC 9110 §15.3.7: 206 with Content-Range and the entry's other headers.
fn partial_head(entry: &Entry, first: u64, last: u64) -> Box<[u8]> {
    let mut numbers = itoa::Buffer::new();
    let mut head = Vec::with_capacity(entry.head_ok.len() + 64);
    head.extend_from_slice(b"HTTP/1.1 206 Partial Content\r\nContent-Range: bytes ");
    head.extend_from_slice(numbers.format(first).as_bytes());
    head.push(b'-');
    head.extend_from_slice(numbers.format(last).as_bytes());
    head.push(b'/');
    head.extend_from_slice(numbers.format(entry.len).as_bytes());
    head.extend_from_slice(b"\r\nContent-Length: ");
    head.extend_from_slice(numbers.format(last - first + 1).as_bytes());
    head.extend_from_slice(b"\r\n");
    head.extend_from_slice(&entry.head_ok[entry.shared_from..]);
    head.into_boxed_slice()
}

/// RFC 9110 §15.5.17: 416 says how long the representation is.
fn unsatisfiable_head(len: u64) -> Box<[u8]> {
    let canned = canned::RANGE_NOT_SATISFIABLE.head;
    let mut head = Vec::with_capacity(canned.len() + 40);
    head.extend_from_slice(canned);
    head.extend_from_slice(b"Content-Range: bytes */");
    head.extend_from_slice(itoa::Buffer::new().format(len).as_bytes());
    head.extend_from_slice(b"\r\n");
    head.into_boxed_slice()
}

/// A directory named without its slash: 301 to the slash form, query kept,
/// so relative links inside its index.html resolve against the directory.
fn redirect_to_slash(path: &[u8], query: Option<&[u8]>) -> Answer {
    let mut head = b"HTTP/1.1 301 Moved Permanently\r\nLocation: ".to_vec();
    target::encode_path(path, &mut head);
    head.push(b'/');
    if let Some(query) = query {
        head.push(b'?');
        head.extend_from_slice(query);
    }
    head.extend_from_slice(b"\r\nContent-Length: 0\r\n");
    head.extend_from_slice(NOSNIFF.as_bytes());
    Answer { entry: None, head: Head::Built(head.into_boxed_slice()), content: Content::Empty, closes: false }
}

#[cfg(all(test, feature = "acme"))]
mod tests {
    use super::*;
    use crate::acme::challenge::Challenges;
    use crate::catalog::Options;
    use crate::http::request::{self, Parse};
    use mote_site::cache::Audience;

    /// The status line and body `raw` gets, and whether the memo may keep it.
    fn ask(
        raw: &[u8],
        acme: Option<&Challenges>,
        auth: Option<&Auth>,
        https_port: Option<u16>,
    ) -> (String, Vec<u8>, bool) {
        let audience = if auth.is_some() { Audience::Authenticated } else { Audience::Anyone };
        let catalog = Catalog::embedded(&Options { cache_max: 1 << 20, cache_rules: &[], audience, listing: false });
        let router = Router { catalog: &catalog, pages: None, spa: false, auth, acme, https_port };
        let Parse::Complete(request, _) = request::parse(raw) else { panic!("not a complete head") };
        let answer = answer(&request, &router, &mut Vec::new());
        let head = match &answer.head {
            Head::Static(bytes) => bytes.to_vec(),
            Head::Built(bytes) | Head::Unlogged(bytes) => bytes.to_vec(),
            Head::EntryOk | Head::EntryNotModified => answer.entry.as_ref().unwrap().head_ok.to_vec(),
        };
        let status = String::from_utf8_lossy(&head[..head.iter().position(|&b| b == b'\r').unwrap()]).into_owned();
        let body = match &answer.content {
            Content::Built(bytes) => bytes.to_vec(),
            Content::Empty => Vec::new(),
            _ => b"(other)".to_vec(),
        };
        (status, body, answer.share().is_some())
    }

    #[test]
    fn acme_http01_is_answered_before_anything_else() {
        let token = "LoqXcYV8q5ONbJQxbmR7SCTNo3tiAXDfowyjxAjEuX0";
        let acme = Challenges::new();
        acme.set_http(token, "LoqXcYV8q5ONbJQxbmR7SCTNo3tiAXDfowyjxAjEuX0.9jg46WB3rR_AHD-EBXdN7cBkH1WOu0tA3M9fm21mqTI");
        let auth = Auth::new(vec![b"user:pass".to_vec()]);
        let get = format!("GET /.well-known/acme-challenge/{token} HTTP/1.1\r\nHost: a.example\r\n\r\n");
        let head = format!("HEAD /.well-known/acme-challenge/{token} HTTP/1.1\r\nHost: a.example\r\n\r\n");
        let post = format!("POST /.well-known/acme-challenge/{token} HTTP/1.1\r\nHost: a.example\r\n\r\n");
        let other = "GET /.well-known/acme-challenge/other HTTP/1.1\r\nHost: a.example\r\n\r\n";
        let key_authorization = acme.http(token).unwrap().into_bytes();
        // (row, request, --auth, --https-redirect's port, wanted status line, wanted body)
        type Row<'a> = (&'a str, &'a str, bool, Option<u16>, &'a str, &'a [u8]);
        let rows: &[Row] = &[
            ("RFC 8555 §8.3: the key authorization", &get, false, None, "HTTP/1.1 200 OK", &key_authorization),
            ("under --auth, without credentials", &get, true, None, "HTTP/1.1 200 OK", &key_authorization),
            ("under --https-redirect", &get, false, Some(443), "HTTP/1.1 200 OK", &key_authorization),
            ("HEAD: no body", &head, false, None, "HTTP/1.1 200 OK", b""),
            ("another method is not the CA", &post, false, None, "HTTP/1.1 405 Method Not Allowed", b"(other)"),
            ("a token not on: as before", other, false, None, "HTTP/1.1 404 Not Found", b"(other)"),
        ];
        for &(row, raw, with_auth, https_port, status, body) in rows {
            let got = ask(raw.as_bytes(), Some(&acme), with_auth.then_some(&auth), https_port);
            assert_eq!((got.0.as_str(), got.1.as_slice()), (status, body), "{row}");
            if status.ends_with("200 OK") {
                assert!(!got.2, "{row}: a challenge's answer is not remembered");
            }
        }
        // Without --acme, the same request is the site's.
        assert_eq!(ask(get.as_bytes(), None, None, None).0, "HTTP/1.1 404 Not Found");
        acme.clear_http(token);
        assert_eq!(ask(get.as_bytes(), Some(&acme), None, None).0, "HTTP/1.1 404 Not Found");
    }
}
