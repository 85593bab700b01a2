//! `mote --check`: lints a site before it is deployed and prints its
//! manifest — every file with its size, type, precompressed variants and
//! cache rule — then errors for what stops it being served at all (exit
//! status 1), warnings for what would surprise its owner once served, and
//! notes on what is served by rules of its own (what `/.well-known/` holds,
//! and variants without their original).
//!
//! A real site has a thousand of some findings (HTML with nothing
//! precompressed beside it) and two of others (a symlink out of the root);
//! a line each would bury the two. So a kind of finding seen more than
//! `RARE` times is one summary line, with what fixing it takes, and
//! `--check -v` (`verbose`) lists every one.
//!
//! It walks the site with the same `walk.rs` the catalog is built from, so
//! the manifest is exactly what is served. `build.rs` runs it too, through
//! the `mote-site` crate, on `static/` at build time.

use std::fmt::Write as _;
use std::fs::{self, File};
use std::io;
use std::path::Path;

use crate::cache::{self, Audience, Rule};
use crate::mime::{self, Types};
use crate::walk::{self, error_text, walk, Item, Skip, Visitor};

/// Compressible files above this size deserve a `.gz` / `.br` beside them
/// (what `find -size +1k` selects).
const WORTH_COMPRESSING: u64 = 1024;
/// A kind of finding seen more often than this is summarised in one line.
const RARE: usize = 3;
/// How many of a summarised kind's paths its line names.
const EXAMPLES: usize = 3;

/// The kind of finding whose summary gives the command that fixes it.
const UNCOMPRESSED: &str = "text over 1 KiB with no .gz or .br beside it";
/// A file of no known type, served as `mime::FALLBACK`.
const UNKNOWN_TYPE: &str = "unknown type, served as application/octet-stream";

/// One warning or note.
pub struct Finding {
    /// What kind of finding it is, in the words its summary line uses.
    pub kind: &'static str,
    /// Where: a URL path.
    pub url: String,
    /// The line that says it of this one.
    pub line: String,
    /// The size of the file it is about (0 when it is about no file's
    /// content), summed in the summary line.
    pub bytes: u64,
}

#[derive(Default)]
pub struct Report {
    /// One line per servable file.
    pub manifest: Vec<String>,
    pub errors: Vec<String>,
    pub warnings: Vec<Finding>,
    /// Neither good nor bad: what is served by rules of its own.
    pub notes: Vec<Finding>,
    /// The root, for the command a summary gives.
    root: String,
    /// The type table the files were typed by (`Types::table`).
    types: String,
}

impl Report {
    /// The report as printed: with `verbose`, every finding on its own line.
    pub fn render(&self, verbose: bool) -> String {
        let mut out = String::new();
        for line in &self.manifest {
            let _ = writeln!(out, "{line}");
        }
        out.push_str(&self.types);
        for error in &self.errors {
            let _ = writeln!(out, "error: {error}");
        }
        self.render_findings(&mut out, "warning", &self.warnings, verbose);
        self.render_findings(&mut out, "note", &self.notes, verbose);
        let _ = writeln!(
            out,
            "{} files, {} warnings, {} errors",
            self.manifest.len(),
            self.warnings.len(),
            self.errors.len()
        );
        out
    }

