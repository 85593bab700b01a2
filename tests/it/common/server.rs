//! The binary under test as a process: which binary (`MOTE_BIN`, run under
//! `MOTE_RUNNER` such as qemu), starting it on `127.0.0.1:0` and learning its
//! ports from its `listening on` lines, signalling it, and killing it on drop.
//!
//! Ports come from the server's own output rather than being chosen here, so
//! tests running in parallel never race each other for a free port.

use super::client::{connect, get, request};
use super::response::Response;
use std::io::{BufRead, BufReader, Read};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

/// How long a server may take to print its `listening on` line (qemu is slow).
pub const START_TIMEOUT: Duration = Duration::from_secs(20);

/// Path of the binary under test: `MOTE_BIN`, else the one cargo built.
pub fn bin() -> String {
    std::env::var("MOTE_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_mote").to_string())
}

/// A `Command` for mote with `args`, prefixed by `MOTE_RUNNER` when set
/// (e.g. `qemu-arm -cpu arm1176`).
pub fn command(args: &[&str]) -> Command {
    let runner = std::env::var("MOTE_RUNNER").unwrap_or_default();
    let mut cmd = prefixed(runner.split_whitespace());
    cmd.args(args);
    cmd
}

/// `prefix... <bin>`, or the binary alone when `prefix` is empty.
fn prefixed<'a>(mut prefix: impl Iterator<Item = &'a str>) -> Command {
    match prefix.next() {
        Some(program) => {
            let mut c = Command::new(program);
            c.args(prefix);
            c.arg(bin());
            c
        }
        None => Command::new(bin()),
    }
}

/// Runs mote to completion (for flags that exit: --help, bad values, ...),
/// killing it if it is still running after `START_TIMEOUT`.
pub fn run_to_exit(args: &[&str]) -> (ExitStatus, String, String) {
    output_within(command(args), START_TIMEOUT)
}

/// Runs `cmd` to completion with its stdout and stderr captured; kills it
/// and panics if it is still running after `limit`.
pub fn output_within(mut cmd: Command, limit: Duration) -> (ExitStatus, String, String) {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot spawn {cmd:?}: {e}"));
    let mut out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let out_t = thread::spawn(move || {
        let mut s = Vec::new();
        let _ = out.read_to_end(&mut s);
        s
    });
    let err_t = thread::spawn(move || {
        let mut s = Vec::new();
        let _ = err.read_to_end(&mut s);
        s
    });
    let status = wait_with_timeout(&mut child, limit).unwrap_or_else(|| {
        let _ = child.kill();
        let _ = child.wait();
        panic!("{cmd:?} did not exit within {limit:?}");
    });
    let out = String::from_utf8_lossy(&out_t.join().unwrap()).into_owned();
    let err = String::from_utf8_lossy(&err_t.join().unwrap()).into_owned();
    (status, out, err)
}

fn wait_with_timeout(child: &mut Child, timeout: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            return Some(status);
        }
        if Instant::now() >= deadline {
            return None;
        }
        thread::sleep(Duration::from_millis(20));
    }
}

/// A running mote. Killed (by PID, through `Child::kill`) on drop.
pub struct Server {
    child: Option<Child>,
    addrs: Vec<SocketAddr>,
    stderr: Arc<Mutex<String>>,
}

impl Server {
    /// Starts mote with `args`, adding `--listen 127.0.0.1:0` unless the caller
    /// passed `--listen`, and waits for one `listening on http://ADDR` line per
    /// listener.
    pub fn start(args: &[&str]) -> Server {
        let (all, expected) = with_listen(args);
        Server::spawn_and_wait(command(&all), expected, format!("mote {all:?}"))
    }

    /// Like `start` (under `MOTE_RUNNER` too), with `env` added to mote's
    /// environment.
    pub fn start_with_env(env: &[(&str, &str)], args: &[&str]) -> Server {
        let (all, expected) = with_listen(args);
        let mut cmd = command(&all);
        cmd.envs(env.iter().copied());
        Server::spawn_and_wait(cmd, expected, format!("mote {all:?}"))
    }

    /// Like `start`, but runs `prefix... mote --listen 127.0.0.1:0 args...`
    /// with `env` added: for wrappers such as `faketime` (which need the
    /// binary itself, so `MOTE_RUNNER` is not applied here).
    pub fn start_with_prefix(prefix: &[&str], env: &[(&str, &str)], args: &[&str]) -> Server {
        let (all, expected) = with_listen(args);
        let mut cmd = prefixed(prefix.iter().copied());
        cmd.args(&all);
        for (k, v) in env {
            cmd.env(k, v);
        }
        let what = format!("{prefix:?} mote {all:?}");
        Server::spawn_and_wait(cmd, expected, what)
    }

