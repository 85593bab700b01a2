//! `--clean-urls`: `/about` serves `about.html`, `/blog/post` serves
//! `blog/post.html`, with the file's ETag and variants, when nothing is
//! named `/about`; without the flag such paths are 404.

use crate::common::*;

fn site() -> Site {
    let s = Site::empty();
    s.write("index.html", INDEX_HTML);
    s.write("about.html", "ABOUT\n");
    s.write("blog/post.html", "POST\n");
    s.write("blog/post.html.gz", gzip_bytes(b"POST\n"));
    // A directory and a file of the bare name win over the .html.
    s.write("docs.html", "DOCS-HTML\n");
    s.write("docs/index.html", "DOCS-DIR\n");
    s.write("notes", "NOTES-FILE\n");
    s.write("notes.html", "NOTES-HTML\n");
    s
}

#[test]
fn extensionless_paths_serve_the_html_file() {
    let site = site();
    let server = site.serve(&["--clean-urls"]);
    let file = server.get("/about.html");
    let clean = server.get("/about");
    clean.assert_status(200).assert_header("etag", file.must("etag"));
    clean.assert_header("content-type", "text/html; charset=utf-8");
    assert_eq!(clean.text(), "ABOUT\n");
    assert_eq!(server.get("/blog/post").assert_status(200).text(), "POST\n");
    // Variants as for the file.
    let gz = server.request(req("GET", "/blog/post", &["Accept-Encoding: gzip"]));
    gz.assert_status(200).assert_header("content-encoding", "gzip").assert_header("vary", "Accept-Encoding");
    assert_eq!(gunzip_bytes(&gz.body), b"POST\n");
    let tag = file.must("etag").to_string();
    server.request(req("GET", "/about", &[&format!("If-None-Match: {tag}")])).assert_status(304);
    // What has the name wins.
    server.get("/docs").assert_status(301).assert_header("location", "/docs/");
    assert_eq!(server.get("/notes").text(), "NOTES-FILE\n");
    // The .html paths still work; no /index for index.html; a slash is a directory's.
    assert_eq!(server.get("/notes.html").text(), "NOTES-HTML\n");
    server.get("/index").assert_status(404);
    server.get("/about/").assert_status(404);
}

#[test]
fn without_the_flag_they_are_404() {
    let site = site();
    let server = site.serve(&[]);
    server.get("/about").assert_status(404);
    server.get("/blog/post").assert_status(404);
}

#[test]
fn redirect_rules_meet_the_clean_url_after_it() {
    let site = site();
    site.write("_redirects", "/about /elsewhere\n/contact /about 200\n");
    let server = site.serve(&["--clean-urls"]);
    assert_eq!(server.get("/about").assert_status(200).text(), "ABOUT\n");
    assert_eq!(server.get("/contact").assert_status(200).text(), "ABOUT\n");
}