    /// Rare kinds one line per finding, in the order found; then a line for
    /// each frequent kind, in the order first found. Kinds are counted in
    /// one pass: a site has a handful of them and maybe a hundred thousand
    /// findings.
    fn render_findings(&self, out: &mut String, label: &str, findings: &[Finding], verbose: bool) {
        // Each kind, how often it was found, and the bytes of its files.
        let mut kinds: Vec<(&str, usize, u64)> = Vec::new();
        for finding in findings {
            match kinds.iter_mut().find(|(kind, ..)| *kind == finding.kind) {
                Some((_, count, bytes)) => (*count, *bytes) = (*count + 1, *bytes + finding.bytes),
                None => kinds.push((finding.kind, 1, finding.bytes)),
            }
        }
        let frequent = |kind: &str| !verbose && kinds.iter().any(|&(k, count, _)| k == kind && count > RARE);
        for finding in findings.iter().filter(|finding| !frequent(finding.kind)) {
            let _ = writeln!(out, "{label}: {}", finding.line);
        }
        for &(kind, count, bytes) in kinds.iter().filter(|(kind, ..)| frequent(kind)) {
            let _ = write!(out, "{label}: {kind}: {count} paths");
            if bytes > 0 {
                out.push_str(" (");
                push_size(out, bytes);
                out.push(')');
            }
            out.push_str(", like");
            let of_kind = || findings.iter().filter(move |finding| finding.kind == kind);
            for finding in of_kind().take(EXAMPLES) {
                out.push(' ');
                out.push_str(&finding.url);
                out.push(',');
            }
            out.push_str(" ... (--check -v lists them)\n");
            if kind == UNCOMPRESSED {
                // A compressible type comes from a known extension: letters
                // and digits, safe between single quotes.
                let mut extensions: Vec<&str> = Vec::new();
                for file in of_kind() {
                    let extension = file.url.rsplit_once('.').map_or("", |(_, extension)| extension);
                    if !extensions.contains(&extension) {
                        extensions.push(extension);
                    }
                }
                out.push_str("  make them with: find ");
                push_shell_word(out, &self.root);
                out.push_str(" -type f \\(");
                for (i, extension) in extensions.iter().enumerate() {
                    out.push_str(if i == 0 { " -name '*." } else { " -o -name '*." });
                    out.push_str(extension);
                    out.push('\'');
                }
                out.push_str(" \\) -size +1k -exec gzip -9k {} + -exec brotli -k {} +\n");
            }
        }
    }
}

/// `62.5 MiB`: a size as a person reads it, one decimal, in integers.
fn push_size(out: &mut String, bytes: u64) {
    if bytes < 1024 {
        let _ = write!(out, "{bytes} bytes");
        return;
    }
    let (mut unit, mut scale) = (0, 1024);
    while unit < 2 && bytes / scale >= 1024 {
        unit += 1;
        scale <<= 10;
    }
    let tenths = bytes / scale * 10 + (bytes % scale * 10 + scale / 2) / scale;
    let _ = write!(out, "{}.{} {}", tenths / 10, tenths % 10, ["KiB", "MiB", "GiB"][unit]);
}

/// `word` as one word for a POSIX shell: quoted unless plainly safe.
fn push_shell_word(out: &mut String, word: &str) {
    if !word.is_empty() && word.bytes().all(|b| b.is_ascii_alphanumeric() || b"/._-+,:@%".contains(&b)) {
        out.push_str(word);
        return;
    }
    out.push('\'');
    for (i, part) in word.split('\'').enumerate() {
        out.push_str(if i == 0 { "" } else { "'\\''" });
        out.push_str(part);
    }
    out.push('\'');
}

/// How the check opens a file to see that it can be read: `File::open` at
/// build time; the server passes its own, which spares its binary std's
/// `OpenOptions` (see its `sys/file.rs`).
pub type Open = fn(&Path) -> io::Result<File>;

/// `variants_on_disk`: whether `.gz`/`.br` files are expected beside large
/// text files (not for `static/`, whose variants build.rs makes).
pub fn check(
    root: &Path,
    rules: &[Rule],
    audience: Audience,
    types: &Types,
    variants_on_disk: bool,
    open: Open,
) -> Report {
    let mut lint = Lint {
        rules,
        audience,
        types,
        variants_on_disk,
        open,
        report: Report::default(),
        well_known: Vec::new(),
        challenges: 0,
    };
    if let Err(why) = walk(root, &mut lint) {
        lint.report.errors.push(why);
    }
    // Resolved as the walk resolves it: `find` does not enter a root that is
    // a symlink (Debian's doc trees are).
    lint.report.root = fs::canonicalize(root).unwrap_or_default().to_string_lossy().into_owned();
    lint.report.types = types.table();
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
        let line = format!("/.well-known/ holds {held}");
        lint.report.notes.push(Finding { kind: "well-known", url: "/.well-known/".into(), line, bytes: 0 });
    }
    lint.report
}

