//! The site as a table: URL path -> finished response parts, built from
//! `--root` or from the site compiled in (`embedded`), with `--listing` pages
//! (`listing`) for directories without an index.
//!
//! Everything a request needs is computed here once — heads, entity-tags,
//! bodies of small files — because on a Pi the CPU, not the disk, is the
//! bottleneck. Files above `--cache-max` keep only their heads and an open
//! descriptor, and are streamed with `sendfile`, so memory does not grow with
//! the size of the site. The walk of `--root` decides what is servable: only
//! regular files inside the root after resolving symlinks, no dotfiles but
//! `/.well-known/`. ACME challenges not yet loaded are the one thing read
//! from disk when asked for (`challenge`). A site's `NNN.html` pages are
//! its error answers' bodies (`pages`). Its `_redirects` rules are
//! compiled with it (`redirects`), and `--clean-urls` routes added to it, so
//! neither costs a request more than a lookup.
#![forbid(unsafe_code)]

pub mod challenge;
pub mod embedded;
pub mod listing;
pub mod pages;
pub mod redirects;
pub mod sites;

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fs::{self, File, Metadata};
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::sync::Arc;

use crate::catalog::challenge::Challenges;
use crate::catalog::embedded::{EmbeddedBody, FILES};
use crate::catalog::pages::ErrorPages;
use crate::catalog::redirects::Redirects;
use mote_site::cache::{self, Audience, Rule};
use mote_site::mime::Types;
use mote_site::representation::{entity_tag, EntityTag, Representation};
use mote_site::walk::{self, error_text, Item, Skip, Visitor};

/// What a route costs besides its key: the map slot, an Arc and a Resource.
const ROUTE_BYTES: u64 = 96;

pub type Bytes = Cow<'static, [u8]>;

/// One servable representation: a file, or a precompressed variant of it.
pub struct Entry {
    /// `HTTP/1.1 200 OK`, Content-Length, then the headers every 2xx shares.
    pub head_ok: Bytes,
    /// Where the shared headers start in `head_ok` (a 206 reuses them).
    pub shared_from: usize,
    pub head_not_modified: Bytes,
    pub etag: EntityTag,
    pub last_modified: u64,
    pub len: u64,
    pub body: Body,
}

pub enum Body {
    Memory(Bytes),
    /// Opened at load time: a response started before a reload finishes
    /// from the file it began with.
    File(File),
}

/// A file and its precompressed variants (`x.css.gz`, `x.css.br` beside it).
pub struct Resource {
    /// None when only variants are on disk: mote never decompresses, so a
    /// client that accepts none of them gets a 404.
    pub identity: Option<Arc<Entry>>,
    pub gzip: Option<Arc<Entry>>,
    pub br: Option<Arc<Entry>>,
}

pub enum Route {
    File(Arc<Resource>),
    /// A directory named without its trailing slash: 301 to the slash form.
    Directory,
}

/// How a site is turned into a catalog.
pub struct Options<'a> {
    pub cache_max: u64,
    pub cache_rules: &'a [Rule],
    /// `--auth`: every head is built `private`, so no shared cache keeps a
    /// protected response.
    pub audience: Audience,
    /// Directories without index.html get an HTML listing.
    pub listing: bool,
    /// `--cors` names its origins, so whether a response carries
    /// Access-Control-Allow-Origin depends on the request: every head says
    /// `Vary: Origin`.
    pub vary_origin: bool,
    /// The type table, with `--mime`'s overrides.
    pub types: &'a Types,
    /// `--clean-urls`: `/about` serves `about.html` when nothing is named `about`.
    pub clean_urls: bool,
}

pub struct Catalog {
    /// Ordered, not hashed: std already carries B-tree code, a site's paths
    /// are few, and lookups cost a handful of byte comparisons.
    routes: BTreeMap<Box<[u8]>, Route>,
    /// Memory the catalog holds (heads, cached bodies, route keys), for
    /// `--max-memory`.
    pub bytes: u64,
    /// `/404.html` and the other `NNN.html` at the root, re-headed as the
    /// bodies of their errors.
    pub error_pages: ErrorPages,
    /// Where ACME challenges are read from: `--root` only.
    challenges: Option<Challenges>,
    /// The rules of the site's `_redirects`.
    pub redirects: Redirects,
}

