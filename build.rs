//! Embeds `static/` into the binary: for every file it writes the complete
//! precomputed response (200 and 304 heads, entity-tag, body by
//! `include_bytes!`) into `$OUT_DIR/site.rs`, so serving the default site
//! touches no file system at all. The heads come from the same
//! `src/representation.rs` that builds `--root` sites at start-up.

#[allow(dead_code)]
#[path = "src/date.rs"]
mod date;
#[allow(dead_code)]
#[path = "src/mime.rs"]
mod mime;
#[allow(dead_code)]
#[path = "src/representation.rs"]
mod representation;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;
use std::{env, fs};

fn main() {
    let site = Path::new("static");
    println!("cargo:rerun-if-changed=static");
    println!("cargo:rerun-if-env-changed=SOURCE_DATE_EPOCH");
    // Reproducible builds (https://reproducible-builds.org/specs/source-date-epoch/).
    let source_date: Option<u64> =
        env::var("SOURCE_DATE_EPOCH").ok().map(|v| v.trim().parse().expect("SOURCE_DATE_EPOCH is not a number"));

    let mut files = Vec::new();
    collect(site, site, &mut files);
    files.sort();

    let mut out = String::from("pub static FILES: &[EmbeddedFile] = &[\n");
    for (url_path, file) in &files {
        let body = fs::read(file).unwrap_or_else(|e| panic!("reading {}: {e}", file.display()));
        let last_modified = source_date.unwrap_or_else(|| modified_secs(file));
        let rep = representation::Representation {
            content_type: mime::content_type(url_path.as_bytes()),
            len: body.len() as u64,
            last_modified,
            etag: representation::entity_tag(&body),
        };
        let heads = rep.heads();
        let absolute = fs::canonicalize(file).expect("canonical path of a static file");
        writeln!(
            out,
            "    EmbeddedFile {{ path: b\"{}\", head_ok: b\"{}\", shared_from: {}, head_not_modified: b\"{}\", \
             etag: *b\"{}\", last_modified: {}, body: include_bytes!({:?}) }},",
            url_path.as_bytes().escape_ascii(),
            heads.ok.escape_ascii(),
            heads.shared_from,
            heads.not_modified.escape_ascii(),
            rep.etag.escape_ascii(),
            last_modified,
            absolute,
        )
        .unwrap();
    }
    out.push_str("];\n");
    let dest = PathBuf::from(env::var("OUT_DIR").unwrap()).join("site.rs");
    fs::write(dest, out).unwrap();
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
