//! `mote --check`: lints a site before it is deployed and prints its
//! manifest — every file with its size, type, precompressed variants and
//! cache rule — then errors for what stops it being served at all (exit
//! status 1), warnings for what would surprise its owner once served, and
//! notes on what is served by rules of its own (`/.well-known/`, variants
//! without their original).
//!
//! A real site has a thousand of some findings (HTML with nothing
//! precompressed beside it) and two of others (a symlink out of the root);
//! one line each would bury the two. So a kind of finding seen more than
//! `RARE` times is one summary line, with what fixing it takes, and
//! `--check -v` (`verbose`) lists every one.
//!
//! It walks the site with the same `walk.rs` the catalog is built from, so
//! the manifest is exactly what is served. `build.rs` runs it too, through
//! the `mote-site` crate, on `static/` at build time.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};

use crate::cache::{self, Audience, Rule};
use crate::compression::{self, Uncompressed};
use crate::mime;
use crate::walk::{self, error_text, walk, Item, Skip, Visitor};

/// Compressible files above this size deserve a `.gz` / `.br` beside them
/// (what `find -size +1k` selects).
const WORTH_COMPRESSING: u64 = 1024;
/// A kind of finding seen more often than this is summarised in one line.
const RARE: usize = 3;
/// How many of a summarised kind's paths its line names.
const EXAMPLES: usize = 3;
/// The compression estimate runs each tool on at most this many files and
/// bytes: a second or so of gzip, and of brotli, whose best setting is slow.
const GZIP_SAMPLE: (usize, u64) = (64, 4 << 20);
const BROTLI_SAMPLE: (usize, u64) = (16, 1 << 20);

/// The kind of the findings for files worth compressing: summarised with
/// what a pass of gzip and brotli would save.
const UNCOMPRESSED: &str = "text with no .gz or .br beside it";
const ORPHAN: &str = "are on disk only precompressed: served to clients that accept their coding, 404 to others";

/// One warning or note.
pub struct Finding {
    /// What kind of finding it is, in the words its summary uses.
    pub kind: &'static str,
    /// Where: a URL path.
    pub url: String,
    /// The line that says it of this one.
    pub line: String,
}

#[derive(Default)]
pub struct Report {
    /// One line per servable file.
    pub manifest: Vec<String>,
    pub errors: Vec<String>,
    pub warnings: Vec<Finding>,
    /// Neither good nor bad: what is served by rules of its own.
    pub notes: Vec<Finding>,
    /// The files behind the `UNCOMPRESSED` warnings, for the estimate.
    uncompressed: Vec<Uncompressed>,
    /// The root as the walk resolved it, for the command a summary gives.
    root: Option<PathBuf>,
}

impl Report {
    /// The report as printed: with `verbose`, every finding on its own line.
    pub fn render(&self, verbose: bool) -> String {
        let mut out = String::new();
        for line in &self.manifest {
            let _ = writeln!(out, "{line}");
        }
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

    /// Rare kinds one line per finding, in the order found; then one line
    /// for each frequent kind.
    fn render_findings(&self, out: &mut String, label: &str, findings: &[Finding], verbose: bool) {
        let mut kinds: Vec<&str> = Vec::new();
        for finding in findings {
            if !kinds.contains(&finding.kind) {
                kinds.push(finding.kind);
            }
        }
        let of_kind = |kind: &'static str| findings.iter().filter(move |f| f.kind == kind);
        let frequent: Vec<&str> = kinds.into_iter().filter(|kind| !verbose && of_kind(kind).count() > RARE).collect();
        for finding in findings.iter().filter(|f| !frequent.contains(&f.kind)) {
            let _ = writeln!(out, "{label}: {}", finding.line);
        }
        for kind in frequent {
            let urls: Vec<&str> = of_kind(kind).map(|f| f.url.as_str()).collect();
            if kind == UNCOMPRESSED {
                self.render_uncompressed(out, label);
                continue;
            }
            let examples = urls[..EXAMPLES].join(", ");
            let _ = writeln!(out, "{label}: {} paths {kind}: {examples}, ... (--check -v lists them)", urls.len());
        }
    }

    /// The files worth compressing: how many, how big, what gzip and
    /// brotli would save, and the command that makes their variants, on
    /// two indented lines after the finding's.
    fn render_uncompressed(&self, out: &mut String, label: &str) {
        let files = &self.uncompressed;
        let total: u64 = files.iter().map(|file| file.len).sum();
        let size = compression::human(total);
        let _ =
            writeln!(out, "{label}: {} files of text over 1 KiB ({size}) with no .gz or .br beside them", files.len());
        let tools =
            [("gzip -9", "gzip", &["-9", "-c"][..], GZIP_SAMPLE), ("brotli", "brotli", &["-c"][..], BROTLI_SAMPLE)];
        let mut savings = Vec::new();
        for (name, program, args, (max_files, budget)) in tools {
            savings.push(match compression::saving(program, args, files, max_files, budget) {
                Some(saving) => {
                    let share = saving.saved as f64 * 100.0 / total.max(1) as f64;
                    let how = if saving.all {
                        "measured on all of them".to_string()
                    } else {
                        format!("estimated from {} of them", saving.sampled)
                    };
                    format!("{name} would save {} ({share:.0}%, {how})", compression::human(saving.saved))
                }
                None => format!("{program} not found: no estimate"),
            });
        }
        let root = self.root.as_deref().map_or_else(|| ".".to_string(), |root| shell_word(&root.to_string_lossy()));
        let _ = writeln!(out, "  {}; to make them:", savings.join(", "));
        let _ = writeln!(
            out,
            "  find {root} -type f \\( {} \\) -size +1k -exec gzip -9k {{}} + -exec brotli -k {{}} +",
            self.patterns()
        );
    }

    /// `-name '*.html' -o -name '*.css' ...` for the files worth compressing.
    fn patterns(&self) -> String {
        let names: BTreeSet<String> = self
            .uncompressed
            .iter()
            .filter_map(|file| file.path.file_name())
            .map(|name| {
                let name = name.to_string_lossy();
                match name.rsplit_once('.') {
                    Some((stem, extension)) if !stem.is_empty() => format!("*.{extension}"),
                    _ => name.into_owned(),
                }
            })
            .collect();
        names.iter().map(|name| format!("-name {}", shell_word(name))).collect::<Vec<_>>().join(" -o ")
    }
}

/// `word` as one word for a POSIX shell: quoted unless plainly safe.
fn shell_word(word: &str) -> String {
    if !word.is_empty() && word.bytes().all(|b| b.is_ascii_alphanumeric() || b"/._-+,:@%".contains(&b)) {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', "'\\''"))
    }
}

/// `variants_on_disk`: whether `.gz`/`.br` files are expected beside large
/// text files (not for `static/`, whose variants build.rs makes).
pub fn check(root: &Path, rules: &[Rule], audience: Audience, variants_on_disk: bool) -> Report {
    let mut lint =
        Lint { rules, audience, variants_on_disk, report: Report::default(), well_known: Vec::new(), challenges: 0 };
    lint.report.root = fs::canonicalize(root).ok();
    if let Err(why) = walk(root, &mut lint) {
        lint.report.errors.push(why);
    }
    if !lint.well_known.is_empty() || lint.challenges > 0 {
        let mut held = lint.well_known.join(", ");
        if lint.challenges > 0 {
            let s = if lint.challenges == 1 { "" } else { "s" };
            let comma = if held.is_empty() { "" } else { ", " };
            let _ = write!(held, "{comma}acme-challenge/ ({} file{s})", lint.challenges);
        }
        let line = format!("/.well-known/ holds {held}");
        lint.report.notes.push(Finding { kind: "well-known", url: "/.well-known/".into(), line });
    }
    lint.report
}

struct Lint<'a> {
    rules: &'a [Rule],
    audience: Audience,
    variants_on_disk: bool,
    report: Report,
    /// Files under `/.well-known/` (but ACME challenges, only counted).
    well_known: Vec<String>,
    challenges: usize,
}

