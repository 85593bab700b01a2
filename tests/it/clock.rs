//! Pis without a clock (RFC 9110 §6.6.1): while the system clock reads
//! earlier than the binary's build, mote sends no Date; revalidation by
//! content ETag still works; when the clock is set, Date comes back.
//!
//! The real binary runs under libfaketime (`apt-get install -y faketime`),
//! which only works on a dynamically linked binary: with `MOTE_RUNNER`
//! (qemu) or a static `MOTE_BIN` these tests print a note and pass.

use crate::common::*;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const FAKETIME: &str = "/usr/bin/faketime";

/// Whether the binary has a PT_INTERP program header (is dynamically linked).
fn dynamically_linked(path: &str) -> bool {
    let Ok(elf) = fs::read(path) else { return false };
    if elf.len() < 64 || &elf[..4] != b"\x7fELF" {
        return false;
    }
    let is64 = elf[4] == 2;
    let little = elf[5] == 1;
    let u16_at = |o: usize| if little { u16::from_le_bytes([elf[o], elf[o + 1]]) } else { u16::from_be_bytes([elf[o], elf[o + 1]]) } as usize;
    let u32_at = |o: usize| {
        let b = [elf[o], elf[o + 1], elf[o + 2], elf[o + 3]];
        (if little { u32::from_le_bytes(b) } else { u32::from_be_bytes(b) }) as usize
    };
    let u64_at = |o: usize| {
        let mut b = [0u8; 8];
        b.copy_from_slice(&elf[o..o + 8]);
        (if little { u64::from_le_bytes(b) } else { u64::from_be_bytes(b) }) as usize
    };
    let (phoff, phentsize, phnum) =
        if is64 { (u64_at(32), u16_at(54), u16_at(56)) } else { (u32_at(28), u16_at(42), u16_at(44)) };
    (0..phnum).any(|i| {
        let at = phoff + i * phentsize;
        at + 4 <= elf.len() && u32_at(at) == 3 // PT_INTERP
    })
}

/// Whether faketime can be used on the binary under test; panics when the
/// tool is missing unless `MOTE_ALLOW_MISSING_TOOLS` is set.
fn faketime_usable() -> bool {
    if std::env::var("MOTE_RUNNER").is_ok_and(|r| !r.trim().is_empty()) {
        eprintln!(
            "NOTE: clock tests skipped: MOTE_RUNNER is set, and libfaketime cannot reach a binary under an emulator"
        );
        return false;
    }
    if !dynamically_linked(&bin()) {
        eprintln!(
            "NOTE: clock tests skipped: {} is statically linked, so libfaketime (LD_PRELOAD) cannot work on it",
            bin()
        );
        return false;
    }
    if !Path::new(FAKETIME).exists() {
        if std::env::var_os("MOTE_ALLOW_MISSING_TOOLS").is_some() {
            eprintln!("SKIPPED: {FAKETIME} is not installed (MOTE_ALLOW_MISSING_TOOLS is set)");
            return false;
        }
        panic!("{FAKETIME} is required by the clock tests: apt-get install -y faketime (or set MOTE_ALLOW_MISSING_TOOLS=1)");
    }
    true
}

/// libfaketime's multi-threaded preload library, for runs whose fake time
/// is read from a file (the `faketime` wrapper pins it with $FAKETIME).
fn libfaketime() -> PathBuf {
    let mut dirs = vec![PathBuf::from("/usr/lib/faketime"), PathBuf::from("/usr/local/lib/faketime")];
    if let Ok(entries) = fs::read_dir("/usr/lib") {
        dirs.extend(entries.flatten().map(|e| e.path().join("faketime")));
    }
    dirs.into_iter().map(|d| d.join("libfaketimeMT.so.1")).find(|p| p.exists()).unwrap_or_else(|| {
        panic!("{FAKETIME} is installed but libfaketimeMT.so.1 was not found under /usr/lib/*/faketime")
    })
}

fn site() -> Site {
    let s = Site::empty();
    s.write("index.html", INDEX_HTML);
    s.write("style.css", STYLE_CSS);
    s
}

