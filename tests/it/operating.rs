//! Operating mote: the --status page, syslog through a socket the test owns,
//! --chroot, --max-memory and --threads.

use std::os::unix::net::UnixDatagram;
use std::time::{Duration, Instant};

use crate::common::*;

#[test]
fn status_page_counts_requests_and_reloads() {
    let dir = TempDir::new("status");
    dir.write("index.html", "one");
    let server = Server::start(&["--root", dir.path().to_str().unwrap(), "--status", "/.mote-status"]);
    for _ in 0..3 {
        server.get("/").assert_status(200);
    }
    server.get("/missing").assert_status(404);
    let page = server.get("/.mote-status");
    page.assert_status(200).assert_header("Cache-Control", "no-store");
    let text = page.text();
    assert!(page.must("Content-Type").starts_with("text/plain"));
    assert_eq!(counter(&text, "requests_2xx"), 3, "{text}");
    assert_eq!(counter(&text, "requests_4xx"), 1, "{text}");
    assert!(counter(&text, "connections_total") >= 5, "{text}");
    assert!(counter(&text, "bytes_out") > 0 && counter(&text, "rss_bytes") > 0, "{text}");
    assert_eq!(counter(&text, "reloads"), 0);
    server.signal("HUP");
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let text = server.get("/.mote-status").text();
        if counter(&text, "reloads") == 1 {
            break;
        }
        assert!(Instant::now() < deadline, "reload never counted:\n{text}");
        std::thread::sleep(Duration::from_millis(50));
    }
    // Without --status the path is an ordinary (dot) path: 404.
    let plain = Server::start(&["--root", dir.path().to_str().unwrap()]);
    plain.get("/.mote-status").assert_status(404);
}

#[test]
fn syslog_gets_start_up_and_error_lines() {
    let dir = TempDir::new("syslog");
    let socket_path = dir.path().join("log.sock");
    let syslog = UnixDatagram::bind(&socket_path).unwrap();
    syslog.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let server = Server::start(&[&format!("--syslog={}", socket_path.display())]);
    let mut buf = [0u8; 2048];
    let n = syslog.recv(&mut buf).expect("no syslog datagram after start-up");
    let line = String::from_utf8_lossy(&buf[..n]).to_string();
    assert!(line.starts_with("<30>mote[") && line.contains("]: listening on http://127.0.0.1:"), "{line}");
    server.signal("HUP"); // the built-in site: "nothing to reload", an error-level line
    let n = syslog.recv(&mut buf).expect("no syslog datagram after SIGHUP");
    let line = String::from_utf8_lossy(&buf[..n]).to_string();
    assert!(line.starts_with("<27>mote[") && line.contains("nothing to reload"), "{line}");
}

#[test]
fn missing_syslog_socket_is_said_once_and_serving_goes_on() {
    let server = Server::start(&["--syslog=/nonexistent/mote-log.sock"]);
    server.get("/").assert_status(200);
    assert!(server.stderr().contains("--syslog: cannot use /nonexistent/mote-log.sock"), "{}", server.stderr());
}

#[test]
fn chroot_confines_the_process() {
    let jail = TempDir::new("chroot");
    jail.write("site/index.html", "jailed");
    // --root is a path inside the jail.
    let server = Server::start(&["--chroot", jail.path().to_str().unwrap(), "--root", "/site"]);
    let page = server.get("/");
    page.assert_status(200);
    assert_eq!(page.text(), "jailed");
    let root = std::fs::read_link(format!("/proc/{}/root", server.pid())).unwrap();
    assert_eq!(root, std::fs::canonicalize(jail.path()).unwrap());
    let (status, _, err) = run_to_exit(&["--chroot", "/nonexistent-jail", "--listen", "127.0.0.1:0"]);
    assert_eq!(status.code(), Some(1), "{err}");
    assert!(err.contains("--chroot /nonexistent-jail"), "{err}");
}

