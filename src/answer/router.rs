//! Which response a request gets: method, target, route, preconditions and
//! range decide among the precomputed parts; nothing here writes, and only
//! an ACME challenge the catalog does not hold is read (`catalog/challenge`).
//!
//! The common case — a cached file, no conditions — is a map lookup and an
//! `Arc` clone: no allocation. Only 206, 301 and 416 build a head, because
//! they carry per-request numbers or paths (and the rare 404 of a file kept
//! only precompressed, when the site has a 404 page). Errors come with the
//! site's own page when it has one (`Canned::on`). So do a `_redirects`
//! rule's redirects that carry the request's path or query, and its 404s.
#![forbid(unsafe_code)]

use std::sync::Arc;

use crate::answer::canned::{self, Canned};
use crate::answer::cors::Cors;
use crate::answer::reply::{Answer, Content, Head};
use crate::catalog::redirects::{Rule, Status};
use crate::catalog::sites::Sites;
use crate::catalog::{challenge, pages, Catalog, Entry, Resource, Route};
use crate::http::auth::Auth;
use crate::http::conditional::{evaluate, if_range_holds, Precondition};
use crate::http::encoding::{self, Coding};
use crate::http::range::{self, ByteRange};
use crate::http::request::{Method, Rejection, Request};
use crate::http::target::{self, Target};
use mote_site::representation::NOSNIFF;
use mote_site::walk;

/// The answer to a head that could not be accepted, with `catalog`'s error
/// page; `head_only` when it still reads as a HEAD request (RFC 9110 §9.3.2:
/// no content then).
pub fn reject(rejection: Rejection, catalog: &Catalog, head_only: bool) -> Answer {
    let canned = match rejection {
        Rejection::BadRequest => canned::BAD_REQUEST,
        Rejection::ContentTooLarge => canned::CONTENT_TOO_LARGE,
        Rejection::UriTooLong => canned::URI_TOO_LONG,
        Rejection::HeadTooLarge => canned::HEAD_TOO_LARGE,
        Rejection::NotImplemented => canned::NOT_IMPLEMENTED,
        Rejection::VersionNotSupported => canned::VERSION_NOT_SUPPORTED,
    };
    canned.on(catalog, head_only)
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
    /// The site `route` answers from: with `--vhost`, the one the request's
    /// host picked from `sites`.
    pub catalog: &'a Catalog,
    /// Every site; with `--vhost`, the request's host picks `catalog`.
    pub sites: &'a Sites,
    /// With `--vhost`, over TLS to a client that sent SNI: the names the
    /// connection's certificate covers (RFC 9110 §4.3.3).
    #[cfg(feature = "tls")]
    pub certificate: Option<&'a [String]>,
    /// None without `--status` and `--metrics`.
    pub pages: Option<Pages<'a>>,
    /// `--spa`: extension-less paths that match nothing get `/index.html`.
    pub spa: bool,
    pub auth: Option<&'a Auth>,
    /// `--cors`.
    pub cors: Option<&'a Cors>,
    /// `--acme`: the HTTP-01 challenges its client has on.
    #[cfg(feature = "acme")]
    pub acme: Option<&'a crate::acme::challenge::Challenges>,
    /// `--https-redirect` on a plain connection: the HTTPS port its requests
    /// are sent to.
    #[cfg(feature = "tls")]
    pub https_port: Option<u16>,
}

/// The answer to a request, whose head is `head`. `path` is scratch space
/// for the decoded path.
pub fn answer(request: &Request, head: &[u8], router: &Router, path: &mut Vec<u8>) -> Answer {
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
    // A preflight comes without credentials: answered before `--auth`.
    let asked = match router.cors.map(|cors| cors.ask(request, head)) {
        Some(Err(preflight)) => return preflight,
        Some(Ok(asked)) => Some(asked),
        None => None,
    };
    let mut answer =
        if router.sites.hosts.is_empty() { route(request, router, path) } else { by_host(request, router, path) };
    if let Some(asked) = asked {
        asked.apply(&mut answer);
    }
    answer
}

