//! Programs outside Rust the tests lean on: whether one is installed (a
//! missing one fails the test unless `MOTE_ALLOW_MISSING_TOOLS` is set),
//! python3 for gzip and brotli, and strace attached to a running server.

use std::io::{Read, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::Duration;

/// Whether a missing external tool may skip a test instead of failing it.
pub fn tool_missing(tool: &str) -> bool {
    let found = Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {tool}"))
        .stdout(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    missing(found, &format!("`{tool}`"))
}

/// Like `tool_missing`, for a python3 module (`prometheus_client`).
pub fn python_module_missing(module: &str) -> bool {
    let found = Command::new("python3")
        .args(["-c", &format!("import {module}")])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    missing(found, &format!("python3's `{module}`"))
}

fn missing(found: bool, what: &str) -> bool {
    if found {
        return false;
    }
    if std::env::var_os("MOTE_ALLOW_MISSING_TOOLS").is_some() {
        eprintln!("SKIPPED: {what} is not installed (MOTE_ALLOW_MISSING_TOOLS is set)");
        return true;
    }
    panic!("{what} is required by this test; install it (make test does) or set MOTE_ALLOW_MISSING_TOOLS=1");
}

/// Runs `python3 -c script` with `input` on stdin and returns its stdout;
/// panics with its stderr on failure.
pub fn python3(script: &str, input: &[u8]) -> Vec<u8> {
    let mut child = Command::new("python3")
        .arg("-c")
        .arg(script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("python3 is required by this test: {e}"));
    let mut stdin = child.stdin.take().unwrap();
    let input = input.to_vec();
    let writer = thread::spawn(move || {
        let _ = stdin.write_all(&input);
    });
    let out = child.wait_with_output().expect("python3 output");
    writer.join().unwrap();
    assert!(out.status.success(), "python3 failed ({}): {}", out.status, String::from_utf8_lossy(&out.stderr));
    out.stdout
}

/// `data` gzipped at level 9 with no name and mtime 0 (like `gzip -9 -n`),
/// by python3's standard gzip module.
pub fn gzip_bytes(data: &[u8]) -> Vec<u8> {
    python3("import gzip,sys; sys.stdout.buffer.write(gzip.compress(sys.stdin.buffer.read(), 9, mtime=0))", data)
}

/// Decompresses gzip `data` with python3's standard gzip module.
pub fn gunzip_bytes(data: &[u8]) -> Vec<u8> {
    python3("import gzip,sys; sys.stdout.buffer.write(gzip.decompress(sys.stdin.buffer.read()))", data)
}

/// Real brotli of `data` when python3's `brotli` module or the `brotli`
/// command is available; `None` otherwise (mote never decodes a `.br`, it
/// serves the bytes on disk, so callers may then use any bytes).
pub fn brotli_bytes(data: &[u8]) -> Option<Vec<u8>> {
    let module = Command::new("python3")
        .args(["-c", "import brotli"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    if module {
        return Some(python3(
            "import brotli,sys; sys.stdout.buffer.write(brotli.compress(sys.stdin.buffer.read(), quality=11))",
            data,
        ));
    }
    let mut child = Command::new("brotli")
        .args(["-c", "-q", "11", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    let mut stdin = child.stdin.take().unwrap();
    let input = data.to_vec();
    let writer = thread::spawn(move || {
        let _ = stdin.write_all(&input);
    });
    let out = child.wait_with_output().ok()?;
    writer.join().unwrap();
    out.status.success().then_some(out.stdout)
}

/// strace attached to a running server, for tests about which system calls it makes.
pub struct Strace {
    child: Child,
}

impl Strace {
    /// Attaches to every thread of `pid`, tracing the comma-separated `calls`
    /// into `out`; returns once strace says it is attached.
    pub fn attach(pid: u32, calls: &str, out: &Path) -> Strace {
        let mut child = Command::new("strace")
            .args(["-f", "-e", &format!("trace={calls}"), "-o"])
            .arg(out)
            .args(["-p", &pid.to_string()])
            .stderr(Stdio::piped())
            .spawn()
            .expect("strace (make test installs it)");
        let mut stderr = child.stderr.take().unwrap();
        let mut seen = Vec::new();
        let mut byte = [0u8; 1];
        while !String::from_utf8_lossy(&seen).contains("attached") {
            match stderr.read(&mut byte) {
                Ok(1) => seen.push(byte[0]),
                _ => panic!("strace did not attach: {}", String::from_utf8_lossy(&seen)),
            }
        }
        std::thread::spawn(move || std::io::copy(&mut stderr, &mut std::io::sink()));
        std::thread::sleep(Duration::from_millis(100)); // the other threads
        Strace { child }
    }

    /// Detaches and returns the traced calls, without strace's PID prefix.
    pub fn finish(&mut self, out: &Path) -> Vec<String> {
        std::thread::sleep(Duration::from_millis(100));
        let _ = Command::new("kill").args(["-INT", &self.child.id().to_string()]).status();
        let _ = self.child.wait();
        let text = std::fs::read_to_string(out).unwrap();
        text.lines().map(|l| l.split_once(' ').map_or(l, |(_, call)| call).trim_start().to_string()).collect()
    }
}

impl Drop for Strace {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
