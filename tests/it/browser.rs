//! A real browser: headless Chromium (`/usr/bin/chromium`, driven by
//! playwright-core from `tests/browser/node_modules`) loads a site with
//! hashed, precompressed assets from mote, runs its script, and on reload
//! revalidates the no-cache HTML (304) while the immutable assets come from
//! its cache without a request — checked in the browser's network events and
//! in mote's access log. The embedded site is loaded and screenshotted too,
//! over plain HTTP and, in a TLS build, over HTTPS.
//!
//! Needs: `apt-get install -y chromium nodejs npm` and
//! `(cd tests/browser && npm ci)`. Missing tools fail the tests unless
//! `MOTE_ALLOW_MISSING_TOOLS` is set.

use crate::common::*;
use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const CHROMIUM: &str = "/usr/bin/chromium";
const NODE_TIMEOUT: Duration = Duration::from_secs(180);
const APP_JS: &str = "/assets/app.3f9a2c1b.js";
const STYLE_CSS_PATH: &str = "/assets/style.8c1d2e3f.css";

fn browser_dir() -> PathBuf {
    repo_dir().join("tests/browser")
}

/// Whether Chromium, node and playwright-core are there; panics with the
/// install commands if not, unless `MOTE_ALLOW_MISSING_TOOLS` is set.
pub fn browser_available() -> bool {
    let mut missing = Vec::new();
    if !Path::new(CHROMIUM).exists() {
        missing.push(format!("{CHROMIUM} (apt-get install -y chromium)"));
    }
    let node = Command::new("node").arg("--version").stdout(Stdio::null()).stderr(Stdio::null()).status();
    if !node.map(|s| s.success()).unwrap_or(false) {
        missing.push("node (apt-get install -y nodejs npm)".to_string());
    }
    if !browser_dir().join("node_modules/playwright-core/package.json").exists() {
        missing.push(format!("playwright-core (cd {} && npm ci)", browser_dir().display()));
    }
    if missing.is_empty() {
        return true;
    }
    if std::env::var_os("MOTE_ALLOW_MISSING_TOOLS").is_some() {
        eprintln!("SKIPPED: browser test needs {} (MOTE_ALLOW_MISSING_TOOLS is set)", missing.join(", "));
        return false;
    }
    panic!("the browser test needs {}; install them or set MOTE_ALLOW_MISSING_TOOLS=1", missing.join(", "));
}

/// Runs check.mjs and returns its JSON result (its last stdout line).
fn run_check(base: &str, screenshot: &Path, extra: &[&str]) -> Json {
    let screenshot = screenshot.to_str().expect("a UTF-8 path");
    let args: Vec<&str> = [base, screenshot].into_iter().chain(extra.iter().copied()).collect();
    let stdout = run_node("check.mjs", &args);
    let last = stdout
        .lines()
        .rev()
        .find(|l| l.starts_with('{'))
        .unwrap_or_else(|| panic!("check.mjs printed no JSON; stdout:\n{stdout}"));
    let json = Json::parse(last).unwrap_or_else(|e| panic!("bad JSON from check.mjs ({e}): {last}"));
    if let Some(error) = json.get("error").and_then(Json::as_str) {
        panic!("check.mjs failed: {error}");
    }
    json
}

/// Runs `script` of tests/browser with node and returns its stdout,
/// trimmed; panics with its output if it fails or outlives `NODE_TIMEOUT`.
pub fn run_node(script: &str, args: &[&str]) -> String {
    let mut child = Command::new("node")
        .arg(browser_dir().join(script))
        .args(args)
        .current_dir(browser_dir())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn node");
    let mut out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let out_t = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = std::io::Read::read_to_string(&mut out, &mut s);
        s
    });
    let err_t = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = std::io::Read::read_to_string(&mut err, &mut s);
        s
    });
    let deadline = Instant::now() + NODE_TIMEOUT;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{script} did not finish within {NODE_TIMEOUT:?}");
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let stdout = out_t.join().unwrap();
    let stderr = err_t.join().unwrap();
    assert!(status.success(), "{script} exited {status}; stdout:\n{stdout}\nstderr:\n{stderr}");
    stdout.trim().to_string()
}