impl Catalog {
    /// Out of line: every loader starts from one, and each inlined copy
    /// would build the empty `_redirects` tables again.
    #[inline(never)]
    pub(crate) fn empty() -> Catalog {
        Catalog {
            routes: BTreeMap::new(),
            bytes: 0,
            error_pages: ErrorPages::default(),
            challenges: None,
            redirects: Redirects::default(),
        }
    }

    /// The site compiled in from `static/`. Its heads were built by build.rs
    /// with the default cache rules and types, for anyone; other rules,
    /// `--auth`, `--cors` with origins, or a `--mime` that retypes a file rebuild them here with the
    /// same code.
    pub fn embedded(options: &Options) -> Catalog {
        let mut catalog = Catalog::empty();
        let rebuild_all =
            !options.cache_rules.is_empty() || options.audience != Audience::Anyone || options.vary_origin;
        for file in FILES {
            let url = std::str::from_utf8(file.path).unwrap_or("/");
            let vary = file.gzip.is_some() || file.br.is_some();
            let content_type = options.types.content_type(file.path);
            let rebuild = rebuild_all || content_type != file.content_type;
            let cache_control = cache::for_file(options.cache_rules, url, content_type, options.audience);
            let entry = |body: &'static EmbeddedBody, coding: Option<&str>| {
                let content = Body::Memory(Cow::Borrowed(body.bytes));
                let entry = if rebuild {
                    let rep = Representation {
                        content_type,
                        content_encoding: coding,
                        vary,
                        vary_origin: options.vary_origin,
                        cache_control: &cache_control,
                        len: body.bytes.len() as u64,
                        last_modified: file.last_modified,
                        etag: body.etag,
                    };
                    Entry::new(&rep, content)
                } else {
                    Entry {
                        head_ok: Cow::Borrowed(body.head_ok),
                        shared_from: body.shared_from,
                        head_not_modified: Cow::Borrowed(body.head_not_modified),
                        etag: body.etag,
                        last_modified: file.last_modified,
                        len: body.bytes.len() as u64,
                        body: content,
                    }
                };
                Arc::new(entry)
            };
            let resource = Resource {
                identity: Some(entry(&file.identity, None)),
                gzip: file.gzip.as_ref().map(|body| entry(body, Some("gzip"))),
                br: file.br.as_ref().map(|body| entry(body, Some("br"))),
            };
            catalog.add_file(file.path, resource);
        }
        catalog.finish(options);
        catalog
    }

    /// Walks `root` and precomputes every servable file.
    pub fn load(root: &Path, options: &Options) -> Result<Catalog, String> {
        let mut loader = Loader { options, catalog: Catalog::empty() };
        walk::walk(root, &mut loader).map_err(|why| format!("--root {why}"))?;
        let canonical = fs::canonicalize(root).map_err(|e| format!("--root {}: {}", root.display(), error_text(&e)))?;
        loader.catalog.challenges = Some(Challenges::new(canonical, options.cache_rules, options.vary_origin));
        let (mut redirects, skipped) = Redirects::read(root)?;
        redirects.cache_control = cache::for_page(options.audience);
        redirects.types = options.types.clone();
        for line in skipped {
            let (path, why) = (root.join(walk::REDIRECTS), line.why);
            crate::ops::log::stderr_line(format_args!("mote: {}:{}: {why}; line skipped", path.display(), line.line));
        }
        loader.catalog.bytes += redirects.bytes;
        loader.catalog.redirects = redirects;
        loader.catalog.finish(options);
        Ok(loader.catalog)
    }

    pub fn lookup(&self, path: &[u8]) -> Option<&Route> {
        self.routes.get(path)
    }

    /// The ACME challenge `path` asks for (`challenge::token`), read from
    /// disk now: for a token written since the site was loaded.
    pub fn challenge(&self, path: &[u8]) -> Option<Resource> {
        let entry = self.challenges.as_ref()?.read(challenge::token(path)?)?;
        Some(Resource { identity: Some(Arc::new(entry)), gzip: None, br: None })
    }

    /// How many files can be served (directory slash forms not counted twice).
    pub fn file_count(&self) -> usize {
        self.routes.iter().filter(|(path, route)| matches!(route, Route::File(_)) && !path.ends_with(b"/")).count()
    }

    /// Adds a file at `url_path` (`/a/b.html`), its parent directories, and,
    /// for `index.html`, the directory's slash form.
    fn add_file(&mut self, url_path: &[u8], resource: Resource) {
        let entries = [resource.identity.as_ref(), resource.gzip.as_ref(), resource.br.as_ref()];
        self.bytes += entries.into_iter().flatten().map(|entry| entry.bytes()).sum::<u64>();
        let resource = Arc::new(resource);
        let name_at = url_path.iter().rposition(|&b| b == b'/').map_or(0, |i| i + 1);
        if &url_path[name_at..] == b"index.html" {
            self.bytes += ROUTE_BYTES + name_at as u64;
            self.routes.insert(url_path[..name_at].into(), Route::File(resource.clone()));
        }
        for (i, _) in url_path.iter().enumerate().filter(|&(i, &b)| b == b'/' && i > 0) {
            self.add_directory(&url_path[..i]);
        }
        self.bytes += ROUTE_BYTES + url_path.len() as u64;
        self.routes.insert(url_path.into(), Route::File(resource));
    }

    fn add_directory(&mut self, url_path: &[u8]) {
        if !self.routes.contains_key(url_path) {
            self.bytes += ROUTE_BYTES + url_path.len() as u64;
            self.routes.insert(url_path.into(), Route::Directory);
        }
    }

    /// `--clean-urls`: `/a/b` leads to `/a/b.html`'s resource when no file or
    /// directory is named `/a/b` (`index.html` is its directory's already).
    fn add_clean_urls(&mut self) {
        let mut clean = Vec::new();
        for (path, route) in &self.routes {
            let Route::File(resource) = route else { continue };
            let Some(bare) = path.strip_suffix(b".html") else { continue };
            let name = &bare[bare.iter().rposition(|&b| b == b'/').map_or(0, |i| i + 1)..];
            if !name.is_empty() && name != b"index" && !self.routes.contains_key(bare) {
                clean.push((Box::<[u8]>::from(bare), resource.clone()));
            }
        }
        for (path, resource) in clean {
            self.bytes += ROUTE_BYTES + path.len() as u64;
            self.routes.insert(path, Route::File(resource));
        }
    }

    /// What is made of the files once all are in: clean URLs, and each
    /// `NNN.html` at the root as the body of its errors.
    fn finish(&mut self, options: &Options) {
        if options.clean_urls {
            self.add_clean_urls();
        }
        self.error_pages =
            ErrorPages::build(self, options.types.content_type(b".html"), options.audience, options.vary_origin);
        self.bytes += self.error_pages.bytes();
    }
}