/// With `--vhost`: the site the request's effective host picks answers it.
/// No site for the host, or over TLS a certificate that does not cover it,
/// is 421 (RFC 9110 §15.5.20, §7.4), but the counter pages answer for any
/// host, so a health check needs no name.
#[inline(never)]
fn by_host(request: &Request, router: &Router, path: &mut Vec<u8>) -> Answer {
    let host = target::effective_host(request.target, request.host);
    #[cfg(feature = "tls")]
    let covered = match (router.certificate, host) {
        (Some(names), Some(host)) => crate::net::tls::covers(names, host),
        _ => true,
    };
    #[cfg(not(feature = "tls"))]
    let covered = true;
    match router.sites.pick(host) {
        Some(catalog) if covered => route(request, &Router { catalog, ..*router }, path),
        _ if is_page(request, router, path) => route(request, router, path),
        // Another connection, with another certificate, may get the site:
        // the memo must not keep this answer for these bytes.
        Some(_) => unremembered(canned::MISDIRECTED_REQUEST.on(router.catalog, request.method == Method::Head)),
        None => canned::MISDIRECTED_REQUEST.on(router.catalog, request.method == Method::Head),
    }
}

/// The request is for `--status` or `--metrics`.
fn is_page(request: &Request, router: &Router, path: &mut Vec<u8>) -> bool {
    let (Some((pages, _)), Some(Target::Path { path: raw, .. })) = (router.pages, target::split(request.target)) else {
        return false;
    };
    target::normalize(raw, path).is_ok() && pages.iter().any(|page| path[..] == *page.path)
}

/// The site's answer to a request.
pub fn route(request: &Request, router: &Router, path: &mut Vec<u8>) -> Answer {
    let head_only = request.method == Method::Head;
    let catalog = router.catalog;
    let canned = |canned: Canned| canned.on(catalog, head_only);
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
            return Answer {
                entry: None,
                head: Head::Static(canned::OPTIONS),
                content: Content::Empty,
                closes: false,
                extra: 0,
            }
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
    // The order a path meets: forced rules, the file (or its directory, or
    // its clean URL), the other rules, --spa, 404 rules, the 404 page.
    let rules = &catalog.redirects;
    if rules.has_forced() && challenge::token(path).is_none() {
        if let Some(rule) = rules.forced(path) {
            return redirected(request, router, rule, path, query, head_only);
        }
    }
    let route = if normalized.hidden { None } else { catalog.lookup(path) };
    match route {
        Some(Route::Directory) => redirect_to_slash(path, query),
        Some(Route::File(resource)) => file(request, resource, catalog, head_only),
        // Not the site's 404 page: without credentials (see above) it
        // would show a page of the site.
        None if challenge::token(path).is_some() => match catalog.challenge(path) {
            Some(resource) => unremembered(file(request, &resource, catalog, head_only)),
            None => unremembered(canned::NOT_FOUND.answer(head_only)),
        },
        None => {
            if let Some(rule) = rules.normal(path) {
                return redirected(request, router, rule, path, query, head_only);
            }
            match catalog.lookup(b"/") {
                // RFC-wise a 200 for a made-up path; it is what client-side routers
                // need. Well-known URIs are read by programs: they get their 404.
                Some(Route::File(index))
                    if router.spa && !normalized.hidden && !has_extension(path) && walk::well_known(path).is_none() =>
                {
                    file(request, index, catalog, head_only)
                }
                _ => match rules.missing(path) {
                    Some(rule) => redirected(request, router, rule, path, query, head_only),
                    None => canned(canned::NOT_FOUND),
                },
            }
        }
    }
}