/// The binary itself with libfaketime preloaded (not under the `faketime`
/// wrapper, which forks: killing the wrapper would leave mote running).
fn under_faketime(when: &str, args: &[&str]) -> Server {
    let lib = libfaketime();
    let start = format!("@{when}");
    Server::start_with_prefix(
        &[],
        &[("LD_PRELOAD", lib.to_str().unwrap()), ("FAKETIME", &start), ("FAKETIME_DONT_FAKE_MONOTONIC", "1")],
        args,
    )
}

/// No Date on 200, 304, 404, 206 and a canned 400; ETag revalidation works.
#[track_caller]
fn assert_no_date_and_revalidation(server: &Server, what: &str) {
    let ok = server.get("/style.css");
    ok.assert_status(200).assert_no_header("date");
    assert!(ok.header("last-modified").is_some(), "{what}: {}", ok.raw_head);
    let tag = ok.must("etag").to_string();
    let r = server.request(req("GET", "/style.css", &[&format!("If-None-Match: {tag}")]));
    r.assert_status(304).assert_no_header("date").assert_header("etag", &tag);
    let r = server.request(req("GET", "/style.css", &["If-None-Match: \"0000000000000000\""]));
    r.assert_status(200).assert_no_header("date");
    server.get("/").assert_status(200).assert_no_header("date");
    server.get("/nope").assert_status(404).assert_no_header("date");
    server.request(req("GET", "/style.css", &["Range: bytes=0-1"])).assert_status(206).assert_no_header("date");
    server.request("GET / HTTP/1.1\r\n\r\n").assert_status(400).assert_no_header("date");
    // Keep-alive: several responses on one connection, none with a Date.
    let raw = format!("{}{}", get("/style.css"), closing_get("/"));
    let rs = exchange(server.addr(), raw);
    assert_eq!(statuses(&rs), [200, 200], "{what}");
    for r in &rs {
        r.assert_no_header("date");
    }
}

#[test]
fn clock_at_1970_sends_no_date() {
    if !faketime_usable() {
        return;
    }
    let site = site();
    let root = site.root_str();
    let server = under_faketime("1970-01-01 00:00:00", &["--root", &root]);
    assert_no_date_and_revalidation(&server, "--root under 1970");
}

#[test]
fn clock_at_1970_embedded_site() {
    if !faketime_usable() {
        return;
    }
    let server = under_faketime("1970-01-01 00:00:00", &[]);
    assert_no_date_and_revalidation(&server, "embedded under 1970");
    // Its variants revalidate too.
    let r = server.request(req("GET", "/style.css", &["Accept-Encoding: br"]));
    r.assert_status(200).assert_no_header("date");
    let tag = r.must("etag").to_string();
    let r = server.request(req("GET", "/style.css", &["Accept-Encoding: br", &format!("If-None-Match: {tag}")]));
    r.assert_status(304).assert_no_header("date");
}

/// An old saved time (a Pi that restored its last shutdown time, long ago)
/// is no better than 1970.
#[test]
fn an_old_clock_sends_no_date() {
    if !faketime_usable() {
        return;
    }
    let site = site();
    let root = site.root_str();
    let server = under_faketime("2001-01-01 12:00:00", &["--root", &root]);
    assert_no_date_and_revalidation(&server, "--root under 2001");
}

/// A clock after the build is trusted, even a surprising one: the check is
/// "not before the build", not "close to the test's clock".
#[test]
fn a_clock_after_the_build_sends_its_date() {
    if !faketime_usable() {
        return;
    }
    let site = site();
    let root = site.root_str();
    let server = under_faketime("2099-01-01 00:00:00", &["--root", &root]);
    let r = server.get("/style.css");
    r.assert_status(200);
    let date = r.must("date");
    let secs = parse_imf_fixdate(date).unwrap_or_else(|| panic!("Date {date:?} is not an IMF-fixdate"));
    let target = 4_070_908_800; // 2099-01-01T00:00:00Z
    assert!((target..target + 3600).contains(&secs), "Date {date:?} is not the faked 2099 clock");
}

