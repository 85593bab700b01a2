//! `--listing`: directories without index.html get an HTML listing, names
//! HTML-escaped, links percent-encoded, sizes shown, directories first and
//! sorted; every link leads where it says.

use crate::common::*;

/// name -> contents of the files in `/files/`.
const FILES: &[(&str, &str)] = &[
    ("a <b>&c.txt", "ANGLE-AMP\n"),
    ("space name.txt", "SPACE\n"),
    ("hash#q?.txt", "HASH-QUESTION\n"),
    ("100%.txt", "PERCENT\n"),
    ("x:y.txt", "COLON\n"),
    ("quote\"s'.txt", "QUOTES\n"),
    ("café.txt", "CAFE\n"),
    ("zeta.txt", "Z\n"),
    ("Big.txt", "0123456789012345678901234567890123456789\n"),
];

fn listing_site() -> Site {
    let s = Site::empty();
    s.write("index.html", INDEX_HTML);
    for (name, contents) in FILES {
        s.write(&format!("files/{name}"), contents);
    }
    s.write("files/sub/inner.txt", "INNER\n");
    s.write("files/Alpha dir/x.txt", "ALPHA\n");
    s.write("files/.secret", "DOTFILE\n");
    s.outside("outside.txt", SECRET);
    s.base.symlink("../../outside.txt", "root/files/escape.txt");
    s.write("docs/index.html", "DOCS-INDEX\n");
    s.write("docs/other.txt", "OTHER\n");
    s
}

/// One `<tr>` of a listing: (href as written, link text, size cell).
#[derive(Debug)]
struct Row {
    href: String,
    text: String,
    size: String,
}

fn rows(page: &str) -> Vec<Row> {
    let mut out = Vec::new();
    for tr in page.split("<tr>").skip(1) {
        let tr = &tr[..tr.find("</tr>").expect("closed <tr>")];
        let href_at = tr.find("href=\"").expect("a link in each row") + 6;
        let href = &tr[href_at..href_at + tr[href_at..].find('"').unwrap()];
        let text_at = href_at + tr[href_at..].find('>').unwrap() + 1;
        let text = &tr[text_at..text_at + tr[text_at..].find("</a>").unwrap()];
        let cells: Vec<&str> = tr.split("<td>").skip(1).map(|c| c.split("</td>").next().unwrap()).collect();
        out.push(Row { href: href.to_string(), text: text.to_string(), size: cells.last().unwrap_or(&"").to_string() });
    }
    out
}

fn html_unescape(s: &str) -> String {
    s.replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", "\"").replace("&#39;", "'").replace("&amp;", "&")
}

/// Resolves `./x` or `../` against a directory URL path ending in `/`.
fn resolve(dir: &str, href: &str) -> String {
    if let Some(rest) = href.strip_prefix("./") {
        format!("{dir}{rest}")
    } else if href == "../" {
        let trimmed = &dir[..dir.len() - 1];
        trimmed[..=trimmed.rfind('/').unwrap()].to_string()
    } else {
        panic!("unexpected href form {href:?}")
    }
}

#[test]
fn lists_a_directory_without_index_html() {
    let site = listing_site();
    let server = site.serve(&["--listing"]);
    let r = server.get("/files/");
    r.assert_status(200)
        .assert_header("content-type", "text/html; charset=utf-8")
        .assert_header("cache-control", "no-cache");
    assert_etag_format(r.must("etag"));
    let page = r.text();
    assert!(page.contains("<title>Index of /files/</title>"), "{page}");
    // Names are escaped: no markup from a file name reaches the page.
    assert!(!page.contains("<b>"), "unescaped file name in listing:\n{page}");
    assert!(page.contains("a &lt;b&gt;&amp;c.txt"), "{page}");
    assert!(!page.contains("quote\"s"), "{page}");
    // Dotfiles and links leading outside the root are not listed.
    assert!(!page.contains("secret"), "{page}");
    assert!(!page.contains("escape.txt"), "{page}");

    let rows = rows(&page);
    let texts: Vec<String> = rows.iter().map(|r| html_unescape(&r.text)).collect();
    let mut files: Vec<&str> = FILES.iter().map(|(n, _)| *n).collect();
    files.sort(); // byte order
    let mut want = vec!["../".to_string(), "Alpha dir/".to_string(), "sub/".to_string()];
    want.extend(files.iter().map(|n| n.to_string()));
    assert_eq!(texts, want, "parent link, then directories, then files, each sorted:\n{page}");

    for (row, text) in rows.iter().zip(&texts) {
        // Every href is percent-encoded: nothing but URL-safe bytes (and the
        // HTML entity &amp; for a literal `&`).
        let href = html_unescape(&row.href);
        assert!(
            href.bytes().all(|b| b.is_ascii_alphanumeric() || b"-._~/%!$&'()*+,;=:@".contains(&b)),
            "href {:?} for {text:?} is not percent-encoded",
            row.href
        );
        assert!(!href.contains('#') && !href.contains('?') && !href.contains(' '), "{href}");
        if let Some((_, contents)) = FILES.iter().find(|(n, _)| n == text) {
            assert_eq!(row.size, contents.len().to_string(), "size of {text:?}");
        } else {
            assert_eq!(row.size, "", "directories show no size: {text:?}");
        }
    }
    assert!(texts.contains(&"café.txt".to_string()));
    let cafe = rows.iter().find(|r| r.text == "café.txt").unwrap();
    assert_eq!(cafe.href, "./caf%C3%A9.txt");
    let pct = rows.iter().find(|r| r.text == "100%.txt").unwrap();
    assert_eq!(pct.href, "./100%25.txt");
    let hash = rows.iter().find(|r| r.text == "hash#q?.txt").unwrap();
    assert_eq!(hash.href, "./hash%23q%3F.txt");
}

