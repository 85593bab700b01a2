//! `mote --check`: lints a site before it is deployed and prints its
//! manifest — every file with its size, type, precompressed variants and
//! cache rule — then warnings for what would surprise its owner once served,
//! errors for what stops it being served at all (exit status 1), and notes
//! on what is served by rules of its own (what `/.well-known/` holds, and
//! variants without their original).
//!
//! It walks the site with the same `walk.rs` the catalog is built from, so
//! the manifest is exactly what is served. `build.rs` runs it too, through
//! the `mote-site` crate, on `static/` at build time.

use std::fmt::Write as _;
use std::fs::File;
use std::io;
use std::path::Path;

use crate::cache::{self, Audience, Rule};
use crate::mime;
use crate::walk::{self, error_text, walk, Item, Skip, Visitor};

/// Compressible files at least this big deserve a `.gz` / `.br` beside them.
const WORTH_COMPRESSING: u64 = 1024;

#[derive(Default)]
pub struct Report {
    /// One line per servable file.
    pub manifest: Vec<String>,
    pub warnings: Vec<String>,
    pub errors: Vec<String>,
    /// Lines that are neither: what is served by rules of its own.
    pub notes: Vec<String>,
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
        for note in &self.notes {
            let _ = writeln!(out, "note: {note}");
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

/// How the check opens a file to see that it can be read: `File::open` at
/// build time; the server passes its own, which spares its binary std's
/// `OpenOptions` (see its `sys/file.rs`).
pub type Open = fn(&Path) -> io::Result<File>;

/// `variants_on_disk`: whether `.gz`/`.br` files are expected beside large
/// text files (not for `static/`, whose variants build.rs makes).
pub fn check(root: &Path, rules: &[Rule], audience: Audience, variants_on_disk: bool, open: Open) -> Report {
    let mut lint = Lint {
        rules,
        audience,
        variants_on_disk,
        open,
        report: Report::default(),
        well_known: Vec::new(),
        challenges: 0,
    };
    if let Err(why) = walk(root, &mut lint) {
        lint.report.errors.push(why);
    }
    if !lint.well_known.is_empty() || lint.challenges > 0 {
        let mut held = lint.well_known.join(", ");
        if lint.challenges > 0 {
            let s = if lint.challenges == 1 { "" } else { "s" };
            let _ = write!(
                held,
                "{}acme-challenge/ ({} file{s})",
                if held.is_empty() { "" } else { ", " },
                lint.challenges
            );
        }
        lint.report.notes.push(format!("/.well-known/ holds {held}"));
    }
    lint.report
}

struct Lint<'a> {
    rules: &'a [Rule],
    audience: Audience,
    variants_on_disk: bool,
    open: Open,
    report: Report,
    /// Files under `/.well-known/` (but ACME challenges, only counted).
    well_known: Vec<String>,
    challenges: usize,
}

impl Visitor for Lint<'_> {
    fn directory(&mut self, url: &str, items: &[Item]) -> Result<(), String> {
        if url.is_empty() && !items.iter().any(|item| item.name == "index.html" && item.meta.is_file()) {
            self.report.warnings.push("no index.html at the root: / will be 404".into());
        }
        for name in walk::orphans(items) {
            let (files, codings) = match walk::variant(items, name, ".gz") {
                Some(_) if walk::variant(items, name, ".br").is_some() => {
                    (format!("{name}.gz and {name}.br"), "gzip or br")
                }
                Some(_) => (format!("{name}.gz"), "gzip"),
                None => (format!("{name}.br"), "br"),
            };
            self.report.notes.push(format!(
                "{url}/{name}: only {files} on disk: served to clients that accept {codings}, 404 to others"
            ));
        }
        Ok(())
    }

    fn file(&mut self, url: &str, item: &Item, siblings: &[Item]) -> Result<(), String> {
        if let Err(e) = (self.open)(&item.path) {
            self.report.errors.push(format!("{}: {}", item.path.display(), error_text(&e)));
            return Ok(());
        }
        let meta = &item.meta;
        let content_type = mime::content_type(item.name.as_bytes());
        let mut variants = Vec::new();
        for (suffix, coding) in walk::VARIANTS {
            let Some(variant) = walk::variant(siblings, &item.name, suffix) else {
                continue;
            };
            variants.push(coding);
            if variant.meta.len() >= meta.len() {
                self.report
                    .warnings
                    .push(format!("{url}{suffix}: not smaller than {url}; clients get the bigger file"));
            }
            if let (Ok(v), Ok(o)) = (variant.meta.modified(), meta.modified()) {
                if v < o {
                    self.report.warnings.push(format!("{url}{suffix}: older than {url}; is it stale?"));
                }
            }
        }
        let below_well_known = walk::well_known(url.as_bytes()).map(|below| String::from_utf8_lossy(&below[1..]));
        // Challenges come and go, and are right as application/octet-stream.
        let challenge = below_well_known.as_ref().is_some_and(|below| below.starts_with("acme-challenge/"));
        match below_well_known {
            Some(_) if challenge => self.challenges += 1,
            Some(below) => self.well_known.push(below.into_owned()),
            None => {}
        }
        if mime::known_type(item.name.as_bytes()).is_none() && !challenge {
            self.report.warnings.push(format!("{url}: unknown type, served as {}", mime::FALLBACK));
        }
        if self.variants_on_disk
            && variants.is_empty()
            && meta.len() >= WORTH_COMPRESSING
            && mime::compressible(content_type)
        {
            self.report
                .warnings
                .push(format!("{url}: {} bytes of {content_type} with no .gz or .br beside it", meta.len()));
        }
        let cache_control = cache::for_file(self.rules, url, content_type, self.audience);
        self.report.manifest.push(manifest_line(url, meta.len(), content_type, &variants, &cache_control));
        Ok(())
    }

    fn skipped(&mut self, url: &str, _path: &Path, why: Skip) {
        self.report.warnings.push(format!("{url}: {}", why.reason()));
    }

    fn unreadable(&mut self, message: String) -> Result<(), String> {
        self.report.errors.push(message);
        Ok(())
    }
}

/// One manifest row: URL, bytes, type, variants, Cache-Control (`-` for none).
pub fn manifest_line(url: &str, len: u64, content_type: &str, variants: &[&str], cache_control: &str) -> String {
    let variants = if variants.is_empty() { "-".to_string() } else { variants.join(",") };
    let cache_control = if cache_control.is_empty() { "-" } else { cache_control };
    format!("{url}\t{len}\t{content_type}\t{variants}\t{cache_control}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

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
        let report = check(&root, &[], Audience::Anyone, true, |path| File::open(path));
        let text = report.render();
        fs::remove_dir_all(&root).unwrap();
        let expect = [
            "warning: no index.html at the root",
            "warning: /app.js: 4000 bytes of text/javascript; charset=utf-8 with no .gz or .br",
            "warning: /style.css.gz: not smaller than /style.css",
            "warning: /data.weird: unknown type",
            "warning: /.env: dotfile, never served",
            "warning: /escape: symlink leads outside the root",
            "/style.css\t4000\ttext/css; charset=utf-8\tgzip\tmax-age=3600",
            "/sub/index.html\t3\ttext/html; charset=utf-8\t-\tno-cache",
        ];
        for line in expect {
            assert!(text.contains(line), "missing {line:?} in\n{text}");
        }
        assert!(report.errors.is_empty(), "{text}");
        assert!(check(Path::new("/nonexistent-mote-root"), &[], Audience::Anyone, true, |path| File::open(path))
            .errors[0]
            .contains("/nonexistent-mote-root"));
    }
}
