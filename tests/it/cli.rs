//! The command line and process life cycle: --help, --version, flag errors
//! (exit 2, naming the flag), set-up errors (exit 1, naming the thing),
//! several listeners, and a clean exit 0 on SIGTERM / SIGINT.

use crate::common::*;
use std::net::TcpListener;
use std::time::Duration;

const FLAGS: [&str; 10] = [
    "--listen",
    "--root",
    "--threads",
    "--max-conns",
    "--header-timeout",
    "--idle-timeout",
    "--cache-max",
    "--grace",
    "--help",
    "--version",
];

#[test]
fn help_lists_every_flag_and_exits_0() {
    let (status, out, _err) = run_to_exit(&["--help"]);
    assert_eq!(status.code(), Some(0), "--help exit status");
    for flag in FLAGS {
        assert!(out.contains(flag), "--help does not mention {flag}:\n{out}");
    }
}

#[test]
fn version_prints_name_and_version() {
    let (status, out, _err) = run_to_exit(&["--version"]);
    assert_eq!(status.code(), Some(0));
    let version = format!("mote {}", env!("CARGO_PKG_VERSION"));
    let text = out.trim_end();
    let builds = [
        version.clone(),
        format!("{version} (TLS)"),
        format!("{version} (TLS 1.3)"),
        format!("{version} (TLS, ACME)"),
        format!("{version} (TLS 1.3, ACME)"),
    ];
    assert!(builds.iter().any(|build| text == build), "{text}");
}

#[test]
fn bad_flags_and_values_exit_2_naming_the_flag() {
    let many_listens = ["--listen", "127.0.0.1:0"].repeat(65);
    let rows: &[(&str, &[&str], &str)] = &[
        ("unknown flag", &["--bogus"], "--bogus"),
        ("unknown flag with value", &["--colour", "red"], "--colour"),
        ("threads not a number", &["--threads", "abc"], "--threads"),
        ("threads negative", &["--threads", "-1"], "--threads"),
        ("threads missing value", &["--threads"], "--threads"),
        ("max-conns not a number", &["--max-conns", "many"], "--max-conns"),
        ("header-timeout not a number", &["--header-timeout", "1s"], "--header-timeout"),
        ("idle-timeout not a number", &["--idle-timeout", "x"], "--idle-timeout"),
        ("idle-timeout missing value", &["--idle-timeout"], "--idle-timeout"),
        ("cache-max not a number", &["--cache-max", "lots"], "--cache-max"),
        ("grace not a number", &["--grace", "soon"], "--grace"),
        ("listen not an address", &["--listen", "not-an-address"], "--listen"),
        ("listen port out of range", &["--listen", "127.0.0.1:70000"], "--listen"),
        ("listen missing value", &["--listen"], "--listen"),
        ("more than 64 listen addresses", &many_listens, "--listen"),
        ("root missing value", &["--root"], "--root"),
        ("io-uring not auto or off", &["--io-uring", "on"], "--io-uring"),
    ];
    for (name, args, flag) in rows {
        // If the bad flag were accepted, bind somewhere harmless.
        let mut all: Vec<&str> = args.to_vec();
        if *flag != "--listen" {
            all.splice(0..0, ["--listen", "127.0.0.1:0"]);
        }
        let (status, _out, err) = run_to_exit(&all);
        assert_eq!(status.code(), Some(2), "{name}: mote {args:?}; stderr: {err}");
        assert!(err.contains(flag), "{name}: stderr must name {flag}: {err:?}");
        assert_eq!(err.trim_end().lines().count(), 1, "{name}: one line on stderr: {err:?}");
    }
}

#[test]
fn missing_root_exits_1_naming_it() {
    let dir = TempDir::new("noroot");
    let missing = dir.path().join("does-not-exist");
    let missing = missing.to_str().unwrap();
    let (status, _out, err) = run_to_exit(&["--listen", "127.0.0.1:0", "--root", missing]);
    assert_eq!(status.code(), Some(1), "stderr: {err}");
    assert!(err.contains(missing), "stderr must name {missing}: {err:?}");
    assert_eq!(err.trim_end().lines().count(), 1, "one line: {err:?}");
}

#[test]
fn address_in_use_exits_1() {
    // A plain std listener (no SO_REUSEPORT) holds the port.
    let holder = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = holder.local_addr().unwrap().to_string();
    let (status, _out, err) = run_to_exit(&["--listen", &addr]);
    assert_eq!(status.code(), Some(1), "stderr: {err}");
    assert!(!err.trim().is_empty(), "it must say why");
    assert_eq!(err.trim_end().lines().count(), 1, "one line: {err:?}");
    drop(holder);
}