/// The clock jumps forward (NTP ran): Date comes back by itself, and goes
/// away again if the clock falls back before the build.
#[test]
fn date_comes_back_when_the_clock_is_set() {
    if !faketime_usable() {
        return;
    }
    let lib = libfaketime();
    let site = site();
    let root = site.root_str();
    let spec = site.outside("faketime-spec", "@1970-01-01 00:00:00\n");
    let spec_str = spec.to_str().unwrap().to_string();
    let server = Server::start_with_prefix(
        &[],
        &[("LD_PRELOAD", lib.to_str().unwrap()), ("FAKETIME_TIMESTAMP_FILE", &spec_str), ("FAKETIME_NO_CACHE", "1")],
        &["--root", &root],
    );
    server.get("/style.css").assert_status(200).assert_no_header("date");
    fs::write(&spec, "+0\n").unwrap(); // the real time
    let wait_for = |want_date: bool| -> Response {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let r = server.get("/style.css");
            if r.header("date").is_some() == want_date || Instant::now() > deadline {
                return r;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    };
    let r = wait_for(true);
    assert_date_now(&r);
    fs::write(&spec, "@1970-01-01 00:00:00\n").unwrap();
    wait_for(false).assert_no_header("date");
}

#[test]
fn real_clock_sends_date() {
    let site = site();
    let server = site.serve(&[]);
    let ok = server.get("/style.css");
    assert_date_now(&ok);
    let tag = ok.must("etag").to_string();
    let r = server.request(req("GET", "/style.css", &[&format!("If-None-Match: {tag}")]));
    r.assert_status(304);
    assert_date_now(&r);
    assert_date_now(&server.get("/nope"));
    assert_date_now(&Server::start(&[]).get("/"));
}

#[test]
fn elf_check_sees_the_dynamic_test_binary() {
    // Guards the skip logic: the cargo-built binary on a glibc host is dynamic.
    if std::env::var_os("MOTE_BIN").is_none() && cfg!(target_env = "gnu") {
        assert!(dynamically_linked(&bin()), "{} should be dynamically linked", bin());
    }
    assert!(!dynamically_linked("/nonexistent"));
}

/// With the clock at 1970 a TLS=1 build still starts with a certificate
/// that begins today (a Pi booting without a clock, which init would
/// otherwise respawn until NTP answers), says once that the dates were
/// not checked, and serves HTTPS to a client that checks them itself.
#[test]
fn clock_at_1970_serves_https_without_judging_the_dates() {
    if !faketime_usable() {
        return;
    }
    let (_, version, _) = run_to_exit(&["--version"]);
    if !version.contains("(TLS)") {
        eprintln!("skipping: {} was built without TLS (make test TLS=1 runs this)", bin());
        return;
    }
    let dir = TempDir::new("tls-1970");
    let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    let made = std::process::Command::new("openssl")
        .args(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2"])
        .args(["-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1", "-keyout"])
        .args([&key, std::path::Path::new("-out"), &cert])
        .output()
        .expect("run openssl");
    assert!(made.status.success(), "openssl: {}", String::from_utf8_lossy(&made.stderr));
    let (cert, key) = (cert.to_str().unwrap(), key.to_str().unwrap());
    let server = under_faketime(
        "1970-01-01 00:00:00",
        &["--listen", "127.0.0.1:0", "--listen-tls", "127.0.0.1:0", "--tls-cert", cert, "--tls-key", key],
    );
    const WARNING: &str = "warning: the clock reads earlier than this build of mote";
    assert_eq!(server.stderr().matches(WARNING).count(), 1, "{}", server.stderr());
    const CLIENT: &str = r#"
import socket, ssl, sys
ctx = ssl.create_default_context(cafile=sys.argv[2])
with socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=20) as s:
    with ctx.wrap_socket(s, server_hostname="localhost") as t:
        t.sendall(b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        print(t.recv(100).split(b"\r\n")[0].decode())
"#;
    let port = server.addrs()[1].port().to_string();
    let out = std::process::Command::new("python3").args(["-c", CLIENT, &port, cert]).output().expect("run python3");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "HTTP/1.1 200 OK",
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // A reload while the clock still reads 1970 keeps the pair and says nothing more.
    server.signal("HUP");
    let start = Instant::now();
    while !server.stderr().contains("reloaded the TLS certificate") && start.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(server.stderr().contains("reloaded the TLS certificate"), "{}", server.stderr());
    assert_eq!(server.stderr().matches(WARNING).count(), 1, "{}", server.stderr());
}
