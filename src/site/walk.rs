//! The one definition of what under a site's root can be served: regular
//! files and directories, reached by UTF-8 names without control bytes or a
//! leading dot, inside the root after resolving symlinks, without loops.
//! The one dotted name served is `.well-known` at the root (RFC 8615), whose
//! own dotfiles stay hidden; `hidden` says the same of a request's path.
//! `_redirects` at the root holds the site's rules, and is never served.
//!
//! The catalog builds responses from this walk and `mote --check` reports
//! from it, as `build.rs` does for `static/` through the `mote-site` crate:
//! the manifest a person checks is exactly what gets served.

use std::fs::{self, Metadata};
use std::path::{Path, PathBuf};

use crate::mime;

/// How deep a site may nest; deeper directories are refused, which also ends
/// any symlink loop the ancestor check would not.
pub const MAX_DEPTH: usize = 32;

/// The one dot-directory served, at the root only: RFC 8615's well-known
/// URIs (ACME challenges, security.txt, assetlinks.json, ...).
pub const WELL_KNOWN: &[u8] = b"/.well-known";

/// The site's redirect rules, at the root: read by the server, never served.
pub const REDIRECTS: &str = "_redirects";

/// Precompressed variants, by the suffix their file adds to the original's
/// name (`app.js.gz`), and their Content-Encoding.
pub const VARIANTS: [(&str, &str); 2] = [(".gz", "gzip"), (".br", "br")];

/// A servable name in a directory.
pub struct Item {
    pub name: String,
    /// Where it really is (symlinks resolved).
    pub path: PathBuf,
    pub meta: Metadata,
}

/// Why a name is not served.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Skip {
    Dotfile,
    NotUtf8,
    ControlBytes,
    OutsideRoot,
    Dangling,
    NotRegular,
    Loop,
    /// `_redirects` at the root: rules, not content.
    Redirects,
}

impl Skip {
    pub fn reason(self) -> &'static str {
        match self {
            Skip::Dotfile => "dotfile, never served",
            Skip::NotUtf8 => "name is not UTF-8, so no URL can reach it; skipped",
            Skip::ControlBytes => "control characters in the name, so no URL can reach it; skipped",
            Skip::OutsideRoot => "symlink leads outside the root; skipped",
            Skip::Dangling => "dangling symlink; skipped",
            Skip::NotRegular => "not a regular file or directory; skipped",
            Skip::Loop => "symlink loops back to a parent directory; skipped",
            Skip::Redirects => "the site's redirect rules, never served",
        }
    }
}

/// What a walk reports, in order: a directory (with its servable items)
/// before its files, its files before its subdirectories.
pub trait Visitor {
    /// `url` is the directory's URL path without a trailing slash ("" for the root).
    fn directory(&mut self, url: &str, items: &[Item]) -> Result<(), String>;
    /// `url` is the file's URL path; `siblings` are the items beside it.
    fn file(&mut self, url: &str, item: &Item, siblings: &[Item]) -> Result<(), String>;
    fn skipped(&mut self, url: &str, path: &Path, why: Skip);
    /// Something could not be read: `Err` ends the walk, `Ok` goes on.
    fn unreadable(&mut self, message: String) -> Result<(), String>;
}

/// Walks `root` (which must be a directory) and reports to `visitor`
/// (dynamically: one copy of the walk serves both visitors).
pub fn walk(root: &Path, visitor: &mut dyn Visitor) -> Result<(), String> {
    let canonical = fs::canonicalize(root).map_err(|e| format!("{}: {}", root.display(), error_text(&e)))?;
    if !canonical.is_dir() {
        return Err(format!("{}: not a directory", root.display()));
    }
    let mut walk = Walk { root: canonical.clone(), ancestors: vec![canonical.clone()] };
    walk.directory(&canonical, "", visitor)
}

struct Walk {
    root: PathBuf,
    /// Canonical directories from the root down to the one being walked.
    ancestors: Vec<PathBuf>,
}

impl Walk {
    fn directory(&mut self, dir: &Path, url: &str, visitor: &mut dyn Visitor) -> Result<(), String> {
        if self.ancestors.len() > MAX_DEPTH {
            return visitor.unreadable(format!("{}: directories nest deeper than {MAX_DEPTH}", dir.display()));
        }
        let listing = match fs::read_dir(dir) {
            Ok(listing) => listing,
            Err(e) => return visitor.unreadable(format!("{}: {}", dir.display(), error_text(&e))),
        };
        let mut names = Vec::new();
        for entry in listing {
            match entry {
                Ok(entry) => names.push(entry.file_name()),
                Err(e) => visitor.unreadable(format!("{}: {}", dir.display(), error_text(&e)))?,
            }
        }
        names.sort_unstable(); // names in a directory are unique
        let mut items = Vec::new();
        for name in names {
            let path = dir.join(&name);
            let Some(name) = name.to_str() else {
                visitor.skipped(&format!("{url}/{}", name.to_string_lossy()), &path, Skip::NotUtf8);
                continue;
            };
            let item_url = format!("{url}/{name}");
            let skip = if hidden(item_url.as_bytes()) {
                Some(Skip::Dotfile)
            } else if url.is_empty() && name == REDIRECTS {
                Some(Skip::Redirects)
            } else if name.chars().any(char::is_control) {
                Some(Skip::ControlBytes)
            } else {
                None
            };
            if let Some(why) = skip {
                visitor.skipped(&item_url, &path, why);
                continue;
            }
            match self.resolve(&path) {
                Ok(Ok((target, meta))) => items.push(Item { name: name.to_string(), path: target, meta }),
                Ok(Err(why)) => visitor.skipped(&item_url, &path, why),
                Err(message) => visitor.unreadable(message)?,
            }
        }
        visitor.directory(url, &items)?;
        for item in items.iter().filter(|item| item.meta.is_file()) {
            visitor.file(&format!("{url}/{}", item.name), item, &items)?;
        }
        for item in items.iter().filter(|item| item.meta.is_dir()) {
            let item_url = format!("{url}/{}", item.name);
            if self.ancestors.contains(&item.path) {
                visitor.skipped(&item_url, &item.path, Skip::Loop);
                continue;
            }
            self.ancestors.push(item.path.clone());
            let result = self.directory(&item.path, &item_url, visitor);
            self.ancestors.pop();
            result?;
        }
        Ok(())
    }