struct Lint<'a> {
    rules: &'a [Rule],
    audience: Audience,
    types: &'a Types,
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
            let kind = "no index.html at the root: / will be 404";
            self.report.warnings.push(Finding { kind, url: "/".into(), line: kind.into(), bytes: 0 });
        }
        for name in walk::orphans(items) {
            let (files, codings) = match walk::variant(items, name, ".gz") {
                Some(_) if walk::variant(items, name, ".br").is_some() => {
                    (format!("{name}.gz and {name}.br"), "gzip or br")
                }
                Some(_) => (format!("{name}.gz"), "gzip"),
                None => (format!("{name}.br"), "br"),
            };
            let line =
                format!("{url}/{name}: only {files} on disk: served to clients that accept {codings}, 404 to others");
            let kind = "only a .gz or .br on disk: served to clients that accept it, 404 to others";
            self.report.notes.push(Finding { kind, url: format!("{url}/{name}"), line, bytes: 0 });
        }
        Ok(())
    }

    fn file(&mut self, url: &str, item: &Item, siblings: &[Item]) -> Result<(), String> {
        if let Err(e) = (self.open)(&item.path) {
            self.report.errors.push(format!("{}: {}", item.path.display(), error_text(&e)));
            return Ok(());
        }
        let meta = &item.meta;
        let content_type = self.types.content_type(item.name.as_bytes());
        let mut variants = Vec::new();
        for (suffix, coding) in walk::VARIANTS {
            let Some(variant) = walk::variant(siblings, &item.name, suffix) else {
                continue;
            };
            variants.push(coding);
            let bytes = variant.meta.len();
            if bytes >= meta.len() {
                let line = format!("{url}{suffix}: not smaller than {url}; clients get the bigger file");
                self.warn("variant not smaller than its original", format!("{url}{suffix}"), line, bytes);
            }
            if let (Ok(v), Ok(o)) = (variant.meta.modified(), meta.modified()) {
                if v < o {
                    let line = format!("{url}{suffix}: older than {url}; is it stale?");
                    self.warn("variant older than its original", format!("{url}{suffix}"), line, bytes);
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
        if self.types.known_type(item.name.as_bytes()).is_none() && !challenge {
            self.warn(UNKNOWN_TYPE, url.into(), format!("{url}: {UNKNOWN_TYPE}"), meta.len());
        }
        if self.variants_on_disk
            && variants.is_empty()
            && meta.len() > WORTH_COMPRESSING
            && mime::compressible(content_type)
        {
            let line = format!("{url}: {} bytes of {content_type} with no .gz or .br beside it", meta.len());
            self.warn(UNCOMPRESSED, url.into(), line, meta.len());
        }
        let cache_control = cache::for_file(self.rules, url, content_type, self.audience);
        self.report.manifest.push(manifest_line(url, meta.len(), content_type, &variants, &cache_control));
        Ok(())
    }

    fn skipped(&mut self, url: &str, _path: &Path, why: Skip) {
        if why == Skip::Redirects {
            return; // the server's --check lists the rules themselves
        }
        self.warn(why.reason(), url.into(), format!("{url}: {}", why.reason()), 0);
    }

    fn unreadable(&mut self, message: String) -> Result<(), String> {
        self.report.errors.push(message);
        Ok(())
    }
}

impl Lint<'_> {
    fn warn(&mut self, kind: &'static str, url: String, line: String, bytes: u64) {
        self.report.warnings.push(Finding { kind, url, line, bytes });
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

    #[test]
    fn sizes_read_as_a_person_reads_them() {
        let rows: &[(u64, &str)] = &[
            (0, "0 bytes"),
            (1023, "1023 bytes"),
            (1024, "1.0 KiB"),
            (1536, "1.5 KiB"),
            (1587, "1.5 KiB"), // 1.5498...
            (1588, "1.6 KiB"), // 1.5508...
            (65_536_000, "62.5 MiB"),
            (3 << 30, "3.0 GiB"),
            (5 << 40, "5120.0 GiB"),
        ];
        for &(bytes, want) in rows {
            let mut out = String::new();
            push_size(&mut out, bytes);
            assert_eq!(out, want, "{bytes}");
        }
        assert!(UNKNOWN_TYPE.ends_with(mime::FALLBACK));
    }

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
        let report = check(&root, &[], Audience::Anyone, &Types::default(), true, |path| File::open(path));
        let text = report.render(true);
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
        let nowhere = Path::new("/nonexistent-mote-root");
        assert!(check(nowhere, &[], Audience::Anyone, &Types::default(), true, |path| File::open(path)).errors[0]
            .contains("/nonexistent-mote-root"));
    }
}
