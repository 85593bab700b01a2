//! Precompressed variants: `x.css.gz` / `x.css.br` beside `x.css` under
//! `--root`, and the gzip/brotli variants build.rs makes for the embedded
//! site. Accept-Encoding negotiation (RFC 9110 §12.5.3), Content-Encoding,
//! `Vary: Accept-Encoding` on every variant, each variant's own length,
//! bytes and ETag, and conditionals and ranges applied to the variant sent.

use crate::common::*;
use std::fs;
use std::process::Command;

/// A compressible stylesheet, large enough that a range can fall inside
/// the identity file but past the end of the compressed variants.
fn css() -> Vec<u8> {
    let mut s = String::new();
    for i in 0..120 {
        s.push_str(&format!(".rule-{i} {{ color: #{:03x}; margin: {}px; padding: 0 1rem; }}\n", i * 7 % 4096, i % 13));
    }
    s.into_bytes()
}

struct Variants {
    site: Site,
    identity: Vec<u8>,
    gz: Vec<u8>,
    br: Vec<u8>,
}

/// `x.css`, `x.css.gz` (real gzip), `x.css.br` (real brotli when a tool
/// for it is installed, else distinct bytes: mote serves what is on disk),
/// plus files to check the edges: `plain.css` without siblings, `only.js`
/// with only a `.gz`, `arch.tar` + `arch.tar.gz`, and a lone `lone.tar.gz`.
fn variants_site() -> Variants {
    let site = Site::empty();
    let identity = css();
    let gz = gzip_bytes(&identity);
    let br = brotli_bytes(&identity).unwrap_or_else(|| {
        let mut fake = b"\x1b\x00FAKE-BROTLI-".to_vec();
        fake.extend_from_slice(&identity[..40]);
        fake
    });
    assert_eq!(gunzip_bytes(&gz), identity, "python3 gzip round trip");
    assert!(gz.len() < identity.len() && br.len() < identity.len());
    assert_ne!(gz, br);
    site.write("x.css", &identity);
    site.write("x.css.gz", &gz);
    site.write("x.css.br", &br);
    site.write("plain.css", "p{margin:0}\n");
    site.write("only.js", "console.log('only gzip beside me');\n".repeat(20));
    site.write("only.js.gz", gzip_bytes("console.log('only gzip beside me');\n".repeat(20).as_bytes()));
    let tar = large_bytes(3000);
    site.write("arch.tar", &tar);
    site.write("arch.tar.gz", gzip_bytes(&tar));
    site.write("lone.tar.gz", gzip_bytes(b"lone tarball contents\n"));
    site.write("index.html", INDEX_HTML);
    Variants { site, identity, gz, br }
}

fn ae(path: &str, accept_encoding: Option<&str>) -> String {
    match accept_encoding {
        Some(v) => req("GET", path, &[&format!("Accept-Encoding: {v}")]),
        None => get(path),
    }
}

/// Asserts `r` is the whole `coding` variant: status, Content-Encoding,
/// Vary, Content-Type, Content-Length and body all of that variant.
#[track_caller]
fn assert_variant(r: &Response, coding: &str, want: &[u8], what: &str) {
    r.assert_status(200);
    match coding {
        "identity" => r.assert_no_header("content-encoding"),
        c => r.assert_header("content-encoding", c),
    };
    assert_eq!(
        r.header_all("vary"),
        vec!["Accept-Encoding"],
        "{what}: exactly one Vary: Accept-Encoding on every variant; head:\n{}",
        r.raw_head
    );
    r.assert_header("content-type", "text/css; charset=utf-8");
    r.assert_header("content-length", &want.len().to_string());
    assert_bytes_eq(&r.body, want, what);
}

#[test]
fn no_accept_encoding_gets_identity_with_vary() {
    let v = variants_site();
    let server = v.site.serve(&[]);
    let r = server.get("/x.css");
    assert_variant(&r, "identity", &v.identity, "identity");
    assert_etag_format(r.must("etag"));
}

