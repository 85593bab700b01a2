//! Embeds `static/` into the binary: for every file it writes the complete
//! precomputed response parts (200 and 304 heads, entity-tag, body by
//! `include_bytes!`) into `$OUT_DIR/site.rs`, with gzip and brotli variants
//! made here when they save at least 10%, so serving the default site
//! touches no file system and compresses nothing at run time. The heads come
//! from the same `src/representation.rs` that builds `--root` sites.

#[allow(dead_code)]
#[path = "src/cache.rs"]
mod cache;
#[allow(dead_code)]
#[path = "src/check.rs"]
mod check;
#[allow(dead_code)]
#[path = "src/date.rs"]
mod date;
#[allow(dead_code)]
#[path = "src/mime.rs"]
mod mime;
#[allow(dead_code)]
#[path = "src/representation.rs"]
mod representation;
#[allow(dead_code)]
#[path = "src/walk.rs"]
mod walk;

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
    println!("cargo:rerun-if-env-changed=SOURCE_DATE_EPOCH");
    // Reproducible builds (https://reproducible-builds.org/specs/source-date-epoch/).
    let source_date: Option<u64> =
        env::var("SOURCE_DATE_EPOCH").ok().map(|v| v.trim().parse().expect("SOURCE_DATE_EPOCH is not a number"));
    let out_dir = PathBuf::from(env::var("OUT_DIR").unwrap());

    // The same lint `mote --check` runs, so a problem shows at build time.
    let report = check::check(site, &[], false);
    for finding in report.warnings.iter().chain(&report.errors) {
        println!("cargo:warning=static/: {finding}");
    }
    let mut files = Vec::new();
    collect(site, site, &mut files);
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
        let cache_control = cache::for_file(&[], url_path, content_type);
        let variant = |bytes: &[u8], coding: Option<&str>, name: &str| -> String {
            let rep = representation::Representation {
                content_type,
                content_encoding: coding,
                vary,
                cache_control,
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
    // clock.rs); derived from the files, not the build's own clock, so the
    // binary stays reproducible.
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

/// Every regular file under `dir`, as (URL path, file path); dotfiles are
/// skipped exactly as `--root` skips them.
fn collect(root: &Path, dir: &Path, files: &mut Vec<(String, PathBuf)>) {
    let entries = fs::read_dir(dir).unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()));
    for entry in entries {
        let entry = entry.unwrap();
        let name = entry.file_name();
        let name = name.to_str().unwrap_or_else(|| panic!("non-UTF-8 name in {}", dir.display()));
        if name.starts_with('.') {
            continue;
        }
        let path = entry.path();
        if path.is_dir() {
            collect(root, &path, files);
        } else if path.is_file() {
            let relative = path.strip_prefix(root).unwrap().to_str().unwrap().replace('\\', "/");
            files.push((format!("/{relative}"), path));
        }
    }
}

fn modified_secs(file: &Path) -> u64 {
    let modified = fs::metadata(file).and_then(|m| m.modified()).expect("mtime of a static file");
    modified.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}