impl Entry {
    /// Memory this entry holds (the embedded site's bytes count too: they
    /// are resident once served).
    fn bytes(&self) -> u64 {
        let body = match &self.body {
            Body::Memory(bytes) => bytes.len() as u64,
            Body::File(_) => 0,
        };
        (std::mem::size_of::<Entry>() + self.head_ok.len() + self.head_not_modified.len()) as u64 + body
    }

    /// An entry whose heads are built now from its representation.
    fn new(rep: &Representation, body: Body) -> Entry {
        let heads = rep.heads();
        Entry {
            head_ok: Cow::Owned(heads.ok),
            shared_from: heads.shared_from,
            head_not_modified: Cow::Owned(heads.not_modified),
            etag: rep.etag,
            last_modified: rep.last_modified,
            len: rep.len,
            body,
        }
    }

    /// An in-memory page made at load time (directory listings).
    pub fn generated(content_type: &str, cache_control: &str, vary_origin: bool, bytes: Vec<u8>) -> Entry {
        let etag = entity_tag(&bytes);
        let len = bytes.len() as u64;
        let rep = Representation {
            content_type,
            content_encoding: None,
            vary: false,
            vary_origin,
            cache_control,
            len,
            last_modified: 0,
            etag,
        };
        Entry::new(&rep, Body::Memory(Cow::Owned(bytes)))
    }
}

/// Builds the catalog from the walk of `--root`.
struct Loader<'a> {
    options: &'a Options<'a>,
    catalog: Catalog,
}

