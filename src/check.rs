//! `mote --check`: lints a site before it is deployed and prints its
//! manifest — every file with its size, type, precompressed variants and
//! cache rule — then warnings for what would surprise its owner once served,
//! and errors for what stops it being served at all (exit status 1).
//!
//! Shared with `build.rs` (through `#[path]`), which runs it on `static/` and
//! shows its warnings at build time; so it walks the directory itself, with
//! std only, instead of going through the catalog.
#![forbid(unsafe_code)]

use std::fmt::Write as _;
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use crate::cache::{self, Rule};
use crate::mime;

/// Compressible files at least this big deserve a `.gz` / `.br` beside them.
const WORTH_COMPRESSING: u64 = 1024;
const MAX_DEPTH: usize = 32;

#[derive(Default)]
pub struct Report {
    /// One line per servable file.
    pub manifest: Vec<String>,
    pub warnings: Vec<String>,
    pub errors: Vec<String>,
}

impl Report {
    pub fn render(&self) -> String {
        let mut out = String::new();
        for line in &self.manifest {
            let _ = writeln!(out, "{line}");
        }
        for warning in &self.warnings {
            let _ = writeln!(out, "warning: {warning}");
        }
        for error in &self.errors {
            let _ = writeln!(out, "error: {error}");
        }
        let _ = writeln!(
            out,
            "{} files, {} warnings, {} errors",
            self.manifest.len(),
            self.warnings.len(),
            self.errors.len()
        );
        out
    }
}

/// `variants_on_disk`: whether `.gz`/`.br` files are expected beside large
/// text files (not for `static/`, whose variants build.rs makes).
pub fn check(root: &Path, rules: &[Rule], variants_on_disk: bool) -> Report {
    let mut report = Report::default();
    let canonical = match fs::canonicalize(root) {
        Ok(path) if path.is_dir() => path,
        Ok(_) => {
            report.errors.push(format!("{}: not a directory", root.display()));
            return report;
        }
        Err(e) => {
            report.errors.push(format!("{}: {e}", root.display()));
            return report;
        }
    };
    if !canonical.join("index.html").is_file() {
        report.warnings.push("no index.html at the root: / will be 404".into());
    }
    let mut walk = Walk { root: canonical.clone(), rules, variants_on_disk, report };
    walk.directory(&canonical, "", &mut vec![canonical.clone()]);
    walk.report
}

struct Walk<'a> {
    root: PathBuf,
    rules: &'a [Rule],
    variants_on_disk: bool,
    report: Report,
}