#[test]
fn negotiation_table() {
    let v = variants_site();
    let server = v.site.serve(&[]);
    let rows: &[(&str, &str)] = &[
        ("gzip, deflate, br", "br"), // br preferred when equal
        ("br, gzip", "br"),
        ("gzip;q=1, br;q=1", "br"),
        ("gzip", "gzip"),
        ("br", "br"),
        ("GZIP", "gzip"),
        ("x-gzip", "gzip"),
        ("br;q=0.5, gzip", "gzip"), // q-values honoured
        ("br;q=0.8, gzip;q=0.9", "gzip"),
        ("br;q=0.9, gzip;q=0.8", "br"),
        ("br ; q=0.9 , gzip ; q=0.8", "br"), // whitespace around parameters
        ("br;q=0.001", "br"),
        ("br;q=0, gzip;q=0", "identity"), // q=0 refuses
        ("br;q=0.000, gzip;q=0.0", "identity"),
        ("br;q=0", "identity"),
        ("gzip;q=0", "identity"),
        ("br;q=0, gzip", "gzip"),
        ("*", "br"), // * covers unlisted codings
        ("*;q=0.5", "br"),
        ("*;q=0.1, br;q=0", "gzip"),
        ("gzip;q=0, *", "br"),
        ("br;q=0, *", "gzip"),
        ("*;q=0", "identity"),
        ("gzip, *;q=0", "gzip"),
        ("identity", "identity"),
        ("", "identity"), // empty: identity only
        ("deflate", "identity"),
        ("zstd", "identity"),
        ("gzip;q=1.001", "identity"), // invalid weight: member ignored
    ];
    let mut failures = Vec::new();
    for (header, want) in rows {
        let r = server.request(ae("/x.css", Some(header)));
        let got = r.header("content-encoding").unwrap_or("identity").to_string();
        let body = match *want {
            "br" => &v.br,
            "gzip" => &v.gz,
            _ => &v.identity,
        };
        if got != *want || r.status != 200 || r.body != *body || r.header("vary") != Some("Accept-Encoding") {
            failures.push(format!(
                "Accept-Encoding: {header:?} -> want {want}, got {got} (status {}, {} body bytes, vary {:?})",
                r.status,
                r.body.len(),
                r.header("vary")
            ));
        }
    }
    assert!(failures.is_empty(), "negotiation failures:\n{}", failures.join("\n"));
}

#[test]
fn each_variant_has_its_own_length_bytes_and_etag() {
    let v = variants_site();
    // Default --cache-max (bodies in memory) and 0 (every body by sendfile).
    for extra in [&[][..], &["--cache-max", "0"][..]] {
        let server = v.site.serve(extra);
        let id = server.get("/x.css");
        let gz = server.request(ae("/x.css", Some("gzip")));
        let br = server.request(ae("/x.css", Some("br")));
        assert_variant(&id, "identity", &v.identity, "identity");
        assert_variant(&gz, "gzip", &v.gz, "gzip");
        assert_variant(&br, "br", &v.br, "br");
        let tags = [id.must("etag"), gz.must("etag"), br.must("etag")];
        for t in tags {
            assert!(t.starts_with('"'), "strong ETag expected, got {t}");
        }
        assert!(
            tags[0] != tags[1] && tags[1] != tags[2] && tags[0] != tags[2],
            "ETags must differ per variant ({extra:?}): {tags:?}"
        );
        // Same variant asked twice: same tag.
        assert_eq!(server.request(ae("/x.css", Some("gzip"))).must("etag"), tags[1]);
        // The gzip body really is the stylesheet.
        assert_eq!(gunzip_bytes(&gz.body), v.identity);
        // HEAD: the variant's own Content-Length, no body.
        let mut s = server.connect();
        send_raw(&mut s, "HEAD /x.css HTTP/1.1\r\nHost: t\r\nAccept-Encoding: br\r\nConnection: close\r\n\r\n");
        let bytes = read_to_close(&mut s);
        let text = String::from_utf8_lossy(&bytes).into_owned();
        let head_end = text.find("\r\n\r\n").expect("a head") + 4;
        assert_eq!(head_end, bytes.len(), "HEAD must carry no body:\n{text}");
        assert!(text.contains(&format!("\r\nContent-Length: {}\r\n", v.br.len())), "{text}");
        assert!(
            text.contains("\r\nContent-Encoding: br\r\n") && text.contains("\r\nVary: Accept-Encoding\r\n"),
            "{text}"
        );
    }
}

