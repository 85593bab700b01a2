//! Real clients against mote: curl (several transfer shapes) and Python's
//! http.client reusing one keep-alive connection.

use crate::common::*;
use std::process::Command;

fn curl(args: &[&str]) -> (i32, String, String) {
    let out = Command::new("curl").args(["-sS", "--max-time", "10"]).args(args).output().expect("run curl");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn curl_gets_files_with_types_and_ranges() {
    if tool_missing("curl") {
        return;
    }
    let site = Site::standard();
    let srv = site.serve(&[]);
    let base = format!("http://{}", srv.addr());

    let (code, out, err) = curl(&[&format!("{base}/style.css")]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, STYLE_CSS);

    let (code, out, err) = curl(&["-w", "%{http_code} %{content_type}", "-o", "/dev/null", &format!("{base}/")]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, "200 text/html; charset=utf-8");

    let (code, out, err) = curl(&["-r", "0-4", &format!("{base}/letters.txt")]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, "abcde");

    let (code, out, err) = curl(&["-I", &format!("{base}/letters.txt")]);
    assert_eq!(code, 0, "{err}");
    let lower = out.to_ascii_lowercase();
    assert!(lower.starts_with("http/1.1 200"), "{out}");
    assert!(lower.contains("content-length: 26\r\n"), "{out}");

    let (code, out, err) =
        curl(&["--http1.0", "-w", "%{http_code}", "-o", "/dev/null", &format!("{base}/letters.txt")]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, "200");

    let (code, out, err) =
        curl(&["-w", "%{http_code} %{redirect_url}", "-o", "/dev/null", &format!("{base}/docs?x=1")]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, format!("301 {base}/docs/?x=1"));

    let (code, out, err) = curl(&["-L", &format!("{base}/docs")]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, "DOCS-INDEX\n");

    let (code, out, err) = curl(&["-w", "%{http_code}", "-o", "/dev/null", &format!("{base}/nope")]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, "404");
}

#[test]
fn curl_reuses_the_connection() {
    if tool_missing("curl") {
        return;
    }
    let site = Site::standard();
    let srv = site.serve(&[]);
    let base = format!("http://{}", srv.addr());
    let (code, out, err) = curl(&[
        "-w",
        "%{http_code}:%{num_connects}\n",
        "-o",
        "/dev/null",
        "-o",
        "/dev/null",
        "-o",
        "/dev/null",
        &format!("{base}/letters.txt"),
        &format!("{base}/nope"),
        &format!("{base}/style.css"),
    ]);
    assert_eq!(code, 0, "{err}");
    // One new connection, then two reuses (404 keeps the connection).
    assert_eq!(out, "200:1\n404:0\n200:0\n");
}

#[test]
fn curl_downloads_a_large_file_exactly() {
    if tool_missing("curl") {
        return;
    }
    let site = Site::standard();
    let data = large_bytes(2 * 1024 * 1024 + 3);
    site.write("big.bin", &data);
    let srv = site.serve(&["--cache-max", "4096"]);
    let out_dir = TempDir::new("curl-out");
    let out_file = out_dir.path().join("big.bin");
    let (code, _out, err) = curl(&["-o", out_file.to_str().unwrap(), &format!("http://{}/big.bin", srv.addr())]);
    assert_eq!(code, 0, "{err}");
    assert_bytes_eq(&std::fs::read(out_file).unwrap(), &data, "curl download");
}

const PYTHON_CLIENT: &str = r#"
import http.client, sys
host, port = sys.argv[1], int(sys.argv[2])
c = http.client.HTTPConnection(host, port, timeout=5)
c.connect()
sock = c.sock
seen = []
for method, path, want_status, want_body in [
    ("GET", "/letters.txt", 200, b"abcdefghijklmnopqrstuvwxyz"),
    ("HEAD", "/letters.txt", 200, b""),
    ("GET", "/nope", 404, None),
    ("GET", "/style.css", 200, b"body{color:#123}\n"),
    ("OPTIONS", "*", 204, b""),
    ("GET", "/a/b/c.txt?x=1", 200, b"C-TXT\n"),
]:
    headers = {"Range": "bytes=0-2"} if path == "/a/b/c.txt?x=1" else {}
    c.request(method, path, headers=headers)
    r = c.getresponse()
    body = r.read()
    if path == "/a/b/c.txt?x=1":
        want_status, want_body = 206, b"C-T"
    assert r.status == want_status, (method, path, r.status)
    if want_body is not None:
        assert body == want_body, (method, path, body)
    assert c.sock is sock, ("connection was not reused", method, path)
    seen.append(r.status)
print(" ".join(map(str, seen)))
"#;

#[test]
fn python_http_client_keeps_one_connection() {
    if tool_missing("python3") {
        return;
    }
    let site = Site::standard();
    let srv = site.serve(&[]);
    let out = Command::new("python3")
        .args(["-c", PYTHON_CLIENT, &srv.addr().ip().to_string(), &srv.addr().port().to_string()])
        .output()
        .expect("run python3");
    assert!(
        out.status.success(),
        "python client failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "200 200 404 200 204 206");
}