/// A `_redirects` rule's answer: a redirect, or another path's file served
/// here (200) or its body with a 404. One pass: the destination is looked
/// up as it is, never matched against the rules again, so `/a /a 200`
/// cannot loop. A redirect with a fixed Location and no query to pass on
/// is the rule's shared head, remembered by the memo as a file is.
fn redirected(
    request: &Request,
    router: &Router,
    rule: &Rule,
    path: &mut Vec<u8>,
    query: Option<&[u8]>,
    head_only: bool,
) -> Answer {
    if let Status::Redirect(code) = rule.status {
        let (entry, head) = match (rule.fixed(), query) {
            (Some(entry), None) => (Some(entry.clone()), Head::EntryOk),
            _ => (None, Head::Built(rule.redirect_head(code, path, query))),
        };
        return Answer { entry, head, content: Content::Empty, closes: false, extra: 0 };
    }
    let mut destination = Vec::new();
    rule.destination(path, &mut destination);
    let resource = match target::normalize(&destination, path) {
        Ok(normalized) if !normalized.hidden => match router.catalog.lookup(path) {
            Some(Route::Directory) => {
                path.push(b'/');
                router.catalog.lookup(path)
            }
            route => route,
        },
        _ => None,
    };
    let Some(Route::File(resource)) = resource else {
        return canned::NOT_FOUND.on(router.catalog, head_only);
    };
    if rule.status == Status::Rewrite {
        return file(request, resource, router.catalog, head_only);
    }
    let Some(page) = &resource.identity else {
        return canned::NOT_FOUND.on(router.catalog, head_only);
    };
    let name: &[u8] = if path.ends_with(b"/") { b"index.html" } else { path };
    let rules = &router.catalog.redirects;
    let head = pages::head(&canned::NOT_FOUND, page.len, rules.types.content_type(name), &rules.cache_control, false);
    let content = if head_only { Content::Empty } else { Content::Entry { start: 0, end: page.len } };
    Answer { entry: Some(page.clone()), head: Head::Built(head.into_boxed_slice()), content, closes: false, extra: 0 }
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
    Some(Answer { entry: None, head: Head::Built(head), content, closes: false, extra: 0 })
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

/// The variant Accept-Encoding picks; preconditions and ranges then apply
/// to the variant actually sent (its own ETag and length).
fn file(request: &Request, resource: &Resource, catalog: &Catalog, head_only: bool) -> Answer {
    let entry = match encoding::choose(request.accept_encoding, resource.gzip.is_some(), resource.br.is_some()) {
        Coding::Br => resource.br.as_ref(),
        Coding::Gzip => resource.gzip.as_ref(),
        Coding::Identity => None,
    };
    match entry.or(resource.identity.as_ref()) {
        Some(entry) => representation(request, entry, catalog, head_only),
        // Only variants on disk, none acceptable: mote never decompresses.
        // Another Accept-Encoding would get a 200, and caches must know.
        None => error_with(canned::NOT_FOUND, catalog, &[b"Vary: Accept-Encoding\r\n"], head_only),
    }
}

fn representation(request: &Request, entry: &Arc<Entry>, catalog: &Catalog, head_only: bool) -> Answer {
    let conditions = &request.conditions;
    let (head, content) = match evaluate(conditions, &entry.etag, entry.last_modified) {
        Precondition::Failed => return canned::PRECONDITION_FAILED.on(catalog, head_only),
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
                // RFC 9110 §15.5.17: 416 says how long the representation is.
                ByteRange::Unsatisfiable => {
                    let mut length = itoa::Buffer::new();
                    let range: [&[u8]; 3] = [b"Content-Range: bytes */", length.format(entry.len).as_bytes(), b"\r\n"];
                    return error_with(canned::RANGE_NOT_SATISFIABLE, catalog, &range, false);
                }
            }
        }
    };
    Answer { entry: Some(entry.clone()), head, content, closes: false, extra: 0 }
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
    Answer { entry: None, head, content, closes: false, extra: 0 }
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

/// `canned` on the site (its error page as the body when it has one), with
/// header `lines` that belong to this request only: a head built now.
fn error_with(canned: Canned, catalog: &Catalog, lines: &[&[u8]], head_only: bool) -> Answer {
    let page = catalog.error_pages.get(canned.status);
    let base: &[u8] = page.map_or(canned.head, |page| &page.head_ok);
    let mut head = base.to_vec();
    lines.iter().for_each(|line| head.extend_from_slice(line));
    let content = match page {
        _ if head_only => Content::Empty,
        Some(page) => Content::Entry { start: 0, end: page.len },
        None => Content::Static(canned.body),
    };
    Answer {
        entry: page.cloned(),
        head: Head::Built(head.into_boxed_slice()),
        content,
        closes: canned.closes,
        extra: 0,
    }
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
    Answer { entry: None, head: Head::Built(head.into_boxed_slice()), content: Content::Empty, closes: false, extra: 0 }
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
        let types = mote_site::mime::Types::default();
        let options = Options {
            cache_max: 1 << 20,
            cache_rules: &[],
            audience,
            listing: false,
            vary_origin: false,
            types: &types,
            clean_urls: false,
        };
        let sites = Sites { fallback: Catalog::embedded(&options), misdirects: false, hosts: Vec::new() };
        let router = Router {
            catalog: &sites.fallback,
            sites: &sites,
            certificate: None,
            pages: None,
            spa: false,
            auth,
            cors: None,
            acme,
            https_port,
        };
        let Parse::Complete(request, _) = request::parse(raw) else { panic!("not a complete head") };
        let answer = answer(&request, raw, &router, &mut Vec::new());
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