#[test]
fn pipelined_requests_get_their_own_variants() {
    let v = variants_site();
    let server = v.site.serve(&[]);
    let mut raw = String::new();
    raw.push_str(&ae("/x.css", Some("br")));
    raw.push_str(&ae("/x.css", None));
    raw.push_str(&ae("/x.css", Some("gzip")));
    raw.push_str("GET /x.css HTTP/1.1\r\nHost: t\r\nAccept-Encoding: br;q=0\r\nConnection: close\r\n\r\n");
    let rs = exchange(server.addr(), raw);
    assert_eq!(statuses(&rs), [200, 200, 200, 200], "{}", heads(&rs));
    assert_variant(&rs[0], "br", &v.br, "pipelined br");
    assert_variant(&rs[1], "identity", &v.identity, "pipelined identity");
    assert_variant(&rs[2], "gzip", &v.gz, "pipelined gzip");
    assert_variant(&rs[3], "identity", &v.identity, "pipelined refused br");
}

#[test]
fn conditionals_apply_to_the_variant_sent() {
    let v = variants_site();
    let server = v.site.serve(&[]);
    let id_tag = server.get("/x.css").must("etag").to_string();
    let gz_tag = server.request(ae("/x.css", Some("gzip"))).must("etag").to_string();
    let br_tag = server.request(ae("/x.css", Some("br"))).must("etag").to_string();

    // The br tag does not match the gzip variant: 200 with the gzip body.
    let r = server.request(req("GET", "/x.css", &["Accept-Encoding: gzip", &format!("If-None-Match: {br_tag}")]));
    assert_variant(&r, "gzip", &v.gz, "If-None-Match br tag, asking gzip");
    // The identity tag does not match br either.
    let r = server.request(req("GET", "/x.css", &["Accept-Encoding: br", &format!("If-None-Match: {id_tag}")]));
    assert_variant(&r, "br", &v.br, "If-None-Match identity tag, asking br");
    // No Accept-Encoding: the gzip tag does not match identity.
    let r = server.request(req("GET", "/x.css", &[&format!("If-None-Match: {gz_tag}")]));
    assert_variant(&r, "identity", &v.identity, "If-None-Match gzip tag, asking identity");

    // Each variant revalidates against its own tag: 304 with that tag and Vary.
    for (coding, tag) in [("gzip", &gz_tag), ("br", &br_tag), ("identity", &id_tag)] {
        let r = server.request(req(
            "GET",
            "/x.css",
            &[&format!("Accept-Encoding: {coding}"), &format!("If-None-Match: {tag}")],
        ));
        r.assert_status(304).assert_header("etag", tag).assert_header("vary", "Accept-Encoding");
        r.assert_no_header("content-encoding");
        assert!(r.body.is_empty());
    }
    // A list holding the right tag, and the weak form (weak comparison).
    let r = server.request(req(
        "GET",
        "/x.css",
        &["Accept-Encoding: gzip, br", &format!("If-None-Match: {id_tag}, {gz_tag}, W/{br_tag}")],
    ));
    r.assert_status(304).assert_header("etag", &br_tag);

    // If-Match compares strongly with the selected variant's tag.
    let r = server.request(req("GET", "/x.css", &["Accept-Encoding: br", &format!("If-Match: {gz_tag}")]));
    r.assert_status(412);
    let r = server.request(req("GET", "/x.css", &["Accept-Encoding: br", &format!("If-Match: {br_tag}")]));
    assert_variant(&r, "br", &v.br, "If-Match with the br tag");
}