impl Visitor for Loader<'_> {
    fn directory(&mut self, url: &str, items: &[Item]) -> Result<(), String> {
        if !url.is_empty() {
            self.catalog.add_directory(url.as_bytes());
        }
        if self.options.listing && !items.iter().any(|item| item.name == "index.html" && item.meta.is_file()) {
            let entries: Vec<_> = items.iter().map(|item| (item.name.as_bytes(), &item.meta)).collect();
            let page = listing::render(url.as_bytes(), &entries);
            let cache_control = cache::for_page(self.options.audience);
            let entry = Entry::generated("text/html; charset=utf-8", &cache_control, self.options.vary_origin, page);
            self.catalog.bytes += entry.bytes() + ROUTE_BYTES + url.len() as u64 + 1;
            let resource = Arc::new(Resource { identity: Some(Arc::new(entry)), gzip: None, br: None });
            self.catalog.routes.insert(format!("{url}/").into_bytes().into(), Route::File(resource));
        }
        for name in walk::orphans(items) {
            let url = format!("{url}/{name}");
            let resource = self.resource(&url, name, None, items)?;
            self.catalog.add_file(url.as_bytes(), resource);
        }
        Ok(())
    }

    fn file(&mut self, url: &str, item: &Item, siblings: &[Item]) -> Result<(), String> {
        let resource = self.resource(url, &item.name, Some(item), siblings)?;
        self.catalog.add_file(url.as_bytes(), resource);
        Ok(())
    }

    fn skipped(&mut self, _url: &str, path: &Path, why: Skip) {
        if why != Skip::Dotfile && why != Skip::Redirects {
            warn(path, why.reason()); // dotfiles and the rules are skipped by design, silently
        }
    }

    fn unreadable(&mut self, message: String) -> Result<(), String> {
        Err(message) // a site is served whole or not at all
    }
}

impl Loader<'_> {
    /// The file `name` (`identity`, None when only its variants are on
    /// disk), with `.gz` / `.br` siblings as its precompressed variants.
    fn resource(&self, url: &str, name: &str, identity: Option<&Item>, siblings: &[Item]) -> Result<Resource, String> {
        let (gz, br) = (walk::variant(siblings, name, ".gz"), walk::variant(siblings, name, ".br"));
        let content_type = self.options.types.content_type(name.as_bytes());
        let vary = gz.is_some() || br.is_some();
        let cache_control = cache::for_file(self.options.cache_rules, url, content_type, self.options.audience);
        let entry = |found: Option<&Item>, coding: Option<&str>| -> Result<Option<Arc<Entry>>, String> {
            let Some(found) = found else {
                return Ok(None);
            };
            self.file(&found.path, &found.meta, content_type, coding, vary, &cache_control).map(|e| Some(Arc::new(e)))
        };
        Ok(Resource { identity: entry(identity, None)?, gzip: entry(gz, Some("gzip"))?, br: entry(br, Some("br"))? })
    }

    fn file(
        &self,
        path: &Path,
        meta: &Metadata,
        content_type: &str,
        content_encoding: Option<&str>,
        vary: bool,
        cache_control: &str,
    ) -> Result<Entry, String> {
        let failed = |e: io::Error| format!("{}: {}", path.display(), error_text(&e));
        let last_modified = u64::try_from(meta.mtime()).unwrap_or(0);
        let (len, etag, body) = if meta.len() <= self.options.cache_max {
            let bytes = crate::sys::read(path).map_err(failed)?;
            (bytes.len() as u64, entity_tag(&bytes), Body::Memory(Cow::Owned(bytes)))
        } else {
            // Hashing a large file would make start-up (and reload) read the
            // whole site from an SD card; identity and mtime change whenever
            // the content does, which keeps the tag strong in practice.
            let file = crate::sys::open(path, libc::O_RDONLY).map_err(failed)?;
            let meta = file.metadata().map_err(failed)?;
            let mut identity = Vec::with_capacity(40);
            for n in [meta.len(), meta.ino(), meta.dev(), meta.mtime() as u64, meta.mtime_nsec() as u64] {
                identity.extend_from_slice(&n.to_le_bytes());
            }
            (meta.len(), entity_tag(&identity), Body::File(file))
        };
        let vary_origin = self.options.vary_origin;
        let rep = Representation {
            content_type,
            content_encoding,
            vary,
            vary_origin,
            cache_control,
            len,
            last_modified,
            etag,
        };
        Ok(Entry::new(&rep, body))
    }
}

fn warn(path: &Path, why: &str) {
    crate::ops::log::stderr_line(format_args!("mote: {}: {why}", path.display()));
}
