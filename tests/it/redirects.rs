//! A site's `_redirects` (Netlify's format): each status, splats and
//! placeholders, the query passed on, forced rules before files and the
//! others after, rewrites and 404 rules, lines skipped with their number,
//! and a file that cannot be read refusing the site (at start) or keeping
//! the old one (at SIGHUP).

use crate::common::*;
use std::process::Command;
use std::time::{Duration, Instant};

const RULES: &str = "\
# moved pages
/old              /new
/temp             /elsewhere 302
/see              /other 303
/keep-method      /kept 307
/perm             /permanent 308
/news/*           /blog/:splat
/articles/:year/:slug  /posts/:year-:slug.html 301
/away/*           https://other.example/x/:splat 302
/shop/:id         /store?item=:id
# rewrites and 404s
/app/*            /app.html 200
/loop             /loop 200
/about-us         /about 200
/en/*             /en/404.html 404
# a file shadowed only by a forced rule
/style.css        /never.css
/index.html       /forced-away 301!
/page.html        /page-moved 302
/bad              /b 500
";

fn site() -> Site {
    let s = Site::empty();
    s.write("index.html", INDEX_HTML);
    s.write("style.css", STYLE_CSS);
    s.write("page.html", "PAGE\n");
    s.write("app.html", "APP-SHELL\n");
    s.write("about/index.html", "ABOUT\n");
    s.write("en/404.html", "EN-NOT-FOUND\n");
    s.write("_redirects", RULES);
    s
}

#[test]
fn each_status_answers_with_its_location() {
    let site = site();
    let server = site.serve(&[]);
    let rows: &[(&str, u16, &str)] = &[
        ("/old", 301, "/new"),
        ("/old/", 301, "/new"), // a trailing slash matches alike, as on Netlify
        ("/temp", 302, "/elsewhere"),
        ("/see", 303, "/other"),
        ("/keep-method", 307, "/kept"),
        ("/perm", 308, "/permanent"),
        ("/news/2024/05/title", 301, "/blog/2024/05/title"),
        ("/articles/2024/hello", 301, "/posts/2024-hello.html"),
        ("/away/a/b", 302, "https://other.example/x/a/b"),
        ("/shop/42", 301, "/store?item=42"),
        // The query is passed on, joined to TO's own.
        ("/old?utm=1&x=%20", 301, "/new?utm=1&x=%20"),
        ("/away/a?q=1", 302, "https://other.example/x/a?q=1"),
        ("/shop/42?ref=mail", 301, "/store?item=42&ref=mail"),
        // A capture that must be encoded in a header.
        ("/news/caf%C3%A9%20au%20lait", 301, "/blog/caf%C3%A9%20au%20lait"),
        // Forced: before the file that exists.
        ("/index.html", 301, "/forced-away"),
    ];
    for &(target, status, location) in rows {
        let r = server.get(target);
        r.assert_status(status).assert_header("location", location).assert_header("content-length", "0");
        r.assert_header("x-content-type-options", "nosniff");
        assert!(r.body.is_empty(), "{target}");
    }
    // HEAD: the same head.
    let r = server.request(req("HEAD", "/old", &[]));
    r.assert_status(301).assert_header("location", "/new");
    // A matched redirect is remembered like a file: the same bytes again.
    let (first, again) = (server.request(get("/temp")), server.request(get("/temp")));
    assert_eq!((first.status, first.header("location")), (again.status, again.header("location")));
}

#[test]
fn unforced_rules_come_after_the_files() {
    let site = site();
    let server = site.serve(&[]);
    // The files are there: the rules for them wait.
    assert_eq!(server.get("/style.css").assert_status(200).text(), STYLE_CSS);
    assert_eq!(server.get("/page.html").assert_status(200).text(), "PAGE\n");
    // The directory /about wins over nothing; /about-us is rewritten to it.
    server.get("/about").assert_status(301).assert_header("location", "/about/");
    assert_eq!(server.get("/about-us").assert_status(200).text(), "ABOUT\n");
    // The root's index.html itself is the forced rule's, / is still the file.
    assert_eq!(server.get("/").assert_status(200).text(), INDEX_HTML);
}

#[test]
fn rewrites_serve_the_destination_and_404_rules_its_body() {
    let site = site();
    let server = site.serve(&[]);
    let shell = server.get("/app.html");
    let r = server.get("/app/some/route?tab=2");
    r.assert_status(200).assert_header("etag", shell.must("etag"));
    assert_eq!(r.text(), "APP-SHELL\n");
    // It revalidates as the destination does.
    let tag = shell.must("etag").to_string();
    server.request(req("GET", "/app/x", &[&format!("If-None-Match: {tag}")])).assert_status(304);
    // One pass: a rewrite to itself is looked up, not matched again.
    server.get("/loop").assert_status(404);
    // A 404 rule: the page's body, status 404.
    let r = server.get("/en/missing/page");
    r.assert_status(404).assert_header("content-type", "text/html; charset=utf-8");
    assert_eq!(r.text(), "EN-NOT-FOUND\n");
    let r = server.request(req("HEAD", "/en/missing", &[]));
    r.assert_status(404).assert_header("content-length", "13");
    assert!(r.body.is_empty());
    // The file itself is never served, and a line with a bad status is not a rule.
    server.get("/_redirects").assert_status(404);
    server.get("/bad").assert_status(404);
    // The 404 rule's page is typed as the site types it (--mime).
    let server = site.serve(&["--mime", "html=text/html; charset=iso-8859-1"]);
    let r = server.get("/en/missing/page");
    r.assert_status(404).assert_header("content-type", "text/html; charset=iso-8859-1");
}

#[test]
fn order_forced_file_rules_spa_404_rule_404_page() {
    let s = Site::empty();
    s.write("index.html", INDEX_HTML);
    s.write("404.html", "SITE-404\n");
    s.write("real.html", "REAL\n");
    s.write("_redirects", "/real.html /gone 301\n/missing /index.html 200\n/* /real.html 404\n");
    let server = s.serve(&["--spa"]);
    assert_eq!(server.get("/real.html").assert_status(200).text(), "REAL\n"); // the file before the rule
    assert_eq!(server.get("/missing").assert_status(200).text(), INDEX_HTML); // the rule before --spa
    assert_eq!(server.get("/route").assert_status(200).text(), INDEX_HTML); // --spa before a 404 rule
    assert_eq!(server.get("/x.png").assert_status(404).text(), "REAL\n"); // a 404 rule before 404.html
    let plain = s.serve(&[]);
    assert_eq!(plain.get("/route").assert_status(404).text(), "REAL\n");
}

#[test]
fn bad_lines_are_named_and_skipped_and_check_fails() {
    let site = site();
    let server = site.serve(&[]);
    server.get("/old").assert_status(301);
    let err = server.stderr();
    assert!(
        err.contains("_redirects:20: a status other than 200, 301, 302, 303, 307, 308 or 404; line skipped"),
        "{err}"
    );
    let root = site.root_str();
    let (status, out, _) = run_to_exit(&["--root", &root, "--check"]);
    assert_eq!(status.code(), Some(1), "{out}");
    assert!(out.contains("_redirects:2: /old -> /new 301\n"), "{out}");
    assert!(out.contains("_redirects:18: /index.html -> /forced-away 301!\n"), "{out}");
    assert!(out.contains("error: _redirects:20: a status other"), "{out}");
    // Without the bad line, --check passes.
    let text = RULES.replace("/bad              /b 500\n", "");
    site.write("_redirects", text);
    let (status, out, _) = run_to_exit(&["--root", &root, "--check"]);
    assert_eq!(status.code(), Some(0), "{out}");
    assert!(!out.contains("_redirects\t"), "the rules are not a file of the site:\n{out}");
}

#[test]
fn netlify_syntax_mote_does_not_follow_is_skipped() {
    let s = Site::empty();
    s.write("index.html", INDEX_HTML);
    let lines = [
        "/store id=:id /blog/:id 301",
        "/ /anz 302 Country=au,nz",
        "/api/* https://api.example.com/:splat 200",
        "https://old.example/* https://new.example/:splat 301!",
        "/a/*/b /c",
        "/fine /ok",
    ];
    s.write("_redirects", lines.join("\n"));
    let server = s.serve(&[]);
    server.get("/fine").assert_status(301).assert_header("location", "/ok");
    assert_eq!(server.get("/").assert_status(200).text(), INDEX_HTML);
    let err = server.stderr();
    for n in 1..=5 {
        assert!(err.contains(&format!("_redirects:{n}: ")), "line {n} not named:\n{err}");
    }
    assert!(!err.contains("_redirects:6:"), "{err}");
}