#[test]
fn ranges_apply_to_the_variant_sent() {
    let v = variants_site();
    for extra in [&[][..], &["--cache-max", "0"][..]] {
        let server = v.site.serve(extra);
        let r = server.request(req("GET", "/x.css", &["Accept-Encoding: gzip", "Range: bytes=0-9"]));
        r.assert_status(206)
            .assert_header("content-encoding", "gzip")
            .assert_header("content-range", &format!("bytes 0-9/{}", v.gz.len()))
            .assert_header("content-length", "10")
            .assert_header("vary", "Accept-Encoding");
        assert_bytes_eq(&r.body, &v.gz[..10], "first 10 bytes of the gzip variant");

        let r = server.request(req("GET", "/x.css", &["Accept-Encoding: br", "Range: bytes=-5"]));
        r.assert_status(206)
            .assert_header("content-encoding", "br")
            .assert_header("content-range", &format!("bytes {}-{}/{}", v.br.len() - 5, v.br.len() - 1, v.br.len()));
        assert_bytes_eq(&r.body, &v.br[v.br.len() - 5..], "last 5 bytes of the br variant");

        let r = server.request(req("GET", "/x.css", &["Range: bytes=100-199"]));
        r.assert_status(206).assert_no_header("content-encoding");
        r.assert_header("content-range", &format!("bytes 100-199/{}", v.identity.len()));
        assert_bytes_eq(&r.body, &v.identity[100..200], "identity range");

        // Inside the identity file but past the end of the br variant.
        let start = v.br.len().max(v.gz.len()) + 10;
        assert!(start < v.identity.len());
        let range = format!("Range: bytes={start}-{}", start + 10);
        let r = server.request(req("GET", "/x.css", &["Accept-Encoding: br", &range]));
        r.assert_status(416).assert_header("content-range", &format!("bytes */{}", v.br.len()));
        let r = server.request(req("GET", "/x.css", &[&range]));
        r.assert_status(206);
        assert_bytes_eq(&r.body, &v.identity[start..start + 11], "identity range past the variants' ends");

        // If-Range with the variant's own tag holds; with another's, the whole variant.
        let gz_tag = server.request(ae("/x.css", Some("gzip"))).must("etag").to_string();
        let br_tag = server.request(ae("/x.css", Some("br"))).must("etag").to_string();
        let r = server.request(req(
            "GET",
            "/x.css",
            &["Accept-Encoding: gzip", "Range: bytes=0-3", &format!("If-Range: {gz_tag}")],
        ));
        r.assert_status(206).assert_header("content-length", "4");
        assert_bytes_eq(&r.body, &v.gz[..4], "If-Range gzip tag");
        let r = server.request(req(
            "GET",
            "/x.css",
            &["Accept-Encoding: gzip", "Range: bytes=0-3", &format!("If-Range: {br_tag}")],
        ));
        assert_variant(&r, "gzip", &v.gz, "If-Range with the br tag while sending gzip: whole gzip");
    }
}

#[test]
fn refused_variants_are_never_sent() {
    let v = variants_site();
    let server = v.site.serve(&[]);
    for header in ["br;q=0, gzip;q=0", "identity", "*;q=0", "deflate, compress", "br;q=0"] {
        let r = server.request(ae("/x.css", Some(header)));
        assert_variant(&r, "identity", &v.identity, header);
    }
    let r = server.request(ae("/x.css", Some("gzip;q=0")));
    assert_variant(&r, "identity", &v.identity, "gzip;q=0 with br unlisted");
}

#[test]
fn gzip_only_sibling() {
    let v = variants_site();
    let server = v.site.serve(&[]);
    let plain = "console.log('only gzip beside me');\n".repeat(20);
    let r = server.request(ae("/only.js", Some("br")));
    r.assert_status(200).assert_no_header("content-encoding").assert_header("vary", "Accept-Encoding");
    assert_eq!(r.text(), plain);
    let r = server.request(ae("/only.js", Some("br, gzip;q=0.5")));
    r.assert_status(200).assert_header("content-encoding", "gzip").assert_header("vary", "Accept-Encoding");
    r.assert_header("content-type", "text/javascript; charset=utf-8");
    assert_eq!(gunzip_bytes(&r.body), plain.as_bytes());
    assert_eq!(r.body, fs::read(v.site.root().join("only.js.gz")).unwrap());
}

#[test]
fn a_file_without_siblings_has_no_vary() {
    let v = variants_site();
    let server = v.site.serve(&[]);
    for header in [None, Some("gzip, br"), Some("*")] {
        let r = server.request(ae("/plain.css", header));
        r.assert_status(200).assert_no_header("vary").assert_no_header("content-encoding");
        assert_eq!(r.text(), "p{margin:0}\n");
    }
}