#[test]
fn max_memory_refuses_a_site_that_does_not_fit() {
    let dir = TempDir::new("budget");
    dir.write("index.html", "x");
    dir.write("big.bin", vec![7u8; 3 << 20]);
    let root = dir.path().to_str().unwrap();
    let (status, _, err) =
        run_to_exit(&["--root", root, "--cache-max", "8M", "--max-memory", "4M", "--listen", "127.0.0.1:0"]);
    assert_eq!(status.code(), Some(1), "{err}");
    assert!(err.contains("--max-memory") && err.contains("lower --cache-max"), "{err}");
    // The same site streamed from disk fits.
    let server = Server::start(&["--root", root, "--cache-max", "1024", "--max-memory", "4M"]);
    server.get("/big.bin").assert_status(200);
}

#[test]
fn max_memory_limits_connections_with_503() {
    // 1 MiB base + 268 KiB worker + ~42 KiB per connection: 3 MiB leaves room for ~42.
    let server = Server::start(&["--max-memory", "3M"]);
    let mut held = Vec::new();
    let mut refused = 0;
    for _ in 0..200 {
        let mut stream = server.connect();
        send_raw(&mut stream, "GET / HTTP/1.1\r\nHost: t\r\n\r\n");
        let response = read_response(&mut stream, false);
        if response.status == 503 {
            assert!(response.header("Retry-After").is_some());
            refused += 1;
        } else {
            response.assert_status(200);
            held.push(stream);
        }
    }
    assert!(refused > 0 && held.len() >= 16, "held {} refused {refused}", held.len());
    assert!(held.len() < 200);
}

#[test]
fn two_threads_serve_and_stop() {
    let mut server = Server::start(&["--threads", "2"]);
    let handles: Vec<_> = (0..4)
        .map(|_| {
            let addr = server.addr();
            std::thread::spawn(move || {
                for _ in 0..50 {
                    request(addr, "GET /style.css HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n").assert_status(200);
                }
            })
        })
        .collect();
    for handle in handles {
        handle.join().unwrap();
    }
    // Named for `ps -T` / `top -H`: two workers and the signal thread.
    let mut names: Vec<String> = std::fs::read_dir(format!("/proc/{}/task", server.pid()))
        .unwrap()
        .map(|task| std::fs::read_to_string(task.unwrap().path().join("comm")).unwrap().trim().to_string())
        .filter(|name| name == "worker" || name == "signals")
        .collect();
    names.sort();
    assert_eq!(names, ["signals", "worker", "worker"]);
    server.signal("TERM");
    let status = server.wait_exit(Duration::from_secs(10)).expect("no exit after SIGTERM");
    assert!(status.success());
}

/// A closed stderr (its reader gone, as when a log pipe dies) must not kill
/// the server: log lines are dropped, serving and signals go on.
#[test]
fn closed_stderr_does_not_stop_the_server() {
    use std::io::{BufRead, BufReader};
    use std::process::Stdio;
    let mut child = command(&["--listen", "127.0.0.1:0"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(child.stderr.take().unwrap()).read_line(&mut first).unwrap(); // reader dropped here
    let addr: std::net::SocketAddr = first.trim().rsplit("http://").next().unwrap().parse().unwrap();
    let pid = child.id().to_string();
    let kill = |signal: &str| {
        std::process::Command::new("kill").args([signal, &pid]).status().unwrap();
    };
    kill("-HUP"); // logs "nothing to reload" into the closed pipe
    std::thread::sleep(Duration::from_millis(200));
    request(addr, "GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n").assert_status(200);
    kill("-TERM");
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("mote did not stop after SIGTERM with its stderr closed");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "{status:?}");
}

#[test]
fn help_into_a_closed_pipe_is_not_a_crash() {
    use std::process::Stdio;
    for flag in ["--help", "--version", "--check"] {
        let mut child =
            command(&[flag]).stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
        drop(child.stdout.take()); // the reader is gone before mote writes (`mote --help | head -0`)
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "{flag}: {:?} {}", out.status, String::from_utf8_lossy(&out.stderr));
    }
}

