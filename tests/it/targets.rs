//! Request-target handling (RFC 9112 §3.2, RFC 3986 §5.2.4, §2.1): query
//! ignored, `//` collapsed, dot segments removed, percent-decoding, dotfiles
//! hidden, directory redirects, and nothing outside the root reachable.

use crate::common::*;

#[test]
fn targets_that_resolve_to_a_file() {
    let site = Site::standard();
    let srv = site.serve(&[]);
    let c_txt: &[u8] = b"C-TXT\n";
    let css = STYLE_CSS.as_bytes();
    let rows: &[(&str, &str, &[u8])] = &[
        ("§3.2 plain", "/a/b/c.txt", c_txt),
        ("§3.4 query ignored", "/a/b/c.txt?x=1&y=../../z", c_txt),
        ("§3.4 empty query", "/a/b/c.txt?", c_txt),
        ("empty segments collapse", "//a///b//c.txt", c_txt),
        ("RFC 3986 §5.2.4 `.` removed", "/a/./b/./c.txt", c_txt),
        ("RFC 3986 §5.2.4 `..` removed", "/a/../style.css", css),
        ("RFC 3986 §5.2.4 `..` twice", "/a/b/../../style.css", css),
        ("RFC 3986 §5.2.4 `..` above root clamps", "/../../style.css", css),
        ("`..` above root after a segment", "/a/../../style.css", css),
        ("trailing `..` then file", "/a/b/c.txt/../c.txt", c_txt),
        ("RFC 3986 §2.1 %2e%2e decoded then removed", "/%2e%2e/style.css", css),
        ("RFC 3986 §2.1 uppercase hex", "/a/%2E%2E/style.css", css),
        ("RFC 3986 §2.1 %2e as `.`", "/a/%2e/b/c.txt", c_txt),
        ("RFC 3986 §2.3 unreserved decoded", "/%61/b/c%2etxt", c_txt),
        ("root is index.html", "/", INDEX_HTML.as_bytes()),
        ("index.html by name", "/index.html", INDEX_HTML.as_bytes()),
        ("directory with slash is its index", "/docs/", b"DOCS-INDEX\n"),
        ("directory index with query", "/docs/?v=2", b"DOCS-INDEX\n"),
        ("directory index by name", "/docs/index.html", b"DOCS-INDEX\n"),
        ("file in a directory", "/docs/page.html", b"DOCS-PAGE\n"),
        ("symlink inside the root", "/link-inside.css", css),
    ];
    for (name, target, body) in rows {
        let r = srv.get(target);
        assert_eq!(r.status, 200, "{name}: GET {target}\n{}", r.raw_head);
        assert_eq!(r.body, *body, "{name}: GET {target}");
    }
}

#[test]
fn absolute_form_resolves_like_origin_form() {
    let site = Site::standard();
    let srv = site.serve(&[]);
    // RFC 9112 §3.2.2.
    let r = srv.request("GET http://example.com/style.css HTTP/1.1\r\nHost: example.com\r\n\r\n");
    r.assert_status(200);
    assert_eq!(r.body, STYLE_CSS.as_bytes());
    let r = srv.request("GET http://example.com/a/../../secret.txt HTTP/1.1\r\nHost: example.com\r\n\r\n");
    r.assert_status(404);
    let r = srv.request("GET http://example.com/.git/config HTTP/1.1\r\nHost: example.com\r\n\r\n");
    r.assert_status(404);
    // RFC 9110 §4.2.3: an empty path in an http URI is equivalent to "/".
    let r = srv.request("GET http://example.com HTTP/1.1\r\nHost: example.com\r\n\r\n");
    r.assert_status(200);
    assert_eq!(r.body, INDEX_HTML.as_bytes());
    let r = srv.request("GET http://example.com?x=1 HTTP/1.1\r\nHost: example.com\r\n\r\n");
    r.assert_status(200);
}

#[test]
fn bad_targets_are_400_and_close() {
    let site = Site::standard();
    let srv = site.serve(&[]);
    let rows: &[(&str, &[u8])] = &[
        ("RFC 3986 §2.1 bad hex", b"/%zz"),
        ("RFC 3986 §2.1 truncated escape", b"/%2"),
        ("RFC 3986 §2.1 truncated escape mid-path", b"/a%2/b"),
        ("%00 is refused", b"/a%00b"),
        ("decoded bytes not UTF-8 (overlong)", b"/%c0%af"),
        ("decoded bytes not UTF-8 (lone byte)", b"/%ff"),
        ("§3.2 `*` is only for OPTIONS", b"*"),
        ("§3.2 not starting with /", b"style.css"),
        ("§3.2 relative dot", b"./style.css"),
        ("RFC 3986 §2 raw double quote", b"/a\"b"),
        ("RFC 3986 §2 raw <", b"/a<b"),
        ("RFC 3986 §2 raw >", b"/a>b"),
        ("RFC 3986 §2 raw backslash", b"/a\\b"),
        ("RFC 3986 §2 raw backslash traversal", b"/..\\secret.txt"),
        ("RFC 3986 §2 raw {", b"/a{b"),
        ("RFC 3986 §2 raw |", b"/a|b"),
        ("RFC 3986 §2 raw ^", b"/a^b"),
        ("RFC 3986 §2 raw backtick", b"/a`b"),
        ("RFC 3986 §2 raw byte >= 0x80", b"/caf\xc3\xa9"),
        ("RFC 3986 §2 raw byte 0xff", b"/a\xffb"),
    ];
    for (name, target) in rows {
        let mut raw = b"GET ".to_vec();
        raw.extend_from_slice(target);
        raw.extend_from_slice(b" HTTP/1.1\r\nHost: t\r\n\r\n");
        raw.extend_from_slice(get("/letters.txt").as_bytes());
        let rs = exchange(srv.addr(), &raw);
        assert_eq!(statuses(&rs), vec![400], "{name}: {:?}", String::from_utf8_lossy(target));
        assert!(rs[0].connection_has("close"), "{name}");
    }
}

