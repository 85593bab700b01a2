//! ACME HTTP-01 challenges (RFC 8555 §8.3), read from disk when asked for.
//!
//! The rest of the site is read at start-up and on SIGHUP, but an ACME client
//! in webroot mode (certbot, lego, acme.sh, uacme) writes
//! `.well-known/acme-challenge/TOKEN` under the root and has the CA fetch it
//! at once, with no hook in between that could reload mote. So a token the
//! catalog does not hold is looked for on disk when it is asked for: only a
//! name of the token alphabet (base64url), only a regular file inside the
//! root after resolving symlinks (the walk's rule), at most `MAX_BYTES`. The
//! route never remembers such an answer, so a token written or removed a
//! moment later is seen at once. Every other path still costs no file-system
//! access.
#![forbid(unsafe_code)]

use std::borrow::Cow;
use std::fs;
use std::io::Read;
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;

use crate::catalog::{Body, Entry};
use mote_site::cache::{self, Rule};
use mote_site::mime;
use mote_site::representation::{entity_tag, Representation};

/// Where challenges live, below the root.
pub const PREFIX: &str = "/.well-known/acme-challenge/";
/// A key authorization is a token, a dot and a key thumbprint: under 200
/// bytes. Anything much bigger is not one, and is not read per request.
const MAX_BYTES: u64 = 4096;
/// RFC 8555 §8.3 tokens carry at least 128 bits (22 characters); a longer
/// name than a file system allows is no token.
const MAX_TOKEN: usize = 255;

/// The token a path (decoded and normalised) asks for, when it is a
/// challenge's: `PREFIX`, then one name of the base64url alphabet (RFC 8555
/// §8.3: no dots, no slashes, nothing to decode).
pub fn token(path: &[u8]) -> Option<&str> {
    let token = path.strip_prefix(PREFIX.as_bytes())?;
    let base64url = |b: &u8| b.is_ascii_alphanumeric() || *b == b'-' || *b == b'_';
    if token.is_empty() || token.len() > MAX_TOKEN || !token.iter().all(base64url) {
        return None;
    }
    std::str::from_utf8(token).ok()
}

/// What reading a challenge needs from the site's load.
pub struct Challenges {
    /// The root, canonical: a token must resolve to a file inside it.
    root: PathBuf,
    cache_rules: Vec<Rule>,
    /// As every file's heads say (`Options::vary_origin`).
    vary_origin: bool,
}

impl Challenges {
    pub fn new(root: PathBuf, cache_rules: &[Rule], vary_origin: bool) -> Challenges {
        Challenges { root, cache_rules: cache_rules.to_vec(), vary_origin }
    }

    /// The file for `token` as it is on disk now, with heads built as the
    /// load builds every file's; None when there is none to serve.
    pub fn read(&self, token: &str) -> Option<Entry> {
        let path = fs::canonicalize(self.root.join(&PREFIX[1..]).join(token)).ok()?;
        if !path.starts_with(&self.root) {
            return None;
        }
        // The path is canonical, so a symlink now is one swapped in since:
        // not followed. A FIFO must not stall the worker: no blocking open.
        let file = crate::sys::open(&path, libc::O_RDONLY | libc::O_NOFOLLOW | libc::O_NONBLOCK).ok()?;
        let meta = file.metadata().ok()?;
        if !meta.is_file() || meta.len() > MAX_BYTES {
            return None;
        }
        let mut bytes = Vec::with_capacity(meta.len() as usize);
        file.take(MAX_BYTES + 1).read_to_end(&mut bytes).ok()?;
        if bytes.len() as u64 > MAX_BYTES {
            return None; // grew while read
        }
        let content_type = mime::content_type(token.as_bytes());
        let url = format!("{PREFIX}{token}");
        // Served without credentials even under --auth (a CA has none), so
        // it is a response to anyone.
        let cache_control = cache::for_file(&self.cache_rules, &url, content_type, cache::Audience::Anyone);
        let rep = Representation {
            content_type,
            content_encoding: None,
            vary: false,
            vary_origin: self.vary_origin,
            cache_control: &cache_control,
            len: bytes.len() as u64,
            last_modified: u64::try_from(meta.mtime()).unwrap_or(0),
            etag: entity_tag(&bytes),
        };
        Some(Entry::new(&rep, Body::Memory(Cow::Owned(bytes))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_base64url_names() {
        let long = format!("/.well-known/acme-challenge/{}", "a".repeat(MAX_TOKEN + 1));
        let rows: &[(&str, Option<&str>)] = &[
            (
                "/.well-known/acme-challenge/LoqXcYV8q5ONbJQxbmR7SCTNo3tiAXDfowyjxAjEuX0",
                Some("LoqXcYV8q5ONbJQxbmR7SCTNo3tiAXDfowyjxAjEuX0"),
            ),
            ("/.well-known/acme-challenge/a-b_c", Some("a-b_c")),
            ("/.well-known/acme-challenge/", None),
            ("/.well-known/acme-challenge/a.txt", None), // RFC 8555 §8.3: base64url only
            ("/.well-known/acme-challenge/a/b", None),
            ("/.well-known/acme-challenge/a%2fb", None),
            ("/.well-known/acme-challenge/a=", None), // no padding
            ("/.well-known/security.txt", None),
            ("/acme-challenge/abc", None),
            (&long, None),
        ];
        for &(path, want) in rows {
            assert_eq!(token(path.as_bytes()), want, "{path:?}");
        }
    }
}