    /// Resolves symlinks: the target and its metadata, or why it is skipped.
    fn resolve(&self, path: &Path) -> Result<Result<(PathBuf, Metadata), Skip>, String> {
        let failed = |e: std::io::Error| format!("{}: {}", path.display(), error_text(&e));
        let link = fs::symlink_metadata(path).map_err(failed)?;
        let target = if link.file_type().is_symlink() {
            match fs::canonicalize(path) {
                Ok(target) if target.starts_with(&self.root) => target,
                Ok(_) => return Ok(Err(Skip::OutsideRoot)),
                Err(_) => return Ok(Err(Skip::Dangling)),
            }
        } else {
            path.to_path_buf()
        };
        let meta = fs::metadata(&target).map_err(failed)?;
        if !meta.is_file() && !meta.is_dir() {
            return Ok(Err(Skip::NotRegular)); // sockets, FIFOs, devices
        }
        Ok(Ok((target, meta)))
    }
}

/// The file among `siblings` that is `name`'s variant with `suffix`
/// (`app.js.gz` for `app.js` and `.gz`).
pub fn variant<'a>(siblings: &'a [Item], name: &str, suffix: &str) -> Option<&'a Item> {
    siblings.iter().find(|sibling| sibling.meta.is_file() && sibling.name.strip_suffix(suffix) == Some(name))
}

/// Names that only precompressed variants stand for: `only.js` when
/// `only.js.gz` or `only.js.br` is a file in `items` and `only.js` is not
/// there at all (Debian's doc trees ship `changelog.html.gz` alone). Only
/// for compressible types: `release.tar.gz` alone is a tarball, not a
/// variant of a `release.tar`. Each name once, at its first variant in
/// `items`' order (the walk sorts them: `.br` before `.gz`).
pub fn orphans(items: &[Item]) -> impl Iterator<Item = &str> {
    items.iter().filter_map(move |item| {
        let name = match item.name.strip_suffix(".br") {
            Some(name) => name,
            None => item.name.strip_suffix(".gz").filter(|name| variant(items, name, ".br").is_none())?,
        };
        let alone = item.meta.is_file() && !name.is_empty() && !items.iter().any(|other| other.name == name);
        (alone && mime::compressible(mime::content_type(name.as_bytes()))).then_some(name)
    })
}

/// Whether a URL path (decoded and normalised: `/a/b`) names something never
/// served: a segment starts with a dot, other than `.well-known` at the root.
/// The walk skips such names, and requests for them are answered 404.
pub fn hidden(url_path: &[u8]) -> bool {
    let below = well_known(url_path).unwrap_or(url_path);
    below.windows(2).any(|pair| pair == b"/.")
}

/// The part of a URL path below `/.well-known` (`/security.txt`, or empty
/// for the directory itself), when it is there.
pub fn well_known(url_path: &[u8]) -> Option<&[u8]> {
    url_path.strip_prefix(WELL_KNOWN).filter(|below| below.is_empty() || below[0] == b'/')
}

/// `No such file or directory` without Rust's ` (os error 2)` suffix.
pub fn error_text(error: &std::io::Error) -> String {
    let text = error.to_string();
    match text.find(" (os error") {
        Some(at) => text[..at].to_string(),
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn orphans_are_names_only_variants_stand_for() {
        let file = fs::metadata(std::env::current_exe().unwrap()).unwrap();
        let directory = fs::metadata(std::env::temp_dir()).unwrap();
        let rows: &[(&str, bool)] = &[
            ("a.css.br", true), // with a.css.gz: one name
            ("a.css.gz", true),
            ("b.js.gz", true),
            ("c.html", true), // its original is there
            ("c.html.gz", true),
            ("d.tar.gz", true),   // a tarball, not a variant
            ("e.json.br", false), // a directory, not a variant
            ("e.json.gz", true),
            ("f.svg.br", true),
        ];
        let items: Vec<Item> = rows
            .iter()
            .map(|&(name, is_file)| Item {
                name: name.into(),
                path: PathBuf::from(name),
                meta: if is_file { file.clone() } else { directory.clone() },
            })
            .collect();
        assert_eq!(orphans(&items).collect::<Vec<_>>(), ["a.css", "b.js", "e.json", "f.svg"]);
    }

    #[test]
    fn hides_dotted_segments_but_well_known() {
        let rows: &[(&str, bool)] = &[
            ("/", false),
            ("/index.html", false),
            ("/.git/config", true),
            ("/.env", true),
            ("/a/.hidden", true),
            ("/.well-known", false), // RFC 8615 §3
            ("/.well-known/", false),
            ("/.well-known/security.txt", false),
            ("/.well-known/acme-challenge/abc_-1", false),
            ("/.well-known/.secret", true), // a dotfile inside it stays hidden
            ("/.well-known/a/.b/c", true),
            ("/.well-knownx/y", true), // only the exact name
            ("/.WELL-KNOWN/y", true),
            ("/a/.well-known/y", true), // at the root only
            ("/a.b/c..d", false),
        ];
        for &(path, want) in rows {
            assert_eq!(hidden(path.as_bytes()), want, "{path:?}");
        }
    }
}
