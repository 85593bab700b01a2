//! `--mime EXT=TYPE`: adds a type for an extension or replaces a built-in
//! one, on `--root` sites and on the built-in site (whose heads are then
//! rebuilt), for every variant and the 304 alike; `--check` prints the
//! table used; a bad value is one line naming the flag.

use crate::common::*;
use std::process::Command;

fn check_output(args: &[&str]) -> String {
    let (status, out, err) = run_to_exit(args);
    assert!(status.success(), "mote {args:?}: {err}");
    out
}

#[test]
fn overrides_type_files_of_a_root_site() {
    let site = Site::standard();
    site.write("model.gltf", "{}\n");
    site.write("SHOUT.GLTF", "{}\n");
    let server = site.serve(&["--mime", "gltf=model/gltf+json", "--mime", ".TXT=text/plain; charset=us-ascii"]);
    let rows = [
        ("/model.gltf", "model/gltf+json"),
        ("/SHOUT.GLTF", "model/gltf+json"),
        ("/notes.txt", "text/plain; charset=us-ascii"),
        ("/letters.txt", "text/plain; charset=us-ascii"),
        ("/style.css", "text/css; charset=utf-8"), // the others stay
    ];
    for (path, content_type) in rows {
        let r = server.get(path);
        r.assert_status(200).assert_header("content-type", content_type);
    }
    // A range of the file carries the same type.
    let r = server.request(req("GET", "/letters.txt", &["Range: bytes=0-3"]));
    r.assert_status(206).assert_header("content-type", "text/plain; charset=us-ascii");
}

#[test]
fn overrides_retype_the_built_in_site() {
    let server = Server::start(&["--mime", "svg=image/x-test", "--mime", "html=text/html"]);
    for (path, content_type) in
        [("/favicon.svg", "image/x-test"), ("/", "text/html"), ("/style.css", "text/css; charset=utf-8")]
    {
        let plain = server.get(path);
        plain.assert_status(200).assert_header("content-type", content_type);
        // Every variant of the file, the compressed ones too.
        let gzip = server.request(req("GET", path, &["Accept-Encoding: gzip, br"]));
        gzip.assert_status(200).assert_header("content-type", content_type);
        // The ETag still revalidates, and the 304 is the same file's.
        let tag = plain.must("etag").to_string();
        server.request(req("GET", path, &[&format!("If-None-Match: {tag}")])).assert_status(304);
    }
}

#[test]
fn the_html_type_goes_to_error_pages_too() {
    let site = Site::standard();
    site.write("404.html", "<p>lost</p>\n");
    let server = site.serve(&["--mime", "html=text/html; charset=iso-8859-1"]);
    let r = server.get("/missing");
    r.assert_status(404).assert_header("content-type", "text/html; charset=iso-8859-1");
    assert_eq!(r.text(), "<p>lost</p>\n");
}

#[test]
fn check_prints_the_table_used() {
    let site = Site::standard();
    site.write("model.gltf", "{}\n");
    let root = site.root_str();
    let out =
        check_output(&["--check", "--root", &root, "--mime", "gltf=model/gltf+json", "--mime", "json=text/x-json"]);
    for line in [
        "/model.gltf\t3\tmodel/gltf+json\t",
        "/data.json\t8\ttext/x-json\t",
        "type\t.gltf\tmodel/gltf+json\t--mime\n",
        "type\t.json\ttext/x-json\t--mime\n",
        "type\t.html\ttext/html; charset=utf-8\tbuilt in\n",
        "type\t.css\ttext/css; charset=utf-8\tbuilt in\n",
    ] {
        assert!(out.contains(line), "missing {line:?} in\n{out}");
    }
    assert!(!out.contains("type\t.json\tapplication/json"), "the override replaces the built-in line:\n{out}");
    // No longer an unknown type.
    assert!(!out.contains("/model.gltf: unknown type"), "{out}");
    // The built-in site too.
    let out = check_output(&["--check", "--mime", "svg=image/x-test"]);
    assert!(out.contains("/favicon.svg\t") && out.contains("\timage/x-test\t"), "{out}");
    assert!(out.contains("type\t.svg\timage/x-test\t--mime\n"), "{out}");
    assert!(out.contains("type\t.css\ttext/css; charset=utf-8\tbuilt in\n"), "{out}");
}

#[test]
fn a_bad_value_is_one_line_naming_the_flag() {
    let site = Site::standard();
    let root = site.root_str();
    for bad in [
        "gltf",
        "=text/plain",
        "gltf=",
        "gltf=text",
        "gltf=text/",
        "gltf=te xt/plain",
        "gltf=text/plain\r\nX-Evil: 1",
        "gltf=text/plain; charset",
        "tar.gz=application/gzip",
    ] {
        let (status, out, err) = run_to_exit(&["--root", &root, "--listen", "127.0.0.1:0", "--mime", bad]);
        assert_eq!(status.code(), Some(2), "--mime {bad:?}: {err}");
        assert!(err.starts_with("mote: --mime: invalid value"), "--mime {bad:?}: {err}");
        assert_eq!(err.lines().count(), 1, "one line: {err:?}");
        assert!(out.is_empty());
    }
    let (status, _, err) = run_to_exit(&["--mime", "a=x/y", "--mime", ".A=x/z", "--listen", "127.0.0.1:0"]);
    assert_eq!(status.code(), Some(2), "{err}");
    assert!(err.contains("--mime"), "{err}");
}

#[test]
fn curl_sees_the_type() {
    if tool_missing("curl") {
        return;
    }
    let site = Site::standard();
    site.write("model.gltf", "{}\n");
    let server = site.serve(&["--mime", "gltf=model/gltf+json"]);
    let out = Command::new("curl")
        .args(["-sS", "--max-time", "10", "-o", "/dev/null", "-w", "%{content_type}"])
        .arg(format!("http://{}/model.gltf", server.addr()))
        .output()
        .expect("run curl");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "model/gltf+json");
}