/// Decodes a PNG with python3's standard zlib: (width, height, distinct
/// colours, capped at 4096). Panics if it is not a well-formed 8-bit PNG.
fn png_summary(path: &Path) -> (u32, u32, usize) {
    const SCRIPT: &str = r#"
import sys, zlib, struct
data = open(sys.argv[1], 'rb').read()
assert data[:8] == b'\x89PNG\r\n\x1a\n', 'not a PNG'
pos, idat, ihdr = 8, b'', None
while pos < len(data):
    n, kind = struct.unpack('>I4s', data[pos:pos + 8])
    body = data[pos + 8:pos + 8 + n]
    if kind == b'IHDR': ihdr = struct.unpack('>IIBBBBB', body)
    if kind == b'IDAT': idat += body
    if kind == b'IEND': break
    pos += 12 + n
w, h, depth, ctype = ihdr[:4]
assert depth == 8 and ctype in (2, 6), 'unexpected PNG format %r' % (ihdr,)
bpp = 3 if ctype == 2 else 4
raw = zlib.decompress(idat)
stride = w * bpp
prev = bytearray(stride)
colours = set()
for y in range(h):
    f = raw[y * (stride + 1)]
    line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
    for i in range(stride):
        a = line[i - bpp] if i >= bpp else 0
        b = prev[i]
        c = prev[i - bpp] if i >= bpp else 0
        if f == 1: line[i] = (line[i] + a) & 255
        elif f == 2: line[i] = (line[i] + b) & 255
        elif f == 3: line[i] = (line[i] + (a + b) // 2) & 255
        elif f == 4:
            p = a + b - c
            pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
            pr = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
            line[i] = (line[i] + pr) & 255
    if len(colours) < 4096:
        for x in range(0, stride, bpp * 2):
            colours.add(bytes(line[x:x + 3]))
    prev = line
print(w, h, len(colours))
"#;
    let out = Command::new("python3").arg("-c").arg(SCRIPT).arg(path).output().expect("python3");
    assert!(out.status.success(), "decoding {}: {}", path.display(), String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).unwrap();
    let nums: Vec<usize> = text.split_whitespace().map(|n| n.parse().unwrap()).collect();
    (nums[0] as u32, nums[1] as u32, nums[2])
}

#[track_caller]
fn assert_screenshot(path: &Path, min_colours: usize) {
    let len = fs::metadata(path).unwrap_or_else(|e| panic!("screenshot {}: {e}", path.display())).len();
    assert!(len > 3000, "screenshot {} is only {len} bytes", path.display());
    let (w, h, colours) = png_summary(path);
    assert_eq!((w, h), (800, 600), "screenshot size");
    assert!(colours >= min_colours, "screenshot {} has {colours} colours: blank?", path.display());
}

/// The test site: index.html (no-cache) with a hashed script and stylesheet
/// (immutable), each with a .gz beside it.
fn app_site() -> Site {
    let s = Site::empty();
    s.write(
        "index.html",
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>loading</title>\
         <link rel=\"icon\" href=\"data:,\">\
         <link rel=\"stylesheet\" href=\"/assets/style.8c1d2e3f.css\">\
         <script src=\"/assets/app.3f9a2c1b.js\" defer></script></head>\
         <body><h1>mote browser check</h1><div id=\"box\">waiting for JS</div></body></html>\n",
    );
    let mut js = String::from(
        "document.title = 'mote-ok';\ndocument.documentElement.dataset.moteJs = 'ran';\n\
         document.getElementById('box').textContent = 'JS ran from a precompressed, hashed asset';\n",
    );
    for i in 0..40 {
        js.push_str(&format!("// padding line {i} so that gzip has something to do\n"));
    }
    let mut css = String::from(
        "body{background:#2a6f97;color:#fff;font:20px sans-serif;margin:2rem}\n\
         #box{width:320px;height:160px;background:#f4a261;color:#000;padding:1rem}\n",
    );
    for i in 0..40 {
        css.push_str(&format!(".unused-{i}{{margin:{i}px}}\n"));
    }
    s.write(&APP_JS[1..], &js);
    s.write(&format!("{}.gz", &APP_JS[1..]), gzip_bytes(js.as_bytes()));
    s.write(&STYLE_CSS_PATH[1..], &css);
    s.write(&format!("{}.gz", &STYLE_CSS_PATH[1..]), gzip_bytes(css.as_bytes()));
    s
}

/// (path, status) of each combined-format access log line.
fn log_entries(text: &str) -> Vec<(String, u16)> {
    text.lines()
        .filter(|l| !l.is_empty())
        .map(|line| {
            let request = line.split('"').nth(1).unwrap_or_else(|| panic!("access line {line:?}"));
            let path = request.split(' ').nth(1).unwrap_or("").to_string();
            let status =
                line.split('"').nth(2).unwrap_or("").split_whitespace().next().unwrap_or("0").parse().unwrap_or(0);
            (path, status)
        })
        .collect()
}

#[test]
fn hashed_assets_load_and_reload_revalidates_only_the_html() {
    if !browser_available() {
        return;
    }
    let site = app_site();
    let log = site.base.path().join("access.log");
    let log_str = log.to_str().unwrap().to_string();
    let server = site.serve(&["--access-log", &log_str]);
    let shot = site.base.path().join("app.png");
    let base = format!("http://{}", server.addr());
    let json = run_check(&base, &shot, &["--app", "--access-log", &log_str]);

    // The page ran its hashed script and applied its hashed stylesheet.
    assert_eq!(json.str_at("title"), "mote-ok", "the script did not run: {json:?}");
    assert_eq!(json.str_at("jsRan"), "ran");
    assert_eq!(json.str_at("cssApplied"), "rgb(42, 111, 151)", "the stylesheet was not applied");
    assert_screenshot(&shot, 3);

    // First load: everything from the server, assets as their gzip variants.
    let first = json.get("first").unwrap();
    let html_tag = {
        let responses = first.get("responses").unwrap().as_array();
        let by_url = |u: &str| {
            responses
                .iter()
                .find(|r| r.str_at("url") == u)
                .unwrap_or_else(|| panic!("no response for {u} on the first load: {first:?}"))
        };
        for asset in [APP_JS, STYLE_CSS_PATH] {
            let r = by_url(asset);
            assert_eq!(r.num_at("status"), 200.0, "{asset}");
            assert_eq!(
                r.get("contentEncoding").and_then(Json::as_str),
                Some("gzip"),
                "{asset} should arrive gzipped: {r:?}"
            );
        }
        by_url("/").str_at("etag").to_string()
    };

    // Reload: the HTML went to the server with If-None-Match and got a 304;
    // the immutable assets never left the browser's cache.
    let reload = json.get("reload").unwrap();
    assert_eq!(json.str_at("reloadTitle"), "mote-ok");
    assert_eq!(json.str_at("reloadJsRan"), "ran");
    let wire = reload.get("wire").unwrap().as_array();
    let html = wire
        .iter()
        .find(|w| w.str_at("url") == "/")
        .unwrap_or_else(|| panic!("the reload did not request the HTML: {reload:?}"));
    assert_eq!(html.get("sentIfNoneMatch").and_then(Json::as_str), Some(html_tag.as_str()), "{html:?}");
    assert_eq!(html.get("wireStatus").and_then(Json::as_num), Some(304.0), "the HTML was not revalidated: {html:?}");
    for asset in [APP_JS, STYLE_CSS_PATH] {
        for w in wire.iter().filter(|w| w.str_at("url") == asset) {
            let cached = ["servedFromCache", "fromDiskCache", "fromMemoryCache"]
                .iter()
                .any(|k| w.get(k).and_then(Json::as_bool) == Some(true));
            assert!(cached && w.get("wireStatus").is_none(), "{asset} went to the network on reload: {w:?}");
        }
    }
    assert_eq!(reload.get("htmlRevalidated").and_then(Json::as_bool), Some(true), "{reload:?}");
    assert_eq!(reload.get("assetsFromCache").and_then(Json::as_bool), Some(true), "{reload:?}");

    // mote's own account: the access log after the reload began holds the
    // HTML's 304 and no asset request at all.
    let offset = json.num_at("logOffsetBeforeReload") as usize;
    let deadline = Instant::now() + Duration::from_secs(5);
    let text = loop {
        let text = fs::read_to_string(&log).unwrap_or_default();
        if text.len() > offset || Instant::now() > deadline {
            break text;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let before = log_entries(&text[..offset]);
    for path in ["/", APP_JS, STYLE_CSS_PATH] {
        assert!(before.contains(&(path.to_string(), 200)), "first load of {path} not logged as 200:\n{text}");
    }
    let after = log_entries(&text[offset..]);
    assert_eq!(
        after,
        [("/".to_string(), 304)],
        "the reload should reach mote only for the HTML (304):\n{}",
        &text[offset..]
    );
}

#[test]
fn embedded_site_renders() {
    if !browser_available() {
        return;
    }
    let server = Server::start(&[]);
    let dir = TempDir::new("browser");
    let shot = dir.path().join("embedded.png");
    let json = run_check(&format!("http://{}", server.addr()), &shot, &[]);
    assert_eq!(json.str_at("title"), "mote", "{json:?}");
    let responses = json.get("first").unwrap().get("responses").unwrap().as_array();
    let css = responses
        .iter()
        .find(|r| r.str_at("url") == "/style.css")
        .unwrap_or_else(|| panic!("the embedded page did not load /style.css: {json:?}"));
    assert_eq!(css.num_at("status"), 200.0);
    let encoding = css.get("contentEncoding").and_then(Json::as_str);
    assert!(matches!(encoding, Some("br") | Some("gzip")), "style.css should arrive precompressed, got {encoding:?}");
    // The stylesheet applied: the body is not the default transparent.
    assert_ne!(json.str_at("bodyBackground"), "rgba(0, 0, 0, 0)", "{json:?}");
    assert_screenshot(&shot, 2);
}

/// The embedded site over HTTPS with a certificate the test makes:
/// Chromium is told to accept that one public key (not any certificate),
/// renders the page and says the connection was TLS.
#[test]
fn embedded_site_renders_over_https() {
    if !crate::tls::has_tls() || tool_missing("openssl") || !browser_available() {
        return;
    }
    let pki = crate::tls::Pki::new();
    let (cert, key) = pki.leaf("leaf", "localhost", 2);
    // base64(SHA-256(SubjectPublicKeyInfo)), as Chromium's flag takes it.
    let spki = Command::new("sh")
        .arg("-c")
        .arg("openssl x509 -in \"$0\" -pubkey -noout | openssl pkey -pubin -outform der | openssl dgst -sha256 -binary | base64")
        .arg(&cert)
        .output()
        .expect("openssl");
    let spki = String::from_utf8(spki.stdout).unwrap().trim().to_string();
    assert_eq!(spki.len(), 44, "not a SHA-256 in base64: {spki:?}");
    let server = Server::start(&["--listen-tls", "127.0.0.1:0", "--tls-cert", &cert, "--tls-key", &key]);
    let dir = TempDir::new("browser");
    let shot = dir.path().join("embedded-https.png");
    let base = format!("https://127.0.0.1:{}", server.addr().port());
    let json = run_check(&base, &shot, &["--spki", &spki]);
    assert_eq!(json.str_at("protocol"), "https:", "{json:?}");
    assert_eq!(json.str_at("title"), "mote", "{json:?}");
    assert_eq!(json.str_at("heading"), "mote", "{json:?}");
    assert!(json.str_at("text").contains("If you can read this, mote is running"), "{json:?}");
    let responses = json.get("first").unwrap().get("responses").unwrap().as_array();
    for path in ["/", "/style.css"] {
        let response = responses
            .iter()
            .find(|r| r.str_at("url") == path)
            .unwrap_or_else(|| panic!("the page did not load {path}: {json:?}"));
        assert_eq!(response.num_at("status"), 200.0, "{path}");
        let tls = response.get("tls").and_then(Json::as_str);
        assert!(matches!(tls, Some("TLS 1.3") | Some("TLS 1.2")), "{path} over {tls:?}");
    }
    assert_ne!(json.str_at("bodyBackground"), "rgba(0, 0, 0, 0)", "{json:?}");
    assert_screenshot(&shot, 2);
}

// ---------------------------------------------------------------------------
// A minimal JSON reader (std only)
// ---------------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq)]
enum Json {
    Null,
    Bool(bool),
    Num(f64),
    Str(String),
    Arr(Vec<Json>),
    Obj(BTreeMap<String, Json>),
}

impl Json {
    fn parse(text: &str) -> Result<Json, String> {
        let mut p = Parser { b: text.as_bytes(), i: 0 };
        let v = p.value()?;
        p.ws();
        if p.i != p.b.len() {
            return Err(format!("trailing bytes at {}", p.i));
        }
        Ok(v)
    }
    fn get(&self, key: &str) -> Option<&Json> {
        match self {
            Json::Obj(m) => m.get(key).filter(|v| **v != Json::Null),
            _ => None,
        }
    }
    fn as_str(&self) -> Option<&str> {
        if let Json::Str(s) = self {
            Some(s)
        } else {
            None
        }
    }
    fn as_num(&self) -> Option<f64> {
        if let Json::Num(n) = self {
            Some(*n)
        } else {
            None
        }
    }
    fn as_bool(&self) -> Option<bool> {
        if let Json::Bool(b) = self {
            Some(*b)
        } else {
            None
        }
    }
    fn as_array(&self) -> &[Json] {
        if let Json::Arr(a) = self {
            a
        } else {
            panic!("not an array: {self:?}")
        }
    }
    #[track_caller]
    fn str_at(&self, key: &str) -> &str {
        self.get(key).and_then(Json::as_str).unwrap_or_else(|| panic!("no string `{key}` in {self:?}"))
    }
    #[track_caller]
    fn num_at(&self, key: &str) -> f64 {
        self.get(key).and_then(Json::as_num).unwrap_or_else(|| panic!("no number `{key}` in {self:?}"))
    }
}

struct Parser<'a> {
    b: &'a [u8],
    i: usize,
}

impl Parser<'_> {
    fn ws(&mut self) {
        while self.i < self.b.len() && self.b[self.i].is_ascii_whitespace() {
            self.i += 1;
        }
    }
    fn eat(&mut self, c: u8) -> Result<(), String> {
        self.ws();
        if self.b.get(self.i) == Some(&c) {
            self.i += 1;
            Ok(())
        } else {
            Err(format!("expected {:?} at {}", c as char, self.i))
        }
    }
    fn value(&mut self) -> Result<Json, String> {
        self.ws();
        match self.b.get(self.i) {
            Some(b'{') => {
                self.i += 1;
                let mut m = BTreeMap::new();
                self.ws();
                if self.b.get(self.i) == Some(&b'}') {
                    self.i += 1;
                    return Ok(Json::Obj(m));
                }
                loop {
                    self.ws();
                    let k = self.string()?;
                    self.eat(b':')?;
                    let v = self.value()?;
                    m.insert(k, v);
                    self.ws();
                    match self.b.get(self.i) {
                        Some(b',') => self.i += 1,
                        Some(b'}') => {
                            self.i += 1;
                            return Ok(Json::Obj(m));
                        }
                        _ => return Err(format!("bad object at {}", self.i)),
                    }
                }
            }
            Some(b'[') => {
                self.i += 1;
                let mut a = Vec::new();
                self.ws();
                if self.b.get(self.i) == Some(&b']') {
                    self.i += 1;
                    return Ok(Json::Arr(a));
                }
                loop {
                    a.push(self.value()?);
                    self.ws();
                    match self.b.get(self.i) {
                        Some(b',') => self.i += 1,
                        Some(b']') => {
                            self.i += 1;
                            return Ok(Json::Arr(a));
                        }
                        _ => return Err(format!("bad array at {}", self.i)),
                    }
                }
            }
            Some(b'"') => self.string().map(Json::Str),
            Some(b't') if self.b[self.i..].starts_with(b"true") => {
                self.i += 4;
                Ok(Json::Bool(true))
            }
            Some(b'f') if self.b[self.i..].starts_with(b"false") => {
                self.i += 5;
                Ok(Json::Bool(false))
            }
            Some(b'n') if self.b[self.i..].starts_with(b"null") => {
                self.i += 4;
                Ok(Json::Null)
            }
            Some(_) => {
                let start = self.i;
                while self.i < self.b.len() && b"+-0123456789.eE".contains(&self.b[self.i]) {
                    self.i += 1;
                }
                let t = std::str::from_utf8(&self.b[start..self.i]).unwrap();
                t.parse().map(Json::Num).map_err(|_| format!("bad value at {start}"))
            }
            None => Err("unexpected end".into()),
        }
    }
    fn string(&mut self) -> Result<String, String> {
        if self.b.get(self.i) != Some(&b'"') {
            return Err(format!("expected a string at {}", self.i));
        }
        self.i += 1;
        let mut out: Vec<u16> = Vec::new();
        let mut bytes = Vec::new();
        loop {
            let c = *self.b.get(self.i).ok_or("unterminated string")?;
            self.i += 1;
            match c {
                b'"' => break,
                b'\\' => {
                    let e = *self.b.get(self.i).ok_or("bad escape")?;
                    self.i += 1;
                    let ch = match e {
                        b'n' => '\n',
                        b't' => '\t',
                        b'r' => '\r',
                        b'b' => '\u{8}',
                        b'f' => '\u{c}',
                        b'u' => {
                            let hex = std::str::from_utf8(&self.b[self.i..self.i + 4]).map_err(|_| "bad \\u")?;
                            self.i += 4;
                            out.push(u16::from_str_radix(hex, 16).map_err(|_| "bad \\u")?);
                            // Surrogate pairs are completed by the next \u.
                            if !(0xD800..0xDC00).contains(out.last().unwrap()) {
                                bytes.extend(String::from_utf16_lossy(&out).into_bytes());
                                out.clear();
                            }
                            continue;
                        }
                        other => other as char,
                    };
                    let mut buf = [0u8; 4];
                    bytes.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
                }
                _ => bytes.push(c),
            }
        }
        String::from_utf8(bytes).map_err(|_| "string is not UTF-8".into())
    }
}

#[test]
fn json_reader_reads_what_check_mjs_prints() {
    let v = Json::parse(r#"{"a":[1,2.5,-3e2],"b":{"c":"x\"y\\u00e9\u00e9","d":true,"e":null},"f":false}"#).unwrap();
    assert_eq!(v.get("a").unwrap().as_array().len(), 3);
    assert_eq!(v.get("b").unwrap().str_at("c"), "x\"y\\u00e9é");
    assert_eq!(v.get("b").unwrap().get("d").and_then(Json::as_bool), Some(true));
    assert!(v.get("b").unwrap().get("e").is_none());
    assert!(Json::parse("{").is_err());
}