#[test]
fn sigterm_exits_0() {
    let mut srv = Server::start(&[]);
    srv.get("/").assert_status(200);
    srv.signal("TERM");
    let status = srv.wait_exit(Duration::from_secs(8)).expect("mote did not exit after SIGTERM");
    assert_eq!(status.code(), Some(0), "stderr: {}", srv.stderr());
}

#[test]
fn sigterm_without_connections_exits_promptly() {
    let mut srv = Server::start(&["--grace", "5"]);
    let start = std::time::Instant::now();
    srv.signal("TERM");
    let status = srv.wait_exit(Duration::from_secs(8)).expect("exit after SIGTERM");
    assert_eq!(status.code(), Some(0));
    // Nothing in flight: --grace is a bound, not a wait.
    assert!(start.elapsed() < Duration::from_secs(2), "took {:?}", start.elapsed());
}

#[test]
fn sigterm_finishes_a_response_in_flight() {
    let site = Site::standard();
    let data = large_bytes(8 * 1024 * 1024);
    site.write("big.bin", &data);
    let mut srv = site.serve(&["--cache-max", "4096", "--grace", "10"]);
    let mut s = srv.connect();
    send_raw(&mut s, get("/big.bin"));
    // Take a little of the body, then ask the server to stop.
    let mut first = [0u8; 4096];
    let n = std::io::Read::read(&mut s, &mut first).expect("first bytes");
    assert!(n > 0);
    srv.signal("TERM");
    std::thread::sleep(Duration::from_millis(300));
    let mut all = first[..n].to_vec();
    all.extend(read_to_close(&mut s));
    let rs = parse_all(&all);
    assert_eq!(statuses(&rs), vec![200]);
    assert_bytes_eq(&rs[0].body, &data, "body finished after SIGTERM");
    let status = srv.wait_exit(Duration::from_secs(8)).expect("exit after the response");
    assert_eq!(status.code(), Some(0), "stderr: {}", srv.stderr());
}

#[test]
fn sigint_exits_0() {
    let mut srv = Server::start(&[]);
    srv.get("/").assert_status(200);
    srv.signal("INT");
    let status = srv.wait_exit(Duration::from_secs(8)).expect("mote did not exit after SIGINT");
    assert_eq!(status.code(), Some(0), "stderr: {}", srv.stderr());
}

#[test]
fn sigterm_with_an_idle_keep_alive_connection_exits_within_grace() {
    let mut srv = Server::start(&["--grace", "1"]);
    let mut s = srv.connect();
    send_raw(&mut s, get("/"));
    read_response(&mut s, false).assert_status(200);
    // The idle connection must not hold the exit beyond --grace.
    srv.signal("TERM");
    let status = srv.wait_exit(Duration::from_secs(5)).expect("an idle connection held mote past --grace");
    assert_eq!(status.code(), Some(0), "stderr: {}", srv.stderr());
    drop(s);
}

#[test]
fn stops_accepting_after_sigterm() {
    let mut srv = Server::start(&[]);
    let addr = srv.addr();
    srv.signal("TERM");
    srv.wait_exit(Duration::from_secs(8)).expect("exit after SIGTERM");
    assert!(std::net::TcpStream::connect(addr).is_err(), "still accepting after exit");
}

#[test]
fn several_listeners_each_serve() {
    let srv = Server::start(&["--listen", "127.0.0.1:0", "--listen", "127.0.0.1:0"]);
    assert_eq!(srv.addrs().len(), 2);
    assert_ne!(srv.addrs()[0], srv.addrs()[1]);
    for addr in srv.addrs() {
        let r = request(*addr, get("/"));
        r.assert_status(200);
    }
}

#[test]
fn ipv6_listener_prints_a_bracketed_address() {
    if TcpListener::bind("[::1]:0").is_err() {
        eprintln!("SKIPPED: no IPv6 loopback here");
        return;
    }
    let srv = Server::start(&["--listen", "[::1]:0"]);
    assert!(srv.addr().is_ipv6());
    assert!(srv.stderr().contains("listening on http://[::1]:"), "{}", srv.stderr());
    srv.get("/").assert_status(200);
}

#[test]
fn several_threads_serve() {
    let site = Site::standard();
    let srv = site.serve(&["--threads", "4"]);
    let addr = srv.addr();
    let handles: Vec<_> =
        (0..16).map(|_| std::thread::spawn(move || request(addr, get("/letters.txt")).status)).collect();
    for h in handles {
        assert_eq!(h.join().unwrap(), 200);
    }
}

#[test]
fn listening_line_has_the_bound_port() {
    let srv = Server::start(&[]);
    let line = format!("listening on http://{}", srv.addr());
    assert!(srv.stderr().contains(&line), "{:?}", srv.stderr());
    assert_ne!(srv.addr().port(), 0);
}
