//! Basic authentication (RFC 7617): `--auth USER:PASS` and `--auth-file
//! FILE`. Every response needs credentials; 401 carries the challenge and
//! is never stored; what credentials get is `private` (RFC 9111 §3.5), on
//! `--root` sites and the built-in one, after a reload too; errors name the
//! file but never print a password.

use crate::common::*;
use std::process::Command;
use std::time::{Duration, Instant};

const CHALLENGE: &str = "Basic realm=\"mote\", charset=\"UTF-8\"";

/// RFC 4648 base64 (standard alphabet, padded), for building credentials.
fn base64(input: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in input.chunks(3) {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = u32::from(b[0]) << 16 | u32::from(b[1]) << 8 | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(A[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn basic(user_pass: &str) -> String {
    format!("Authorization: Basic {}", base64(user_pass.as_bytes()))
}

#[track_caller]
fn assert_401(r: &Response, what: &str) {
    assert_eq!(r.status, 401, "{what}; head:\n{}", r.raw_head);
    assert_eq!(r.header_all("www-authenticate"), [CHALLENGE], "{what}; head:\n{}", r.raw_head);
    assert!(!r.text().contains("ROOT-INDEX"), "{what}: a 401 must not leak the page");
}

#[test]
fn base64_helper_matches_rfc4648_vectors() {
    for (plain, enc) in [("", ""), ("f", "Zg=="), ("fo", "Zm8="), ("foo", "Zm9v"), ("foobar", "Zm9vYmFy")] {
        assert_eq!(base64(plain.as_bytes()), enc);
    }
    // RFC 7617 §2's example.
    assert_eq!(basic("Aladdin:open sesame"), "Authorization: Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==");
}

#[test]
fn auth_flag_requires_credentials() {
    let site = Site::standard();
    let server = site.serve(&["--auth", "pi:raspberry"]);
    let wrong: &[(&str, String)] = &[
        ("no Authorization", String::new()),
        ("wrong password", basic("pi:raspberr")),
        ("password with extra byte", basic("pi:raspberryy")),
        ("wrong user", basic("Pi:raspberry")),
        ("empty credentials", basic(":")),
        ("user only", basic("pi")),
        ("other scheme", format!("Authorization: Bearer {}", base64(b"pi:raspberry"))),
        ("no padding", "Authorization: Basic cGk6cmFzcGJlcnJ5eQ".to_string()),
        ("bad base64", "Authorization: Basic !!!!".to_string()),
        ("scheme only", "Authorization: Basic".to_string()),
        ("raw credentials", "Authorization: Basic pi:raspberry".to_string()),
    ];
    for (what, header) in wrong {
        let headers: Vec<&str> = if header.is_empty() { vec![] } else { vec![header.as_str()] };
        assert_401(&server.request(req("GET", "/", &headers)), what);
    }
    // Right credentials: the site, whatever the scheme's case.
    let ok = basic("pi:raspberry");
    let r = server.request(req("GET", "/", &[&ok]));
    r.assert_status(200);
    assert_eq!(r.text(), INDEX_HTML);
    let lower = ok.replace("Basic", "basic");
    server.request(req("GET", "/style.css", &[&lower])).assert_status(200);
    // Every response needs it: missing files, directories, OPTIONS, HEAD.
    assert_401(&server.get("/nope"), "404 path");
    assert_401(&server.get("/docs"), "directory redirect");
    assert_401(&server.request(req("OPTIONS", "/", &[])), "OPTIONS");
    server.request(req("GET", "/nope", &[&ok])).assert_status(404);
    server.request(req("GET", "/docs", &[&ok])).assert_status(301);
    let mut s = server.connect();
    send_raw(&mut s, "HEAD / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
    let bytes = read_to_close(&mut s);
    let text = String::from_utf8_lossy(&bytes).into_owned();
    assert!(text.starts_with("HTTP/1.1 401 ") && text.ends_with("\r\n\r\n"), "HEAD 401 has no body:\n{text}");
}

#[test]
fn a_401_keeps_the_connection_for_the_retry() {
    let site = Site::standard();
    let server = site.serve(&["--auth", "pi:raspberry"]);
    let raw =
        format!("{}GET / HTTP/1.1\r\nHost: t\r\n{}\r\nConnection: close\r\n\r\n", get("/"), basic("pi:raspberry"));
    let rs = exchange(server.addr(), raw);
    assert_eq!(statuses(&rs), [401, 200], "{}", heads(&rs));
    assert_eq!(rs[1].text(), INDEX_HTML);
}

#[test]
fn passwords_may_hold_colons_and_several_auth_flags_add_users() {
    let site = Site::standard();
    let server = site.serve(&["--auth", "me:pa:ss", "--auth=you:x"]);
    server.request(req("GET", "/", &[&basic("me:pa:ss")])).assert_status(200);
    server.request(req("GET", "/", &[&basic("you:x")])).assert_status(200);
    assert_401(&server.request(req("GET", "/", &[&basic("me:pa")])), "password cut at the colon");
    assert_401(&server.request(req("GET", "/", &[&basic("me:x")])), "another user's password");
}

#[test]
fn auth_file_with_comments_and_several_users() {
    let site = Site::standard();
    let file = site.outside(
        "users",
        "# people allowed in\n\nalice:wonderland\r\n  # indented comment\nbob:builder:with:colons\n#carol:comment\n",
    );
    let file = file.to_str().unwrap();
    let server = site.serve(&["--auth-file", file]);
    server.request(req("GET", "/", &[&basic("alice:wonderland")])).assert_status(200);
    server.request(req("GET", "/", &[&basic("bob:builder:with:colons")])).assert_status(200);
    assert_401(&server.request(req("GET", "/", &[&basic("alice:wonderland\r")])), "CR is not part of the password");
    assert_401(&server.request(req("GET", "/", &[&basic("#carol:comment")])), "a comment is no user");
    assert_401(&server.request(req("GET", "/", &[&basic("carol:comment")])), "a comment is no user");
    assert_401(&server.get("/"), "no credentials");
    // --auth and --auth-file together: both sets work.
    let server = site.serve(&["--auth-file", file, "--auth", "pi:raspberry"]);
    server.request(req("GET", "/", &[&basic("alice:wonderland")])).assert_status(200);
    server.request(req("GET", "/", &[&basic("pi:raspberry")])).assert_status(200);
}

#[test]
fn curl_user_works() {
    if tool_missing("curl") {
        return;
    }
    let site = Site::standard();
    let server = site.serve(&["--auth", "pi:rasp berry"]);
    let url = format!("http://{}/", server.addr());
    let run = |extra: &[&str]| -> (String, String) {
        let out = Command::new("curl")
            .args(["-sS", "-w", "\n%{http_code}"])
            .args(extra)
            .arg(&url)
            .output()
            .expect("run curl");
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let (body, code) = text.rsplit_once('\n').unwrap();
        (body.to_string(), code.to_string())
    };
    let (body, code) = run(&["-u", "pi:rasp berry"]);
    assert_eq!(code, "200");
    assert_eq!(body, INDEX_HTML);
    assert_eq!(run(&[]).1, "401");
    assert_eq!(run(&["-u", "pi:wrong"]).1, "401");
    let out = Command::new("curl").args(["-sS", "-o", "/dev/null", "-D", "-"]).arg(&url).output().unwrap();
    let head = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(head.contains(&format!("WWW-Authenticate: {CHALLENGE}\r\n")), "{head}");
}

#[test]
fn bad_auth_files_stop_start_up_naming_the_file() {
    let dir = TempDir::new("authfile");
    let missing = dir.path().join("no-such-users");
    let missing = missing.to_str().unwrap();
    let (status, out, err) = run_to_exit(&["--listen", "127.0.0.1:0", "--auth-file", missing]);
    assert_eq!(status.code(), Some(1), "missing --auth-file: {err}");
    assert!(err.contains(missing) && err.contains("--auth-file"), "the error names the flag and file: {err}");
    assert!(!out.contains("listening") && !err.contains("listening"));

    let bad = dir.write("bad-users", "# ok\nalice:S3cretPassw0rd\nthis line has no colon\n");
    let bad = bad.to_str().unwrap();
    let (status, _, err) = run_to_exit(&["--listen", "127.0.0.1:0", "--auth-file", bad]);
    assert_eq!(status.code(), Some(1), "bad line: {err}");
    assert!(err.contains(bad) && err.contains("line 3"), "the error names the file and line: {err}");
    assert!(!err.contains("S3cretPassw0rd") && !err.contains("no colon"), "a password leaked: {err}");

    let starts_with_colon = dir.write("colon-users", ":Secr3tOnly\n");
    let (status, _, err) =
        run_to_exit(&["--listen", "127.0.0.1:0", "--auth-file", starts_with_colon.to_str().unwrap()]);
    assert_eq!(status.code(), Some(1), "{err}");
    assert!(!err.contains("Secr3tOnly"), "a password leaked: {err}");

    let empty = dir.write("empty-users", "# nobody\n\n");
    let (status, _, err) = run_to_exit(&["--listen", "127.0.0.1:0", "--auth-file", empty.to_str().unwrap()]);
    assert_eq!(status.code(), Some(1), "an auth file with no users: {err}");
    assert!(err.contains(empty.to_str().unwrap()), "{err}");
}

#[test]
fn passwords_never_appear_in_output() {
    // A malformed --auth is a usage error (2) that hides the value.
    for value in ["Hunter2NoColon", ":Hunter2Secret"] {
        let (status, out, err) = run_to_exit(&["--auth", value]);
        assert_eq!(status.code(), Some(2), "--auth {value}: {err}");
        assert!(err.contains("--auth"), "{err}");
        assert!(!err.contains("Hunter2") && !out.contains("Hunter2"), "the value leaked: {err}");
    }
    // --help, wherever it comes.
    let (status, out, err) = run_to_exit(&["--auth", "pi:Hunter2Secret", "--help"]);
    assert_eq!(status.code(), Some(0));
    assert!(out.contains("--auth") && !out.contains("Hunter2") && !err.contains("Hunter2"), "{out}{err}");
    // A later usage error does not echo it either.
    let (status, out, err) = run_to_exit(&["--auth", "pi:Hunter2Secret", "--threads", "zero"]);
    assert_eq!(status.code(), Some(2));
    assert!(!out.contains("Hunter2") && !err.contains("Hunter2"), "{err}");
    // Nor the running server's start-up lines.
    let site = Site::standard();
    let server = site.serve(&["--auth", "pi:Hunter2Secret"]);
    server.get("/").assert_status(401);
    assert!(!server.stderr().contains("Hunter2"), "{}", server.stderr());
}

/// A site with every kind of response a credential can get: HTML, an asset,
/// a hashed asset with a gzip variant, a file above --cache-max (sendfile),
/// a listing, the site's 404 page, and files under user rules.
fn protected_site() -> Site {
    let site = Site::empty();
    site.write("index.html", INDEX_HTML);
    site.write("style.css", STYLE_CSS);
    site.write("app.3f9a2c1b.js", "console.log('hashed');\n".repeat(50));
    site.write("app.3f9a2c1b.js.gz", gzip_bytes("console.log('hashed');\n".repeat(50).as_bytes()));
    site.write("big.bin", large_bytes(64 * 1024));
    site.write("404.html", "<!doctype html>NOT-HERE\n");
    site.write("files/a.txt", LETTERS);
    site.write("short/a.txt", "short\n");
    site.write("plain/a.txt", "plain\n");
    site
}

const PROTECTED_FLAGS: &[&str] =
    &["--cache-max", "16K", "--listing", "--cache-control", "/short/*=max-age=60", "--cache-control", "/plain/*=none"];

/// A request, its status, and its Cache-Control under --auth and without.
type Row = (String, u16, Option<&'static str>, Option<&'static str>);

fn private_rows(tag: &str, gz_tag: &str) -> Vec<Row> {
    vec![
        (req("GET", "/", &[]), 200, Some("private, no-cache"), Some("no-cache")),
        (req("HEAD", "/index.html", &[]), 200, Some("private, no-cache"), Some("no-cache")),
        (req("GET", "/style.css", &[]), 200, Some("private, max-age=3600"), Some("max-age=3600")),
        (
            req("GET", "/app.3f9a2c1b.js", &[]),
            200,
            Some("private, max-age=31536000, immutable"),
            Some("max-age=31536000, immutable"),
        ),
        (
            req("GET", "/app.3f9a2c1b.js", &["Accept-Encoding: gzip"]),
            200,
            Some("private, max-age=31536000, immutable"),
            Some("max-age=31536000, immutable"),
        ),
        (
            req("GET", "/app.3f9a2c1b.js", &["Accept-Encoding: gzip", &format!("If-None-Match: {gz_tag}")]),
            304,
            Some("private, max-age=31536000, immutable"),
            Some("max-age=31536000, immutable"),
        ),
        (
            req("GET", "/style.css", &[&format!("If-None-Match: {tag}")]),
            304,
            Some("private, max-age=3600"),
            Some("max-age=3600"),
        ),
        (req("GET", "/style.css", &["Range: bytes=0-3"]), 206, Some("private, max-age=3600"), Some("max-age=3600")),
        (req("GET", "/big.bin", &[]), 200, Some("private, max-age=3600"), Some("max-age=3600")),
        (req("GET", "/big.bin", &["Range: bytes=10-19"]), 206, Some("private, max-age=3600"), Some("max-age=3600")),
        (req("GET", "/files/", &[]), 200, Some("private, no-cache"), Some("no-cache")),
        (req("GET", "/missing", &[]), 404, Some("private, no-cache"), Some("no-cache")),
        (req("GET", "/short/a.txt", &[]), 200, Some("private, max-age=60"), Some("max-age=60")),
        (req("GET", "/plain/a.txt", &[]), 200, None, None),
    ]
}

/// Adds the credentials line to a request made by `req`.
fn with_credentials(raw: &str, credentials: &str) -> String {
    raw.replacen("\r\n", &format!("\r\n{credentials}\r\n"), 1)
}

/// RFC 9111 §3.5: a shared cache may hand a response to an authenticated
/// request to others only when it says `public` (or s-maxage,
/// must-revalidate); mote says `private` on every file response instead,
/// keeping max-age and immutable, and `no-store` on the 401.
#[test]
fn responses_to_credentials_are_private() {
    let site = protected_site();
    let ok = basic("pi:raspberry");
    let mut flags = PROTECTED_FLAGS.to_vec();
    flags.extend(["--auth", "pi:raspberry"]);
    let server = site.serve(&flags);
    let open = site.serve(PROTECTED_FLAGS);
    let tag = open.get("/style.css").must("etag").to_string();
    let gz_tag = open.request(req("GET", "/app.3f9a2c1b.js", &["Accept-Encoding: gzip"])).must("etag").to_string();
    // Twice each: the second is answered from the memo or a whole response.
    for round in 0..2 {
        for (raw, status, private, anyone) in private_rows(&tag, &gz_tag) {
            for (server, with_auth, want) in [(&server, true, private), (&open, false, anyone)] {
                let what = format!("round {round}, --auth {with_auth}: {}", raw.lines().next().unwrap());
                let r = server.request(if with_auth { with_credentials(&raw, &ok) } else { raw.clone() });
                assert_eq!(r.status, status, "{what}:\n{}", r.raw_head);
                let got = r.header_all("cache-control");
                assert_eq!(got, want.into_iter().collect::<Vec<_>>(), "{what}:\n{}", r.raw_head);
            }
        }
    }
    // The 401 is stored by no cache.
    for path in ["/", "/style.css", "/missing"] {
        let r = server.get(path);
        assert_401(&r, path);
        assert_eq!(r.header_all("cache-control"), ["no-store"], "{path}:\n{}", r.raw_head);
    }
}

/// The built-in site's heads are built without --auth at compile time; with
/// it they are rebuilt private at start-up, variants and 304s included.
#[test]
fn the_built_in_site_is_private_too() {
    let ok = basic("pi:raspberry");
    let server = Server::start(&["--auth", "pi:raspberry"]);
    for (path, want) in [("/", "private, no-cache"), ("/style.css", "private, max-age=3600")] {
        for coding in ["identity", "gzip", "br"] {
            let encoding = format!("Accept-Encoding: {coding}");
            let r = server.request(req("GET", path, &[&ok, &encoding]));
            r.assert_status(200).assert_header("cache-control", want);
            let tag = r.must("etag").to_string();
            let r = server.request(req("GET", path, &[&ok, &encoding, &format!("If-None-Match: {tag}")]));
            r.assert_status(304).assert_header("cache-control", want);
        }
    }
    server.get("/style.css").assert_status(401).assert_header("cache-control", "no-store");
    // Without --auth the compiled heads are served as they are.
    Server::start(&[]).get("/style.css").assert_status(200).assert_header("cache-control", "max-age=3600");
}

/// A reload builds the new catalog for the same audience.
#[test]
fn a_reload_stays_private() {
    let site = protected_site();
    let ok = basic("pi:raspberry");
    let server = site.serve(&["--auth", "pi:raspberry"]);
    server.request(req("GET", "/style.css", &[&ok])).assert_header("cache-control", "private, max-age=3600");
    site.write("style.css", "body{color:#456}\n");
    server.signal("HUP");
    let deadline = Instant::now() + Duration::from_secs(10);
    while !server.stderr().contains("reloaded") {
        assert!(Instant::now() < deadline, "no reload:\n{}", server.stderr());
        std::thread::sleep(Duration::from_millis(20));
    }
    let r = server.request(req("GET", "/style.css", &[&ok]));
    assert_eq!(r.text(), "body{color:#456}\n");
    r.assert_header("cache-control", "private, max-age=3600");
}

/// A rule that says `public` is the owner's choice and is sent as given,
/// but under --auth it gets one warning line naming it.
#[test]
fn a_public_rule_under_auth_is_warned_about() {
    let site = protected_site();
    let rules = ["--cache-control", "/files/*=public, max-age=600", "--cache-control", "*.css=max-age=5"];
    let mut flags = rules.to_vec();
    flags.extend(["--auth", "pi:raspberry"]);
    let server = site.serve(&flags);
    let warnings: Vec<String> =
        server.stderr().lines().filter(|line| line.contains("warning")).map(String::from).collect();
    assert_eq!(warnings.len(), 1, "{}", server.stderr());
    assert!(warnings[0].contains("--cache-control '/files/*=public, max-age=600'"), "{}", warnings[0]);
    let ok = basic("pi:raspberry");
    server.request(req("GET", "/files/a.txt", &[&ok])).assert_header("cache-control", "public, max-age=600");
    server.request(req("GET", "/style.css", &[&ok])).assert_header("cache-control", "private, max-age=5");
    // Without --auth, `public` is nothing to warn about.
    let server = site.serve(&rules);
    assert!(!server.stderr().contains("warning"), "{}", server.stderr());
}