#[test]
fn direct_requests_for_compressed_files_are_those_files() {
    let v = variants_site();
    let server = v.site.serve(&[]);
    let root = v.site.root();
    // A tarball on its own: application/gzip, never Content-Encoding.
    for header in [None, Some("gzip"), Some("gzip, br")] {
        let r = server.request(ae("/lone.tar.gz", header));
        r.assert_status(200)
            .assert_header("content-type", "application/gzip")
            .assert_no_header("content-encoding")
            .assert_no_header("vary");
        assert_eq!(r.body, fs::read(root.join("lone.tar.gz")).unwrap());
    }
    // arch.tar.gz is also the gzip variant of arch.tar; asked for by name it
    // is a gzip file, not an encoded tar.
    let r = server.request(ae("/arch.tar.gz", Some("gzip")));
    r.assert_status(200).assert_header("content-type", "application/gzip").assert_no_header("content-encoding");
    assert_eq!(r.body, fs::read(root.join("arch.tar.gz")).unwrap());
    let r = server.request(ae("/arch.tar", Some("gzip")));
    r.assert_status(200)
        .assert_header("content-type", "application/x-tar")
        .assert_header("content-encoding", "gzip")
        .assert_header("vary", "Accept-Encoding");
    assert_eq!(gunzip_bytes(&r.body), large_bytes(3000));
    // The siblings of x.css, asked for by name.
    let r = server.request(ae("/x.css.gz", Some("gzip")));
    r.assert_status(200).assert_header("content-type", "application/gzip").assert_no_header("content-encoding");
    assert_bytes_eq(&r.body, &v.gz, "x.css.gz by name");
    let r = server.request(ae("/x.css.br", Some("br")));
    r.assert_status(200).assert_no_header("content-encoding");
    assert!(!r.must("content-type").starts_with("text/css"), "{}", r.raw_head);
    assert_bytes_eq(&r.body, &v.br, "x.css.br by name");
}

// ---------------------------------------------------------------------------
// The embedded site: variants made by build.rs
// ---------------------------------------------------------------------------

fn static_file(name: &str) -> Vec<u8> {
    fs::read(repo_dir().join("static").join(name)).unwrap()
}

#[test]
fn embedded_site_has_gzip_and_br_variants() {
    let server = Server::start(&[]);
    for (path, file, mime) in [
        ("/style.css", "style.css", "text/css; charset=utf-8"),
        ("/index.html", "index.html", "text/html; charset=utf-8"),
        ("/", "index.html", "text/html; charset=utf-8"),
    ] {
        let original = static_file(file);
        let id = server.get(path);
        id.assert_status(200).assert_no_header("content-encoding").assert_header("vary", "Accept-Encoding");
        id.assert_header("content-type", mime);
        assert_bytes_eq(&id.body, &original, path);
        let gz = server.request(ae(path, Some("gzip")));
        gz.assert_status(200).assert_header("content-encoding", "gzip").assert_header("vary", "Accept-Encoding");
        gz.assert_header("content-type", mime);
        gz.assert_header("content-length", &gz.body.len().to_string());
        assert!(
            (gz.body.len() as f64) <= original.len() as f64 * 0.9,
            "{path}: gzip variant {} bytes is not 10% smaller than {}",
            gz.body.len(),
            original.len()
        );
        assert_bytes_eq(&gunzip_bytes(&gz.body), &original, &format!("{path} gunzipped"));
        let br = server.request(ae(path, Some("gzip, deflate, br")));
        br.assert_status(200).assert_header("content-encoding", "br").assert_header("vary", "Accept-Encoding");
        assert!((br.body.len() as f64) <= original.len() as f64 * 0.9);
        let tags = [id.must("etag"), gz.must("etag"), br.must("etag")];
        assert!(tags[0] != tags[1] && tags[1] != tags[2] && tags[0] != tags[2], "{path}: {tags:?}");
        // Conditionals per variant on the embedded site too.
        let r = server.request(req("GET", path, &["Accept-Encoding: br", &format!("If-None-Match: {}", tags[2])]));
        r.assert_status(304).assert_header("vary", "Accept-Encoding");
        let r = server.request(req("GET", path, &["Accept-Encoding: gzip", &format!("If-None-Match: {}", tags[2])]));
        r.assert_status(200).assert_header("content-encoding", "gzip");
        // A range of the br variant.
        let r = server.request(req("GET", path, &["Accept-Encoding: br", "Range: bytes=0-4"]));
        r.assert_status(206).assert_header("content-range", &format!("bytes 0-4/{}", br.body.len()));
        assert_eq!(r.body, br.body[..5]);
    }
}

