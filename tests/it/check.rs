//! `mote --check`: the manifest and findings a person reads before a deploy,
//! and that the manifest is exactly what the server serves.

use crate::common::*;

fn lint(root: &std::path::Path) -> (i32, String) {
    let (status, out, err) = run_to_exit(&["--check", "--root", root.to_str().unwrap()]);
    (status.code().unwrap_or(-1), format!("{out}{err}"))
}

#[test]
fn manifest_and_warnings_for_a_real_site() {
    let dir = TempDir::new("check");
    dir.write("index.html", "<!doctype html><p>hi");
    dir.write("app.3f9a2c1b.js", "x".repeat(5000));
    dir.write("style.css", "y".repeat(3000));
    dir.write("style.css.gz", "z".repeat(4000)); // bigger than its original
    dir.write("notes.weird", "?");
    dir.write(".env", "SECRET=1");
    dir.write("sub/page.html", "<p>page");
    dir.symlink("/etc/hostname", "outside");
    let (code, text) = lint(dir.path());
    assert_eq!(code, 0, "{text}");
    for line in [
        "/index.html\t20\ttext/html; charset=utf-8\t-\tno-cache",
        "/app.3f9a2c1b.js\t5000\ttext/javascript; charset=utf-8\t-\tmax-age=31536000, immutable",
        "/style.css\t3000\ttext/css; charset=utf-8\tgzip\tmax-age=3600",
        "/sub/page.html\t7\ttext/html; charset=utf-8\t-\tno-cache",
        "warning: /app.3f9a2c1b.js: 5000 bytes of text/javascript; charset=utf-8 with no .gz or .br beside it",
        "warning: /style.css.gz: not smaller than /style.css",
        "warning: /notes.weird: unknown type",
        "warning: /.env: dotfile, never served",
        "warning: /outside: symlink leads outside the root",
        "0 errors",
    ] {
        assert!(text.contains(line), "missing {line:?} in:\n{text}");
    }
    assert!(!text.contains("no index.html"), "{text}");
}

#[test]
fn the_manifest_is_what_is_served() {
    let dir = TempDir::new("check-served");
    dir.write("index.html", "<p>home");
    dir.write("a/b.txt", "b");
    dir.write("a/.hidden", "h");
    dir.symlink("/etc/hostname", "a/out");
    dir.symlink("../a", "a/loop");
    let (code, text) = lint(dir.path());
    assert_eq!(code, 0, "{text}");
    let server = Server::start(&["--root", dir.path().to_str().unwrap()]);
    let listed: Vec<&str> =
        text.lines().filter(|l| l.starts_with('/')).map(|l| l.split('\t').next().unwrap()).collect();
    assert!(listed.contains(&"/a/b.txt") && listed.contains(&"/index.html"), "{text}");
    for path in &listed {
        server.get(path).assert_status(200);
    }
    for skipped in ["/a/.hidden", "/a/out", "/a/loop/b.txt"] {
        assert!(!listed.contains(&skipped), "{skipped} listed:\n{text}");
        server.get(skipped).assert_status(404);
    }
}

#[test]
fn missing_root_is_an_error() {
    let (code, text) = lint(std::path::Path::new("/nonexistent/mote-check-root"));
    assert_eq!(code, 1, "{text}");
    assert!(text.contains("error: /nonexistent/mote-check-root"), "{text}");
}

#[test]
fn missing_index_is_a_warning() {
    let dir = TempDir::new("check-noindex");
    dir.write("page.html", "<p>");
    let (code, text) = lint(dir.path());
    assert_eq!(code, 0);
    assert!(text.contains("warning: no index.html at the root"), "{text}");
}

#[test]
fn built_in_site_manifest() {
    let (status, out, _) = run_to_exit(&["--check"]);
    assert!(status.success());
    assert!(out.contains("/index.html\t") && out.contains("gzip,br") && out.contains("files (built in)"), "{out}");
}

/// Given the --auth it serves with, the cache column says what credentials
/// get: `private`.
#[test]
fn the_manifest_follows_auth() {
    let dir = TempDir::new("check-auth");
    dir.write("index.html", "<p>home");
    dir.write("style.css", "body{}");
    let root = dir.path().to_str().unwrap();
    let (status, out, err) = run_to_exit(&["--check", "--root", root, "--auth", "pi:raspberry"]);
    assert!(status.success(), "{err}");
    assert!(out.contains("/index.html\t7\ttext/html; charset=utf-8\t-\tprivate, no-cache\n"), "{out}");
    assert!(out.contains("/style.css\t6\ttext/css; charset=utf-8\t-\tprivate, max-age=3600\n"), "{out}");
    let (status, out, err) = run_to_exit(&["--check", "--auth", "pi:raspberry"]);
    assert!(status.success(), "{err}");
    assert!(out.contains("\tprivate, no-cache\n") && !out.contains("\tno-cache\n"), "{out}");
}

/// `n` bytes as `mote --check` prints a size: one decimal, rounded.
fn size(n: u64) -> String {
    if n < 1024 {
        return format!("{n} bytes");
    }
    let (mut unit, mut scale) = (0, 1024);
    while unit < 2 && n / scale >= 1024 {
        unit += 1;
        scale <<= 10;
    }
    let tenths = (n * 10 + scale / 2) / scale;
    format!("{}.{} {}", tenths / 10, tenths % 10, ["KiB", "MiB", "GiB"][unit])
}

