//! Error pages: a site's `NNN.html` (at its root) as the body of every NNN
//! answer mote sends, for the statuses in `canned::PAGED`.
//!
//! Each page gets its finished head at load time, as a file does: the canned
//! answer's status line and its own header lines (`Allow` on a 405,
//! `WWW-Authenticate` on a 401, `Retry-After` on a 503) with the page's
//! length and type, so sending one is as cheap as sending the canned text.
//! A page is held in memory even above `--cache-max`: errors are answered
//! often (a scanner's 404s, a 503 under load), and a handful of pages cannot
//! grow with the site. The files stay servable at their own paths too.
#![forbid(unsafe_code)]

use std::borrow::Cow;
use std::io::Read;
use std::sync::Arc;

use crate::answer::canned::{self, Canned};
use crate::catalog::{Body, Bytes, Catalog, Entry, Route};
use mote_site::cache::{self, Audience};
use mote_site::representation::NOSNIFF;

/// Largest `NNN.html` taken as an error's body; a bigger one is served only
/// at its own path.
const MAX_PAGE: u64 = 1 << 20;

/// A site's error pages, by status.
#[derive(Default)]
pub struct ErrorPages(Vec<(u16, Arc<Entry>)>);

impl ErrorPages {
    /// Builds the page of every status in `canned::PAGED` that `catalog` has
    /// a readable `NNN.html` for; `content_type` is an `.html` file's.
    pub fn build(catalog: &Catalog, content_type: &str, audience: Audience, vary_origin: bool) -> ErrorPages {
        let mut pages = Vec::new();
        for canned in &canned::PAGED {
            // The status line's digits: `HTTP/1.1 404 ...`.
            let mut path = *b"/NNN.html";
            path[1..4].copy_from_slice(&canned.line()[9..12]);
            let Some(Route::File(resource)) = catalog.lookup(&path) else {
                continue;
            };
            if let Some(body) = resource.identity.as_deref().and_then(body) {
                pages.push((canned.status, Arc::new(page(canned, content_type, audience, vary_origin, body))));
            }
        }
        ErrorPages(pages)
    }

    /// The page for `status`, when the site has one.
    pub fn get(&self, status: u16) -> Option<&Arc<Entry>> {
        self.0.iter().find(|(of, _)| *of == status).map(|(_, page)| page)
    }

    /// Memory the pages hold (their bodies are copies of the files').
    pub fn bytes(&self) -> u64 {
        self.0.iter().map(|(_, page)| page.bytes()).sum()
    }
}

/// The file's content, read now when it is kept on disk.
fn body(file: &Entry) -> Option<Bytes> {
    match &file.body {
        Body::Memory(bytes) => Some(bytes.clone()),
        // Opened at load time and never read since (sendfile reads at an
        // offset of its own), so a read starts at the beginning.
        Body::File(handle) if file.len <= MAX_PAGE => {
            let mut bytes = Vec::new();
            (&*handle).read_to_end(&mut bytes).ok()?;
            Some(Cow::Owned(bytes))
        }
        Body::File(_) => None,
    }
}

/// The head of `canned` with a page of `len` bytes of `content_type` as its
/// body (an error page, or a `_redirects` 404 rule's page). It says
/// `cache_control`, unless the answer says its own (a 401's `no-store`).
pub fn head(canned: &Canned, len: u64, content_type: &str, cache_control: &str, vary_origin: bool) -> Vec<u8> {
    let mut head = canned.line().to_vec();
    head.extend_from_slice(b"Content-Length: ");
    head.extend_from_slice(itoa::Buffer::new().format(len).as_bytes());
    head.extend_from_slice(b"\r\nContent-Type: ");
    head.extend_from_slice(content_type.as_bytes());
    head.extend_from_slice(b"\r\n");
    if !canned.extra().split(|&b| b == b'\n').any(|line| line.starts_with(b"Cache-Control:")) {
        head.extend_from_slice(b"Cache-Control: ");
        head.extend_from_slice(cache_control.as_bytes());
        head.extend_from_slice(b"\r\n");
    }
    head.extend_from_slice(canned.extra());
    // `--cors` with origins: see `answer/cors.rs`.
    if vary_origin {
        head.extend_from_slice(b"Vary: Origin\r\n");
    }
    head.extend_from_slice(NOSNIFF.as_bytes());
    head
}

/// `canned`'s status line and header lines, with `bytes` as the body. The
/// page's own Cache-Control is an HTML page's, unless the answer says its
/// own (a 401's `no-store`).
fn page(canned: &Canned, content_type: &str, audience: Audience, vary_origin: bool, bytes: Bytes) -> Entry {
    let head = head(canned, bytes.len() as u64, content_type, &cache::for_page(audience), vary_origin);
    Entry {
        shared_from: head.len(),
        // Never a 304: an error is not a representation to revalidate.
        head_not_modified: Cow::Borrowed(b""),
        head_ok: Cow::Owned(head),
        etag: [0; 18],
        last_modified: 0,
        len: bytes.len() as u64,
        body: Body::Memory(bytes),
    }
}