/// curl decodes what mote sends and must get static/ back byte for byte.
#[test]
fn embedded_site_decodes_with_curl_compressed() {
    if tool_missing("curl") {
        return;
    }
    let server = Server::start(&[]);
    let dir = TempDir::new("curl");
    for file in ["style.css", "index.html"] {
        let url = format!("http://{}/{}", server.addr(), file);
        // curl's own Accept-Encoding (br if its libcurl has brotli), then gzip forced.
        for forced in [None, Some("Accept-Encoding: gzip")] {
            let body = dir.path().join("body");
            let head = dir.path().join("head");
            let mut cmd = Command::new("curl");
            cmd.args(["-sS", "--compressed", "-o"]).arg(&body).arg("-D").arg(&head);
            if let Some(h) = forced {
                cmd.args(["-H", h]);
            }
            let out = cmd.arg(&url).output().expect("run curl");
            assert!(out.status.success(), "curl {url}: {}", String::from_utf8_lossy(&out.stderr));
            let head = fs::read_to_string(&head).unwrap().to_ascii_lowercase();
            assert!(head.starts_with("http/1.1 200"), "{head}");
            assert!(head.contains("\r\ncontent-encoding: "), "curl --compressed got no encoded variant:\n{head}");
            if forced.is_some() {
                assert!(head.contains("\r\ncontent-encoding: gzip\r\n"), "{head}");
            }
            assert!(head.contains("\r\nvary: accept-encoding\r\n"), "{head}");
            assert_bytes_eq(
                &fs::read(&body).unwrap(),
                &static_file(file),
                &format!("curl --compressed {file} ({forced:?})"),
            );
        }
    }
}

/// The same with a `--root` site, where the variants are files on disk.
#[test]
fn root_variants_decode_with_curl_compressed() {
    if tool_missing("curl") {
        return;
    }
    let v = variants_site();
    let server = v.site.serve(&[]);
    let dir = TempDir::new("curl");
    let body = dir.path().join("body");
    let out = Command::new("curl")
        .args(["-sS", "--compressed", "-H", "Accept-Encoding: gzip", "-o"])
        .arg(&body)
        .arg(format!("http://{}/x.css", server.addr()))
        .output()
        .expect("run curl");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_bytes_eq(&fs::read(&body).unwrap(), &v.identity, "curl --compressed x.css (gzip)");
}

// ---------------------------------------------------------------------------
// Variants without their original (Debian's `changelog.html.gz` alone)
// ---------------------------------------------------------------------------

const ORPHAN_JS: &str = "console.log('shipped only compressed');\n";

/// `orphan.js.gz` and `orphan.css.br` alone, `both.html.gz` with
/// `both.html.br`, and `lone.tar.gz`, a tarball rather than a variant.
fn orphan_site() -> (Site, Vec<u8>, Vec<u8>) {
    let site = Site::empty();
    site.write("index.html", INDEX_HTML);
    let js = ORPHAN_JS.repeat(30);
    let gz = gzip_bytes(js.as_bytes());
    site.write("orphan.js.gz", &gz);
    let br = b"\x1b\x00BROTLI-BYTES-AS-ON-DISK".to_vec();
    site.write("orphan.css.br", &br);
    site.write("both.html.gz", gzip_bytes(b"<p>both"));
    site.write("both.html.br", b"BR-OF-BOTH");
    site.write("lone.tar.gz", gzip_bytes(b"lone tarball contents\n"));
    (site, gz, br)
}

#[test]
fn a_variant_without_its_original_is_served_to_clients_that_accept_it() {
    let (site, gz, br) = orphan_site();
    let server = site.serve(&[]);
    for header in [Some("gzip"), Some("gzip, deflate, br"), Some("*"), Some("br;q=0, gzip;q=0.5")] {
        let r = server.request(ae("/orphan.js", header));
        r.assert_status(200)
            .assert_header("content-encoding", "gzip")
            .assert_header("vary", "Accept-Encoding")
            .assert_header("content-type", "text/javascript; charset=utf-8");
        assert_bytes_eq(&r.body, &gz, &format!("orphan.js for {header:?}"));
        assert_eq!(gunzip_bytes(&r.body), ORPHAN_JS.repeat(30).as_bytes());
        assert_etag_format(r.must("etag"));
    }
    let r = server.request(ae("/orphan.css", Some("br")));
    r.assert_status(200)
        .assert_header("content-encoding", "br")
        .assert_header("content-type", "text/css; charset=utf-8");
    assert_bytes_eq(&r.body, &br, "orphan.css");
    let r = server.request(ae("/both.html", Some("gzip, br")));
    r.assert_status(200).assert_header("content-encoding", "br");
    let r = server.request(ae("/both.html", Some("gzip")));
    r.assert_status(200).assert_header("content-encoding", "gzip");
}

