//! The default site, compiled into the binary from `static/` by `build.rs`.
//!
//! Each file arrives here as its finished response parts, so the embedded site
//! costs no file-system access and no start-up work beyond building the route
//! table that points at these bytes.
#![forbid(unsafe_code)]

use mote_site::representation::EntityTag;

/// One file of `static/`, with the precompressed variants build.rs kept
/// (each only when it saves at least 10%).
pub struct EmbeddedFile {
    pub path: &'static [u8],
    pub content_type: &'static str,
    pub last_modified: u64,
    pub identity: EmbeddedBody,
    pub gzip: Option<EmbeddedBody>,
    pub br: Option<EmbeddedBody>,
}

/// One representation with the heads build.rs precomputed for it.
pub struct EmbeddedBody {
    pub head_ok: &'static [u8],
    pub shared_from: usize,
    pub head_not_modified: &'static [u8],
    pub etag: EntityTag,
    pub bytes: &'static [u8],
}

include!(concat!(env!("OUT_DIR"), "/site.rs"));

/// The built-in site in `--check`'s manifest format, typed by `types`.
pub fn manifest(
    rules: &[mote_site::cache::Rule],
    audience: mote_site::cache::Audience,
    types: &mote_site::mime::Types,
) -> String {
    let mut out = String::new();
    for file in FILES {
        let url = std::str::from_utf8(file.path).unwrap_or("?");
        let variants: Vec<&str> = [("gzip", file.gzip.is_some()), ("br", file.br.is_some())]
            .iter()
            .filter_map(|&(name, present)| present.then_some(name))
            .collect();
        let content_type = types.content_type(file.path);
        let cache_control = mote_site::cache::for_file(rules, url, content_type, audience);
        let len = file.identity.bytes.len() as u64;
        out.push_str(&mote_site::check::manifest_line(url, len, content_type, &variants, &cache_control));
        out.push('\n');
    }
    out.push_str(&types.table());
    out.push_str(&format!("{} files (built in), 0 warnings, 0 errors\n", FILES.len()));
    out
}