/// Signals reach the server whichever way it takes them: its lone worker's
/// loop (the default, and then the process is one thread) or a signal thread
/// beside several workers. SIGHUP reloads on a thread that ends with it;
/// SIGTERM waits for a response in flight, and a second one exits at once.
#[test]
fn signals_reach_one_worker_and_several() {
    for threads in ["1", "2"] {
        let dir = TempDir::new("signals");
        dir.write("index.html", "one");
        dir.write("big.bin", large_bytes(8 << 20));
        let root = dir.path().to_str().unwrap();
        let args = ["--root", root, "--status", "/.mote-status", "--threads", threads, "--cache-max", "4096"];
        let mut server = Server::start(&[&args[..], &["--grace", "30"]].concat());
        let threads_named = || -> Vec<String> {
            let tasks = std::fs::read_dir(format!("/proc/{}/task", server.pid())).unwrap();
            tasks.filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("comm")).ok()).collect()
        };
        // An emulator (MOTE_RUNNER) adds threads of its own.
        if threads == "1" && std::env::var("MOTE_RUNNER").map_or(true, |r| r.trim().is_empty()) {
            assert_eq!(threads_named().len(), 1, "one worker, one thread: {:?}", threads_named());
        }
        for (reloads, text) in [(1, "two"), (2, "three")] {
            dir.write("index.html", text);
            server.signal("HUP");
            let deadline = Instant::now() + Duration::from_secs(5);
            while counter(&server.get("/.mote-status").text(), "reloads") < reloads {
                assert!(Instant::now() < deadline, "--threads {threads}: reload {reloads} not seen");
                std::thread::sleep(Duration::from_millis(20));
            }
            assert_eq!(server.get("/").text(), text, "--threads {threads}");
        }
        let deadline = Instant::now() + Duration::from_secs(5);
        while threads_named().iter().any(|name| name.trim() == "reload") {
            assert!(Instant::now() < deadline, "--threads {threads}: the reload thread stays");
            std::thread::sleep(Duration::from_millis(20));
        }
        let mut stream = server.connect();
        send_raw(&mut stream, get("/big.bin"));
        let mut first = [0u8; 4096];
        assert!(std::io::Read::read(&mut stream, &mut first).unwrap() > 0);
        server.signal("TERM");
        assert!(server.wait_exit(Duration::from_millis(300)).is_none(), "--threads {threads}: gone mid-response");
        server.signal("TERM");
        let status = server.wait_exit(Duration::from_secs(5)).expect("a second SIGTERM must exit at once");
        assert_eq!(status.code(), Some(1), "--threads {threads}: {}", server.stderr());
    }
}

/// A burst of SIGHUPs while a big site loads: never more than one reload
/// thread at a time, and the newest files are served at the end.
#[test]
fn a_burst_of_sighups_is_one_reload_thread() {
    let dir = TempDir::new("hup-burst");
    for i in 0..3000 {
        dir.write(&format!("d{}/f{i}.txt", i % 30), format!("file {i}\n"));
    }
    dir.write("index.html", "old");
    let server = Server::start(&["--root", dir.path().to_str().unwrap(), "--status", "/.mote-status"]);
    let reloading = || {
        let tasks = std::fs::read_dir(format!("/proc/{}/task", server.pid())).unwrap();
        tasks
            .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("comm")).ok())
            .filter(|n| n.trim() == "reload")
            .count()
    };
    dir.write("index.html", "new");
    let (mut most, mut seen_one) = (0, false);
    for _ in 0..20 {
        server.signal("HUP");
        std::thread::sleep(Duration::from_millis(2));
        let now = reloading();
        most = most.max(now);
        seen_one |= now > 0;
    }
    let deadline = Instant::now() + Duration::from_secs(20);
    while reloading() > 0 {
        assert!(Instant::now() < deadline, "the reload thread never ended");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(seen_one, "no reload thread seen: the site loads too fast for this test to mean anything");
    assert_eq!(most, 1, "{most} reload threads at once");
    let reloads = counter(&server.get("/.mote-status").text(), "reloads");
    assert!((1..20).contains(&reloads), "{reloads} reloads for a burst of 20 SIGHUPs");
    assert_eq!(server.get("/").text(), "new");
}