/// mote never decompresses: no acceptable coding, no content. The 404 says
/// it varies, so no cache hands it to a client that would get the file.
#[test]
fn a_variant_without_its_original_is_404_to_clients_that_refuse_it() {
    let (site, gz, _) = orphan_site();
    let server = site.serve(&[]);
    let rows = [
        ("/orphan.js", None),
        ("/orphan.js", Some("identity")),
        ("/orphan.js", Some("br")),
        ("/orphan.js", Some("gzip;q=0")),
        ("/orphan.js", Some("")),
        ("/orphan.css", Some("gzip")),
        ("/both.html", Some("deflate")),
    ];
    for (path, header) in rows {
        let r = server.request(ae(path, header));
        assert_eq!(r.status, 404, "{path} {header:?}\n{}", r.raw_head);
        r.assert_header("vary", "Accept-Encoding").assert_no_header("content-encoding");
        assert_ne!(r.body, gz, "{path} {header:?}");
    }
    // A tarball alone is not a variant: there is no /lone.tar to serve.
    for header in [None, Some("gzip")] {
        server.request(ae("/lone.tar", header)).assert_status(404);
    }
}

#[test]
fn a_variant_without_its_original_keeps_its_validators_and_ranges() {
    let (site, gz, _) = orphan_site();
    let server = site.serve(&[]);
    let accept = "Accept-Encoding: gzip";
    let head = server.request(req("HEAD", "/orphan.js", &[accept]));
    head.assert_status(200).assert_header("content-length", &gz.len().to_string());
    let etag = head.must("etag").to_string();
    let if_none_match = format!("If-None-Match: {etag}");
    let r = server.request(req("GET", "/orphan.js", &[accept, &if_none_match]));
    r.assert_status(304).assert_header("etag", &etag).assert_header("vary", "Accept-Encoding");
    let r = server.request(req("GET", "/orphan.js", &[accept, "Range: bytes=0-9"]));
    r.assert_status(206)
        .assert_header("content-range", &format!("bytes 0-9/{}", gz.len()))
        .assert_header("content-encoding", "gzip");
    assert_bytes_eq(&r.body, &gz[..10], "first ten bytes of the variant");
    // The file itself, by its own name, is unchanged: a gzip file.
    let r = server.request(ae("/orphan.js.gz", Some("gzip")));
    r.assert_status(200).assert_header("content-type", "application/gzip").assert_no_header("content-encoding");
    assert_bytes_eq(&r.body, &gz, "orphan.js.gz by name");
    assert_ne!(r.header("etag"), None);
}

#[test]
fn a_variant_without_its_original_decodes_with_curl_compressed() {
    if tool_missing("curl") {
        return;
    }
    let (site, _, _) = orphan_site();
    let server = site.serve(&[]);
    let out = Command::new("curl")
        .args(["-sS", "--fail", "--compressed", "-H", "Accept-Encoding: gzip"])
        .arg(format!("http://{}/orphan.js", server.addr()))
        .output()
        .expect("run curl");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(String::from_utf8_lossy(&out.stdout), ORPHAN_JS.repeat(30));
}

#[test]
fn check_notes_each_variant_without_its_original() {
    let (site, _, _) = orphan_site();
    let (status, out, err) = run_to_exit(&["--check", "--root", &site.root_str()]);
    assert!(status.success(), "{out}{err}");
    for note in [
        "note: /orphan.js: only orphan.js.gz on disk: served to clients that accept gzip, 404 to others",
        "note: /orphan.css: only orphan.css.br on disk: served to clients that accept br, 404 to others",
        "note: /both.html: only both.html.gz and both.html.br on disk: served to clients that accept gzip or br",
    ] {
        assert!(out.contains(note), "missing {note:?} in:\n{out}");
    }
    assert!(!out.contains("/lone.tar:"), "{out}");
}
