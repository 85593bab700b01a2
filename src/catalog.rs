//! The site as a table: URL path -> finished response parts.
//!
//! Everything a request needs is computed here once — heads, entity-tags,
//! bodies of small files — because on a Pi the CPU, not the disk, is the
//! bottleneck. Files above `--cache-max` keep only their heads and an open
//! descriptor, and are streamed with `sendfile`, so memory does not grow with
//! the size of the site. The walk of `--root` decides what is servable: only
//! regular files inside the root after resolving symlinks, no dotfiles.
#![forbid(unsafe_code)]

use std::borrow::Cow;
use std::collections::HashMap;
use std::fs::{self, File, Metadata};
use std::hash::{BuildHasherDefault, Hasher};
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::mime;
use crate::representation::{entity_tag, quoted_hex, EntityTag, Representation};
use crate::site::FILES;

/// How deep `--root` may nest; deeper directories are refused, which also
/// ends any symlink loop that the ancestor check would not.
const MAX_DEPTH: usize = 32;

pub type Bytes = Cow<'static, [u8]>;

/// One servable file.
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

pub enum Route {
    File(Arc<Entry>),
    /// A directory named without its trailing slash: 301 to the slash form.
    Directory,
}

pub struct Catalog {
    routes: HashMap<Box<[u8]>, Route, BuildHasherDefault<Fnv>>,
}

impl Catalog {
    /// The site compiled in from `static/`.
    pub fn embedded() -> Catalog {
        let mut catalog = Catalog { routes: HashMap::default() };
        for file in FILES {
            let entry = Entry {
                head_ok: Cow::Borrowed(file.head_ok),
                shared_from: file.shared_from,
                head_not_modified: Cow::Borrowed(file.head_not_modified),
                etag: file.etag,
                last_modified: file.last_modified,
                len: file.body.len() as u64,
                body: Body::Memory(Cow::Borrowed(file.body)),
            };
            catalog.add_file(file.path, entry);
        }
        catalog
    }

    /// Walks `root` and precomputes every servable file. Files larger than
    /// `cache_max` bytes are kept open instead of read.
    pub fn load(root: &Path, cache_max: u64) -> Result<Catalog, String> {
        let canonical = fs::canonicalize(root).map_err(|e| format!("--root {}: {}", root.display(), error_text(&e)))?;
        if !canonical.is_dir() {
            return Err(format!("--root {}: not a directory", root.display()));
        }
        let mut walk = Walk { root: canonical.clone(), cache_max, catalog: Catalog { routes: HashMap::default() } };
        let mut ancestors = vec![canonical.clone()];
        walk.directory(&canonical, &mut Vec::new(), &mut ancestors)?;
        Ok(walk.catalog)
    }

    pub fn lookup(&self, path: &[u8]) -> Option<&Route> {
        self.routes.get(path)
    }

    pub fn len(&self) -> usize {
        self.routes.values().filter(|route| matches!(route, Route::File(_))).count()
    }

    /// Adds a file at `url_path` (`/a/b.html`), its parent directories, and,
    /// for `index.html`, the directory's slash form.
    fn add_file(&mut self, url_path: &[u8], entry: Entry) {
        let entry = Arc::new(entry);
        let name_at = url_path.iter().rposition(|&b| b == b'/').map_or(0, |i| i + 1);
        if &url_path[name_at..] == b"index.html" {
            self.routes.insert(url_path[..name_at].into(), Route::File(entry.clone()));
        }
        for (i, _) in url_path.iter().enumerate().filter(|&(i, &b)| b == b'/' && i > 0) {
            self.add_directory(&url_path[..i]);
        }
        self.routes.insert(url_path.into(), Route::File(entry));
    }

    fn add_directory(&mut self, url_path: &[u8]) {
        self.routes.entry(url_path.into()).or_insert(Route::Directory);
    }
}

struct Walk {
    root: PathBuf,
    cache_max: u64,
    catalog: Catalog,
}