/// A page of `n`-specific HTML, well over 1 KiB and compressible.
fn page(n: usize) -> String {
    (0..60)
        .map(|i| format!("<p class=\"row-{i}\">page {n}, paragraph {i}: {}</p>\n", "lorem ipsum ".repeat(n % 5 + 1)))
        .collect()
}

/// A finding seen often is one line (with what fixing it takes), a rare one
/// stays a line of its own, errors come first, and every finding is still
/// counted.
#[test]
fn repeated_findings_become_one_summary_line() {
    let dir = TempDir::new("check-summary");
    dir.write("index.html", "<p>home");
    let mut pages = Vec::new();
    for n in 0..12 {
        pages.push(dir.write(&format!("docs/page{n:02}.html"), page(n)));
    }
    for n in 0..5 {
        dir.write(&format!("data/blob{n}.weird"), "?");
    }
    dir.symlink("/etc/hostname", "outside");
    let deep = (0..40).map(|_| "d").collect::<Vec<_>>().join("/");
    dir.write(&format!("{deep}/x.txt"), "deep");

    let (code, text) = lint(dir.path());
    assert_eq!(code, 1, "an error still exits 1:\n{text}");
    let first = |needle: &str| text.find(needle).unwrap_or_else(|| panic!("no {needle:?} in:\n{text}"));
    assert!(first("error: ") < first("warning: "), "errors first:\n{text}");
    assert!(text.contains("directories nest deeper than 32"), "{text}");
    assert!(!text.contains("bytes of text/html"), "one line per page:\n{text}");
    assert!(text.contains("warning: /outside: symlink leads outside the root; skipped\n"), "{text}");
    assert!(
        text.contains(
            "warning: unknown type, served as application/octet-stream: 5 paths (5 bytes), like \
             /data/blob0.weird, /data/blob1.weird, /data/blob2.weird, ... (--check -v lists them)\n"
        ),
        "{text}"
    );
    let total: u64 = pages.iter().map(|p| std::fs::metadata(p).unwrap().len()).sum();
    let lines: Vec<&str> = text.lines().collect();
    let at = lines.iter().position(|l| l.contains("with no .gz or .br beside it")).expect(&text);
    assert_eq!(
        lines[at],
        format!(
            "warning: text over 1 KiB with no .gz or .br beside it: 12 paths ({}), like /docs/page00.html, \
             /docs/page01.html, /docs/page02.html, ... (--check -v lists them)",
            size(total)
        )
    );
    assert!(text.ends_with("18 files, 18 warnings, 1 errors\n"), "every finding is counted:\n{text}");

    // The command it gives makes the variants, and the warning goes away.
    let command = lines[at + 1].strip_prefix("  make them with: ").expect(&text);
    assert!(command.starts_with("find /") && command.contains("-name '*.html'"), "{command}");
    if tool_missing("gzip") || tool_missing("brotli") {
        return;
    }
    let ran = std::process::Command::new("sh").arg("-c").arg(command).output().expect("sh");
    assert!(ran.status.success(), "{command}: {}", String::from_utf8_lossy(&ran.stderr));
    let (_, after) = lint(dir.path());
    assert!(!after.contains("no .gz or .br"), "{after}");
    for page in 0..12 {
        assert!(after.contains(&format!("/docs/page{page:02}.html\t")), "{after}");
    }
    assert_eq!(after.matches("\ttext/html; charset=utf-8\tgzip,br\t").count(), 12, "{after}");
}

/// The root of the command is where `find` can walk: a root given through a
/// symlink (as Debian's doc trees are) is resolved, and an odd name quoted.
#[test]
fn the_command_names_the_root_find_can_walk() {
    let dir = TempDir::new("check-command");
    for n in 0..4 {
        dir.write(&format!("it's here/p{n}.css"), "p { color: red }\n".repeat(100));
    }
    dir.symlink("it's here", "link");
    let (code, text) = lint(&dir.path().join("link"));
    assert_eq!(code, 0, "{text}");
    let real = std::fs::canonicalize(dir.path().join("it's here")).unwrap();
    let quoted = format!("'{}'", real.to_str().unwrap().replace('\'', "'\\''"));
    let want = format!(
        "  make them with: find {quoted} -type f \\( -name '*.css' \\) -size +1k -exec gzip -9k {{}} + \
         -exec brotli -k {{}} +\n"
    );
    assert!(text.contains(&want), "want {want:?} in:\n{text}");
}

#[test]
fn verbose_lists_every_finding() {
    let dir = TempDir::new("check-verbose");
    dir.write("index.html", "<p>home");
    for n in 0..6 {
        dir.write(&format!("blob{n}.weird"), "?");
        dir.write(&format!("page{n}.html"), page(n));
    }
    let (status, out, err) = run_to_exit(&["--check", "-v", "--root", dir.path().to_str().unwrap()]);
    assert!(status.success(), "{out}{err}");
    for n in 0..6 {
        assert!(
            out.contains(&format!("warning: /blob{n}.weird: unknown type, served as application/octet-stream\n")),
            "{out}"
        );
        assert!(out.contains(&format!("warning: /page{n}.html: ")), "{out}");
    }
    assert!(!out.contains("lists them") && !out.contains("make them with"), "{out}");
    assert!(out.ends_with("13 files, 12 warnings, 0 errors\n"), "{out}");
    let (status, _, err) = run_to_exit(&["-v", "--root", dir.path().to_str().unwrap()]);
    assert_eq!(status.code(), Some(2), "-v without --check is a usage error");
    assert!(err.contains("--verbose goes with --check"), "{err}");
}