impl Walk<'_> {
    /// `ancestors` are the canonical directories above and including `dir`.
    fn directory(&mut self, dir: &Path, url: &str, ancestors: &mut Vec<PathBuf>) {
        if ancestors.len() > MAX_DEPTH {
            self.report.errors.push(format!("{}: nested deeper than {MAX_DEPTH} directories", dir.display()));
            return;
        }
        let mut names: Vec<_> = match fs::read_dir(dir) {
            Ok(listing) => listing.filter_map(Result::ok).map(|entry| entry.file_name()).collect(),
            Err(e) => {
                self.report.errors.push(format!("{}: {e}", dir.display()));
                return;
            }
        };
        names.sort_unstable(); // names in a directory are unique
        for name in &names {
            let path = dir.join(name);
            let Some(text) = name.to_str() else {
                self.report.warnings.push(format!("{}: name is not UTF-8, no URL can reach it", path.display()));
                continue;
            };
            if text.bytes().any(|b| b < 0x20 || b == 0x7f) {
                self.report
                    .warnings
                    .push(format!("{}: control characters in the name, no URL can reach it", path.display()));
                continue;
            }
            if text.starts_with('.') {
                self.report.warnings.push(format!("{url}/{text}: dotfile, never served"));
                continue;
            }
            let link = fs::symlink_metadata(&path);
            if link.as_ref().is_ok_and(|meta| meta.file_type().is_symlink()) {
                match fs::canonicalize(&path) {
                    Ok(target) if !target.starts_with(&self.root) => {
                        self.report.warnings.push(format!("{url}/{text}: symlink leaves the root, not served"));
                        continue;
                    }
                    Err(_) => {
                        self.report.warnings.push(format!("{url}/{text}: dangling symlink, not served"));
                        continue;
                    }
                    Ok(_) => {}
                }
            }
            let child_url = format!("{url}/{text}");
            match fs::metadata(&path) {
                Ok(meta) if meta.is_dir() => {
                    let canonical = fs::canonicalize(&path).unwrap_or(path.clone());
                    if ancestors.contains(&canonical) {
                        self.report.warnings.push(format!("{child_url}: symlink loops back to a parent, skipped"));
                    } else {
                        ancestors.push(canonical);
                        self.directory(&path, &child_url, ancestors);
                        ancestors.pop();
                    }
                }
                Ok(meta) if meta.is_file() => self.file(&path, &child_url, &meta, &names),
                Ok(_) => self.report.warnings.push(format!("{child_url}: not a regular file, not served")),
                Err(e) => self.report.errors.push(format!("{}: {e}", path.display())),
            }
        }
    }

    fn file(&mut self, path: &Path, url: &str, meta: &fs::Metadata, siblings: &[std::ffi::OsString]) {
        if let Err(e) = fs::File::open(path) {
            self.report.errors.push(format!("{}: {e}", path.display()));
            return;
        }
        let name = path.file_name().map_or(&[][..], |n| n.as_bytes());
        let content_type = mime::content_type(name);
        let mut variants = Vec::new();
        for (suffix, coding) in [(".gz", "gzip"), (".br", "br")] {
            let mut variant = name.to_vec();
            variant.extend_from_slice(suffix.as_bytes());
            if !siblings.iter().any(|s| s.as_bytes() == variant) {
                continue;
            }
            variants.push(coding);
            let Ok(variant_meta) = fs::metadata(path.with_file_name(std::ffi::OsStr::from_bytes(&variant))) else {
                continue;
            };
            if variant_meta.len() >= meta.len() {
                self.report
                    .warnings
                    .push(format!("{url}{suffix}: not smaller than {url}; clients get the bigger file"));
            }
            if let (Ok(v), Ok(o)) = (variant_meta.modified(), meta.modified()) {
                if v < o {
                    self.report.warnings.push(format!("{url}{suffix}: older than {url}; is it stale?"));
                }
            }
        }
        if mime::known_type(name).is_none() {
            self.report.warnings.push(format!("{url}: unknown type, served as {}", mime::FALLBACK));
        }
        if self.variants_on_disk && variants.is_empty() && meta.len() >= WORTH_COMPRESSING && compressible(content_type)
        {
            self.report
                .warnings
                .push(format!("{url}: {} bytes of {content_type} with no .gz or .br beside it", meta.len()));
        }
        let cache_control = cache::for_file(self.rules, url, content_type);
        let variants = if variants.is_empty() { "-".to_string() } else { variants.join(",") };
        let cache_control = if cache_control.is_empty() { "-" } else { cache_control };
        self.report.manifest.push(format!("{url}\t{}\t{content_type}\t{variants}\t{cache_control}", meta.len()));
    }
}

fn compressible(content_type: &str) -> bool {
    content_type.starts_with("text/")
        || ["json", "javascript", "xml", "svg", "wasm"].iter().any(|kind| content_type.contains(kind))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_what_would_surprise() {
        let root = std::env::temp_dir().join(format!("mote-check-{}", std::process::id()));
        let _ = fs::remove_dir_all(&root);
        fs::create_dir_all(root.join("sub")).unwrap();
        fs::write(root.join("app.js"), "x".repeat(4000)).unwrap();
        fs::write(root.join("style.css"), "y".repeat(4000)).unwrap();
        fs::write(root.join("style.css.gz"), "z".repeat(5000)).unwrap();
        fs::write(root.join("data.weird"), "w").unwrap();
        fs::write(root.join(".env"), "secret").unwrap();
        fs::write(root.join("sub/index.html"), "<p>").unwrap();
        std::os::unix::fs::symlink("/etc/hostname", root.join("escape")).unwrap();
        let report = check(&root, &[], true);
        let text = report.render();
        fs::remove_dir_all(&root).unwrap();
        let expect = [
            "warning: no index.html at the root",
            "warning: /app.js: 4000 bytes of text/javascript; charset=utf-8 with no .gz or .br",
            "warning: /style.css.gz: not smaller than /style.css",
            "warning: /data.weird: unknown type",
            "warning: /.env: dotfile, never served",
            "warning: /escape: symlink leaves the root",
            "/style.css\t4000\ttext/css; charset=utf-8\tgzip\tpublic, max-age=3600",
            "/sub/index.html\t3\ttext/html; charset=utf-8\t-\tno-cache",
        ];
        for line in expect {
            assert!(text.contains(line), "missing {line:?} in\n{text}");
        }
        assert!(report.errors.is_empty(), "{text}");
        assert!(check(Path::new("/nonexistent-mote-root"), &[], true).errors[0].contains("/nonexistent-mote-root"));
    }
}