#[test]
fn ten_thousand_rules_load() {
    let s = Site::empty();
    s.write("index.html", INDEX_HTML);
    let mut text = String::new();
    for n in 0..10_000 {
        text.push_str(&format!("/old/{n} /new/{n}\n/p{n}/* /to/{n}/:splat 302\n"));
    }
    s.write("_redirects", text);
    let server = s.serve(&[]);
    server.get("/old/9999").assert_status(301).assert_header("location", "/new/9999");
    server.get("/p1234/a/b").assert_status(302).assert_header("location", "/to/1234/a/b");
    server.get("/old/10000").assert_status(404);
    let (status, out, _) = run_to_exit(&["--root", &s.root_str(), "--check"]);
    assert_eq!(status.code(), Some(0));
    assert!(out.contains("20000 redirect rules"), "{}", &out[out.len().saturating_sub(300)..]);
}

#[test]
fn an_unreadable_file_refuses_the_site() {
    let s = Site::empty();
    s.write("index.html", INDEX_HTML);
    s.base.mkdir("root/_redirects");
    let (status, _, err) = run_to_exit(&["--root", &s.root_str(), "--listen", "127.0.0.1:0"]);
    assert_eq!(status.code(), Some(1), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("_redirects: Is a directory"), "{err}");
    // Too big: refused with a reason, never a panic.
    let t = Site::empty();
    t.write("_redirects", "/a /b\n".repeat(200_000));
    let (status, _, err) = run_to_exit(&["--root", &t.root_str(), "--listen", "127.0.0.1:0"]);
    assert_eq!(status.code(), Some(1), "{err}");
    assert!(err.contains("_redirects: not a regular file of at most 1024 KiB"), "{err}");
}