#[test]
fn raw_space_in_the_target_is_400_not_505() {
    let site = Site::standard();
    let srv = site.serve(&[]);
    // RFC 9112 §3: a raw space makes the request line four words. That is a
    // malformed request line (400), not a well-formed unsupported version.
    for raw in ["GET /a b HTTP/1.1\r\nHost: t\r\n\r\n", "GET /style.css x HTTP/1.1\r\nHost: t\r\n\r\n"] {
        let rs = exchange(srv.addr(), raw);
        assert_eq!(statuses(&rs), vec![400], "raw space: {raw:?}");
    }
}

#[test]
fn dot_segments_are_404_even_when_the_file_exists() {
    let site = Site::standard();
    let srv = site.serve(&[]);
    for target in [
        "/.hidden",
        "/.git/config",
        "/.git/",
        "/.well-known/../.git/config", // served .well-known is no way out
        "/a/.secret/x.txt",
        "/%2ehidden",
        "/%2egit/config",
        "/a/%2Esecret/x.txt",
        "/docs/../.hidden",
    ] {
        let r = srv.get(target);
        assert_eq!(r.status, 404, "GET {target}\n{}", r.raw_head);
        assert!(!r.text().contains("HIDDEN") && !r.text().contains("[core]"), "{target}");
    }
}

#[test]
fn directory_without_slash_redirects_keeping_the_query() {
    let site = Site::standard();
    let srv = site.serve(&[]);
    // RFC 9110 §15.4.2: 301 with Location.
    let rows = [
        ("plain", "/docs", "/docs/"),
        ("query kept", "/docs?x=1", "/docs/?x=1"),
        ("nested", "/docs/sub", "/docs/sub/"),
        ("after normalisation", "//docs", "/docs/"),
    ];
    for (name, target, location) in rows {
        let mut s = srv.connect();
        send_raw(&mut s, get(target));
        let r = read_response(&mut s, false);
        assert_eq!(r.status, 301, "{name}: GET {target}\n{}", r.raw_head);
        r.assert_header("location", location);
        assert!(!r.connection_has("close"), "{name}: 301 keeps the connection");
        // The connection is still usable.
        send_raw(&mut s, closing_get("/letters.txt"));
        let rest = parse_all(&read_to_close(&mut s));
        assert_eq!(statuses(&rest), vec![200], "{name}");
    }
}

#[test]
fn missing_files_and_index_less_directories_are_404_and_keep_the_connection() {
    let site = Site::standard();
    let srv = site.serve(&[]);
    for target in ["/nope", "/nope/", "/empty/", "/a/b/", "/a/b/c.txt%3fx", "/style.css.bak"] {
        let raw = format!("{}{}", get(target), closing_get("/letters.txt"));
        let rs = exchange(srv.addr(), raw);
        assert_eq!(statuses(&rs), vec![404, 200], "GET {target}");
        assert!(!rs[0].connection_has("close"), "{target}");
        assert!(rs[0].must("content-type").starts_with("text/plain"), "{target}");
    }
}

#[test]
fn nothing_beside_the_root_is_reachable() {
    let site = Site::standard();
    let srv = site.serve(&[]);
    // secret.txt and outside/ live next to the root directory.
    let rows = [
        ("relative symlink out of the root", "/link-secret.txt"),
        ("absolute symlink out of the root", "/abs-secret.txt"),
        ("symlinked directory out of the root", "/outdir/file.txt"),
        ("dot-dot clamps at the root", "/../secret.txt"),
        ("encoded dot-dot clamps at the root", "/%2e%2e/secret.txt"),
        ("encoded dot-dot twice", "/%2e%2e/%2e%2e/secret.txt"),
        ("dot-dot via a symlinked dir", "/outdir/../secret.txt"),
        ("root dir name", "/../root/../secret.txt"),
    ];
    for (name, target) in rows {
        let r = srv.get(target);
        assert_eq!(r.status, 404, "{name}: GET {target}\n{}", r.raw_head);
        assert!(!r.text().contains("TOP-SECRET"), "{name}: leaked the secret");
    }
    // Encoded slashes may be refused or looked up literally, never followed out.
    for target in ["/..%2fsecret.txt", "/%2e%2e%2fsecret.txt", "/outdir%2ffile.txt"] {
        let r = srv.get(target);
        assert!(matches!(r.status, 400 | 404), "GET {target}: {}", r.status);
        assert!(!r.text().contains("TOP-SECRET"), "GET {target} leaked the secret");
    }
}
