//! Embeds `static/` into the binary: for every file it writes the complete
//! precomputed response parts (200 and 304 heads, entity-tag, body by
//! `include_bytes!`) into `$OUT_DIR/site.rs`, with gzip and brotli variants
//! made here when they save at least 10%, so serving the default site
//! touches no file system and compresses nothing at run time. Which files
//! are served and how their heads read come from the `mote-site` crate
//! (`src/site/`), the same code that builds `--root` sites.

use mote_site::walk::{self, Item, Skip};
use mote_site::{cache, check, mime, representation};
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;
use std::{env, fs};

/// A variant is kept only if it is at most this share of the original.
const KEEP_RATIO: f64 = 0.9;

fn main() {
    let site = Path::new("static");
    println!("cargo:rerun-if-changed=static");
    println!("cargo:rerun-if-changed=src/site");
    println!("cargo:rerun-if-env-changed=SOURCE_DATE_EPOCH");
    // Reproducible builds (https://reproducible-builds.org/specs/source-date-epoch/).
    let source_date: Option<u64> =
        env::var("SOURCE_DATE_EPOCH").ok().map(|v| v.trim().parse().expect("SOURCE_DATE_EPOCH is not a number"));
    let out_dir = PathBuf::from(env::var("OUT_DIR").unwrap());

    // The same lint `mote --check` runs, so a problem shows at build time.
    let types = mime::Types::default();
    let report = check::check(site, &[], cache::Audience::Anyone, &types, false, |path| std::fs::File::open(path));
    let findings = report.warnings.iter().map(|warning| &warning.line).chain(&report.errors);
    for finding in findings {
        println!("cargo:warning=static/: {finding}");
    }
    let mut files = Files::default();
    walk::walk(site, &mut files).unwrap_or_else(|e| panic!("static/: {e}"));
    let mut files = files.0;
    files.sort();

    let mut newest = 0;
    let mut out = String::from("pub static FILES: &[EmbeddedFile] = &[\n");
    for (index, (url_path, file)) in files.iter().enumerate() {
        let body = fs::read(file).unwrap_or_else(|e| panic!("reading {}: {e}", file.display()));
        let last_modified = source_date.unwrap_or_else(|| modified_secs(file));
        newest = newest.max(last_modified);
        let content_type = mime::content_type(url_path.as_bytes());
        let gzip = keep(&body, gzip(&body));
        let br = keep(&body, brotli(&body));
        let vary = gzip.is_some() || br.is_some();
        let cache_control = cache::for_file(&[], url_path, content_type, cache::Audience::Anyone);
        let variant = |bytes: &[u8], coding: Option<&str>, name: &str| -> String {
            let rep = representation::Representation {
                content_type,
                content_encoding: coding,
                vary,
                vary_origin: false,
                cache_control: &cache_control,
                len: bytes.len() as u64,
                last_modified,
                etag: representation::entity_tag(bytes),
            };
            let heads = rep.heads();
            let path = out_dir.join(format!("{index}.{name}"));
            fs::File::create(&path).and_then(|mut f| f.write_all(bytes)).expect("writing a variant");
            format!(
                "EmbeddedBody {{ head_ok: b\"{}\", shared_from: {}, head_not_modified: b\"{}\", etag: *b\"{}\", \
                 bytes: include_bytes!({:?}) }}",
                heads.ok.escape_ascii(),
                heads.shared_from,
                heads.not_modified.escape_ascii(),
                rep.etag.escape_ascii(),
                path,
            )
        };
        let identity = variant(&body, None, "identity");
        let gzip = gzip.map_or("None".to_string(), |bytes| format!("Some({})", variant(&bytes, Some("gzip"), "gz")));
        let br = br.map_or("None".to_string(), |bytes| format!("Some({})", variant(&bytes, Some("br"), "br")));
        writeln!(
            out,
            "    EmbeddedFile {{ path: b\"{}\", content_type: {content_type:?}, last_modified: {last_modified}, \
             identity: {identity}, gzip: {gzip}, br: {br} }},",
            url_path.as_bytes().escape_ascii(),
        )
        .unwrap();
    }
    out.push_str("];\n");
    // A clock earlier than the newest file built in cannot be right (see
    // src/net/clock.rs); derived from the files, not the build's own clock,
    // so the binary stays reproducible.
    writeln!(out, "pub const BUILD_TIME: u64 = {};", source_date.unwrap_or(0).max(newest)).unwrap();
    fs::write(out_dir.join("site.rs"), out).unwrap();
}

fn keep(original: &[u8], compressed: Vec<u8>) -> Option<Vec<u8>> {
    (!original.is_empty() && (compressed.len() as f64) <= original.len() as f64 * KEEP_RATIO).then_some(compressed)
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    // No file name or time in the header, so builds are reproducible.
    let mut encoder = flate2::GzBuilder::new().mtime(0).write(Vec::new(), flate2::Compression::best());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

fn brotli(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let params = brotli::enc::BrotliEncoderParams { quality: 11, lgwin: 22, ..Default::default() };
    brotli::BrotliCompress(&mut &bytes[..], &mut out, &params).unwrap();
    out
}

/// Every file `walk` serves under `static/`, as (URL path, file path):
/// exactly what `--root static` would serve.
#[derive(Default)]
struct Files(Vec<(String, PathBuf)>);

impl walk::Visitor for Files {
    fn directory(&mut self, _url: &str, _items: &[Item]) -> Result<(), String> {
        Ok(())
    }
    fn file(&mut self, url: &str, item: &Item, _siblings: &[Item]) -> Result<(), String> {
        self.0.push((url.to_string(), item.path.clone()));
        Ok(())
    }
    fn skipped(&mut self, _url: &str, _path: &Path, _why: Skip) {}
    fn unreadable(&mut self, message: String) -> Result<(), String> {
        Err(message)
    }
}

fn modified_secs(file: &Path) -> u64 {
    let modified = fs::metadata(file).and_then(|m| m.modified()).expect("mtime of a static file");
    modified.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}