#[test]
fn a_reload_with_a_broken_file_keeps_the_old_rules() {
    let s = Site::empty();
    s.write("index.html", INDEX_HTML);
    s.write("_redirects", "/old /new\n");
    let server = s.serve(&[]);
    server.get("/old").assert_status(301);
    std::fs::remove_file(s.root().join("_redirects")).unwrap();
    s.base.mkdir("root/_redirects");
    server.signal("HUP");
    let deadline = Instant::now() + Duration::from_secs(10);
    while !server.stderr().contains("reload failed") {
        assert!(Instant::now() < deadline, "no reload line:\n{}", server.stderr());
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(server.stderr().contains("_redirects: Is a directory"), "{}", server.stderr());
    server.get("/old").assert_status(301).assert_header("location", "/new");
    // A good file again: the new rules.
    std::fs::remove_dir(s.root().join("_redirects")).unwrap();
    s.write("_redirects", "/old /newer 302\n");
    server.signal("HUP");
    let deadline = Instant::now() + Duration::from_secs(10);
    while server.get("/old").status != 302 {
        assert!(Instant::now() < deadline, "the new rules never came:\n{}", server.stderr());
        std::thread::sleep(Duration::from_millis(50));
    }
    server.get("/old").assert_header("location", "/newer");
}

#[test]
fn curl_follows_a_rule_to_the_page() {
    if tool_missing("curl") {
        return;
    }
    let site = site();
    let server = site.serve(&[]);
    let out = Command::new("curl")
        .args(["-sS", "-L", "--max-time", "10", "-w", "%{num_redirects} %{url_effective}"])
        .arg(format!("http://{}/articles/2024/x?y=1", server.addr()))
        .output()
        .expect("run curl");
    // /articles/2024/x -> /posts/2024-x.html?y=1, which is not there: the 404.
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.ends_with(&format!("1 http://{}/posts/2024-x.html?y=1", server.addr())), "{text}");
    let out = Command::new("curl")
        .args(["-sS", "-L", "--max-time", "10"])
        .arg(format!("http://{}/about-us", server.addr()))
        .output()
        .expect("run curl");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "ABOUT\n");
}