#[test]
fn every_link_of_a_listing_works() {
    let site = listing_site();
    let server = site.serve(&["--listing"]);
    let page = server.get("/files/").text();
    let mut followed = 0;
    for row in rows(&page) {
        let target = resolve("/files/", &html_unescape(&row.href));
        let r = server.get(&target);
        r.assert_status(200);
        let text = html_unescape(&row.text);
        if let Some((_, contents)) = FILES.iter().find(|(n, _)| *n == text) {
            assert_eq!(r.text(), *contents, "GET {target} (link to {text:?})");
        } else if text == "../" {
            assert_eq!(r.text(), INDEX_HTML, "GET {target}");
        } else {
            let sub = r.text();
            assert!(sub.contains(&format!("<title>Index of /files/{text}</title>")), "GET {target}:\n{sub}");
            // One level down: its links work too, `../` included.
            for inner in rows(&sub) {
                let t = resolve(&target, &html_unescape(&inner.href));
                server.get(&t).assert_status(200);
            }
        }
        followed += 1;
    }
    assert_eq!(followed, FILES.len() + 3);
    let r = server.get("/files/sub/");
    assert!(r.text().contains("inner.txt"));
    assert_eq!(server.get("/files/sub/inner.txt").text(), "INNER\n");
}

#[test]
fn listing_details() {
    let site = listing_site();
    let server = site.serve(&["--listing"]);
    // The slash-less directory redirects to the listing.
    server.get("/files").assert_status(301).assert_header("location", "/files/");
    // A directory with index.html is served, not listed.
    let r = server.get("/docs/");
    r.assert_status(200);
    assert_eq!(r.text(), "DOCS-INDEX\n");
    // HEAD: same length, no body; conditional: 304.
    let get = server.get("/files/");
    let mut s = server.connect();
    send_raw(&mut s, "HEAD /files/ HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
    let bytes = read_to_close(&mut s);
    let text = String::from_utf8_lossy(&bytes).into_owned();
    assert!(text.contains(&format!("Content-Length: {}\r\n", get.body.len())), "{text}");
    assert!(text.ends_with("\r\n\r\n"), "HEAD of a listing must have no body:\n{text}");
    let tag = get.must("etag");
    server.request(req("GET", "/files/", &[&format!("If-None-Match: {tag}")])).assert_status(304);
}

#[test]
fn root_listing_has_no_parent_link() {
    let site = Site::empty();
    site.write("one.txt", "1\n");
    site.write("dir/two.txt", "2\n");
    let server = site.serve(&["--listing"]);
    let r = server.get("/");
    r.assert_status(200).assert_header("content-type", "text/html; charset=utf-8");
    let texts: Vec<String> = rows(&r.text()).iter().map(|r| r.text.clone()).collect();
    assert_eq!(texts, ["dir/", "one.txt"], "{}", r.text());
    let sub: Vec<String> = rows(&server.get("/dir/").text()).iter().map(|r| r.text.clone()).collect();
    assert_eq!(sub, ["../", "two.txt"]);
}

#[test]
fn without_listing_directories_are_404() {
    let site = listing_site();
    let server = site.serve(&[]);
    server.get("/files/").assert_status(404);
    server.get("/files/sub/").assert_status(404);
    // The files themselves are still served.
    assert_eq!(server.get("/files/space%20name.txt").text(), "SPACE\n");
    // And with no index.html at the root, `/` is 404 too.
    let bare = Site::empty();
    bare.write("one.txt", "1\n");
    bare.serve(&[]).get("/").assert_status(404);
}
