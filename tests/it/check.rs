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