impl Walk {
    /// `url` is the URL path of `dir` without a trailing slash (empty for the root).
    fn directory(&mut self, dir: &Path, url: &mut Vec<u8>, ancestors: &mut Vec<PathBuf>) -> Result<(), String> {
        if ancestors.len() > MAX_DEPTH {
            return Err(format!("{}: directories nest deeper than {MAX_DEPTH}", dir.display()));
        }
        let listing = fs::read_dir(dir).map_err(|e| format!("{}: {}", dir.display(), error_text(&e)))?;
        let mut names = Vec::new();
        for item in listing {
            let item = item.map_err(|e| format!("{}: {}", dir.display(), error_text(&e)))?;
            names.push(item.file_name());
        }
        names.sort();
        for name in names {
            let bytes = name.as_bytes();
            if bytes.starts_with(b".") {
                continue; // dotfiles are never served
            }
            let path = dir.join(&name);
            if std::str::from_utf8(bytes).is_err() {
                warn(&path, "name is not UTF-8, so no URL can reach it; skipped");
                continue;
            }
            let Some((target, meta)) = self.resolve(&path)? else { continue };
            let url_len = url.len();
            url.push(b'/');
            url.extend_from_slice(bytes);
            if meta.is_dir() {
                if ancestors.contains(&target) {
                    warn(&path, "symlink loops back to a parent directory; skipped");
                } else {
                    self.catalog.add_directory(url);
                    ancestors.push(target.clone());
                    self.directory(&target, url, ancestors)?;
                    ancestors.pop();
                }
            } else if meta.is_file() {
                let entry = self.file(&target, &meta)?;
                self.catalog.add_file(url, entry);
            }
            url.truncate(url_len);
        }
        Ok(())
    }

    /// Resolves symlinks; `None` for what must not be served (outside the
    /// root, dangling, or neither a file nor a directory).
    fn resolve(&self, path: &Path) -> Result<Option<(PathBuf, Metadata)>, String> {
        let link = fs::symlink_metadata(path).map_err(|e| format!("{}: {}", path.display(), error_text(&e)))?;
        let target = if link.file_type().is_symlink() {
            match fs::canonicalize(path) {
                Ok(target) if target.starts_with(&self.root) => target,
                Ok(_) => {
                    warn(path, "symlink leads outside the root; skipped");
                    return Ok(None);
                }
                Err(_) => {
                    warn(path, "dangling symlink; skipped");
                    return Ok(None);
                }
            }
        } else {
            path.to_path_buf()
        };
        let meta = fs::metadata(&target).map_err(|e| format!("{}: {}", path.display(), error_text(&e)))?;
        if !meta.is_file() && !meta.is_dir() {
            return Ok(None); // sockets, FIFOs, devices
        }
        Ok(Some((target, meta)))
    }

    fn file(&self, path: &Path, meta: &Metadata) -> Result<Entry, String> {
        let failed = |e: io::Error| format!("{}: {}", path.display(), error_text(&e));
        let last_modified = u64::try_from(meta.mtime()).unwrap_or(0);
        let (len, etag, body) = if meta.len() <= self.cache_max {
            let bytes = fs::read(path).map_err(failed)?;
            (bytes.len() as u64, entity_tag(&bytes), Body::Memory(Cow::Owned(bytes)))
        } else {
            // Hashing a large file would make start-up (and reload) read the
            // whole site from an SD card; identity and mtime change whenever
            // the content does, which keeps the tag strong in practice.
            let file = File::open(path).map_err(failed)?;
            let meta = file.metadata().map_err(failed)?;
            let mut hash = Fnv::default();
            for n in [meta.len(), meta.ino(), meta.dev(), meta.mtime() as u64, meta.mtime_nsec() as u64] {
                hash.write_u64(n);
            }
            (meta.len(), quoted_hex(hash.finish()), Body::File(file))
        };
        let content_type = mime::content_type(path.file_name().map_or(&[][..], |n| n.as_bytes()));
        let heads = Representation { content_type, len, last_modified, etag }.heads();
        Ok(Entry {
            head_ok: Cow::Owned(heads.ok),
            shared_from: heads.shared_from,
            head_not_modified: Cow::Owned(heads.not_modified),
            etag,
            last_modified,
            len,
            body,
        })
    }
}

fn warn(path: &Path, why: &str) {
    eprintln!("mote: {}: {why}", path.display());
}

/// `No such file or directory` without Rust's ` (os error 2)` suffix.
pub fn error_text(error: &io::Error) -> String {
    let text = error.to_string();
    match text.find(" (os error") {
        Some(at) => text[..at].to_string(),
        None => text,
    }
}

/// FNV-1a: URL paths are short and chosen by the site's owner, so a keyed
/// hash buys nothing here and costs time on every request.
pub struct Fnv(u64);

impl Default for Fnv {
    fn default() -> Fnv {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
}

impl Hasher for Fnv {
    fn write(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.0 = (self.0 ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3);
        }
    }

    fn finish(&self) -> u64 {
        self.0
    }
}