impl Visitor for Lint<'_> {
    fn directory(&mut self, url: &str, items: &[Item]) -> Result<(), String> {
        if url.is_empty() && !items.iter().any(|item| item.name == "index.html" && item.meta.is_file()) {
            let line = "no index.html at the root: / will be 404".to_string();
            self.report.warnings.push(Finding { kind: "no index.html at the root", url: "/".into(), line });
        }
        for name in walk::orphans(items) {
            let found: Vec<(&str, &str)> = walk::VARIANTS
                .iter()
                .filter_map(|&(suffix, coding)| walk::variant(items, name, suffix).map(|v| (v.name.as_str(), coding)))
                .collect();
            let files: Vec<&str> = found.iter().map(|&(file, _)| file).collect();
            let codings: Vec<&str> = found.iter().map(|&(_, coding)| coding).collect();
            let line = format!(
                "{url}/{name}: only {} on disk: served to clients that accept {}, 404 to others",
                files.join(" and "),
                codings.join(" or ")
            );
            self.report.notes.push(Finding { kind: ORPHAN, url: format!("{url}/{name}"), line });
        }
        Ok(())
    }

    fn file(&mut self, url: &str, item: &Item, siblings: &[Item]) -> Result<(), String> {
        if let Err(e) = fs::File::open(&item.path) {
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
                let line = format!("{url}{suffix}: not smaller than {url}; clients get the bigger file");
                self.warn("are variants not smaller than their original", format!("{url}{suffix}"), line);
            }
            if let (Ok(v), Ok(o)) = (variant.meta.modified(), meta.modified()) {
                if v < o {
                    let line = format!("{url}{suffix}: older than {url}; is it stale?");
                    self.warn("are variants older than their original", format!("{url}{suffix}"), line);
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
            let line = format!("{url}: unknown type, served as {}", mime::FALLBACK);
            self.warn("have an unknown type, served as application/octet-stream", url.into(), line);
        }
        if self.variants_on_disk
            && variants.is_empty()
            && meta.len() > WORTH_COMPRESSING
            && mime::compressible(content_type)
        {
            let line = format!("{url}: {} bytes of {content_type} with no .gz or .br beside it", meta.len());
            self.warn(UNCOMPRESSED, url.into(), line);
            self.report.uncompressed.push(Uncompressed { path: item.path.clone(), len: meta.len() });
        }
        let cache_control = cache::for_file(self.rules, url, content_type, self.audience);
        self.report.manifest.push(manifest_line(url, meta.len(), content_type, &variants, &cache_control));
        Ok(())
    }

    fn skipped(&mut self, url: &str, _path: &Path, why: Skip) {
        self.warn(why.kind(), url.into(), format!("{url}: {}", why.reason()));
    }

    fn unreadable(&mut self, message: String) -> Result<(), String> {
        self.report.errors.push(message);
        Ok(())
    }
}

impl Lint<'_> {
    fn warn(&mut self, kind: &'static str, url: String, line: String) {
        self.report.warnings.push(Finding { kind, url, line });
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
        let report = check(&root, &[], Audience::Anyone, true);
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
        assert!(check(Path::new("/nonexistent-mote-root"), &[], Audience::Anyone, true).errors[0]
            .contains("/nonexistent-mote-root"));
    }
}