    /// Starts mote through `sh -c '<shell>; exec "$@"'` (e.g. `ulimit -n 64`),
    /// with `MOTE_RUNNER` applied after the shell, so the PID is mote's (or
    /// its runner's) once the shell has exec'd.
    pub fn start_under_shell(shell: &str, args: &[&str]) -> Server {
        let script = format!("{shell}; exec \"$@\"");
        let runner = std::env::var("MOTE_RUNNER").unwrap_or_default();
        let mut prefix: Vec<&str> = vec!["sh", "-c", &script, "sh"];
        prefix.extend(runner.split_whitespace());
        Server::start_with_prefix(&prefix, &[], args)
    }

    /// Spawns `cmd` and waits for `expected` `listening on` lines, keeping
    /// stderr drained (and recorded) for the life of the server.
    fn spawn_and_wait(mut cmd: Command, expected: usize, what: String) -> Server {
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot spawn {what}: {e}"));
        let stderr = Arc::new(Mutex::new(String::new()));
        let (tx, rx) = mpsc::channel::<String>();
        let pipe = child.stderr.take().unwrap();
        let sink = Arc::clone(&stderr);
        thread::spawn(move || {
            let mut reader = BufReader::new(pipe);
            let mut line = Vec::new();
            loop {
                line.clear();
                match reader.read_until(b'\n', &mut line) {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {
                        let text = String::from_utf8_lossy(&line).into_owned();
                        sink.lock().unwrap().push_str(&text);
                        // The receiver goes away after start-up; keep draining.
                        let _ = tx.send(text);
                    }
                }
            }
        });

        let deadline = Instant::now() + START_TIMEOUT;
        let mut addrs = Vec::new();
        let mut server = Server { child: Some(child), addrs: Vec::new(), stderr };
        while addrs.len() < expected {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok(line) => {
                    if let Some(addr) = parse_listening(&line) {
                        addrs.push(addr);
                    }
                }
                Err(_) => {
                    let status = server.child.as_mut().unwrap().try_wait().ok().flatten();
                    panic!(
                        "{what} did not print {expected} `listening on` line(s) \
                         (exit: {status:?}); stderr so far:\n{}",
                        server.stderr()
                    );
                }
            }
        }
        server.addrs = addrs;
        server
    }

    /// The first listener's address.
    pub fn addr(&self) -> SocketAddr {
        self.addrs[0]
    }

    pub fn addrs(&self) -> &[SocketAddr] {
        &self.addrs
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().unwrap().id()
    }

    /// Everything the server wrote on stderr so far.
    pub fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// Sends a signal by name (`TERM`, `INT`, `HUP`) with the `kill` utility.
    pub fn signal(&self, name: &str) {
        let ok = Command::new("kill")
            .arg(format!("-{name}"))
            .arg(self.pid().to_string())
            .status()
            .expect("run kill")
            .success();
        assert!(ok, "kill -{name} {} failed", self.pid());
    }

    /// Waits up to `timeout` for the server to exit on its own.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        wait_with_timeout(self.child.as_mut().unwrap(), timeout)
    }

    /// Whether the process is still running (it has not exited or crashed).
    pub fn is_running(&mut self) -> bool {
        self.child.as_mut().is_some_and(|c| matches!(c.try_wait(), Ok(None)))
    }

    /// One-shot request to the first listener.
    pub fn request(&self, raw: impl AsRef<[u8]>) -> Response {
        request(self.addr(), raw)
    }

    /// `GET path` with a Host header, on a fresh connection.
    pub fn get(&self, path: &str) -> Response {
        request(self.addr(), get(path))
    }

    pub fn connect(&self) -> TcpStream {
        connect(self.addr())
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// `args` with `--listen 127.0.0.1:0` in front unless they name a listener,
/// and how many `listening on` lines the server will then print.
/// HTTPS listeners (`--listen-tls`) count as listeners too; their
/// addresses follow the plain ones.
fn with_listen<'a>(args: &[&'a str]) -> (Vec<&'a str>, usize) {
    let listeners = args.iter().filter(|a| **a == "--listen" || **a == "--listen-tls").count();
    let mut all: Vec<&str> = Vec::new();
    if listeners == 0 {
        all.extend(["--listen", "127.0.0.1:0"]);
    }
    all.extend_from_slice(args);
    (all, listeners.max(1))
}

fn parse_listening(line: &str) -> Option<SocketAddr> {
    let at = line.find("listening on ")? + "listening on ".len();
    let rest = line[at..].strip_prefix("http://").or_else(|| line[at..].strip_prefix("https://"))?;
    let addr = rest.split_whitespace().next()?.trim_end_matches('/');
    addr.parse().ok()
}
