//! Slow and stuck clients: a slowloris crowd is cut off by the header timeout
//! while a normal client keeps its latency; a client that never reads is cut
//! off by the send timeout with bounded memory; clients that reset or
//! half-close mid-response never disturb another transfer.
//!
//! The tests in this file take `serial()` so that none of them measures
//! while another (here or in many_conns) loads the machine.

use crate::common::*;

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

/// Slowloris connections; each sends one header byte every `DRIP`.
const SLOW_CONNS: usize = 1000;
const DRIP: Duration = Duration::from_millis(500);

/// One keep-alive GET, read with large reads (requests are in lockstep, so
/// nothing of a next response can be swallowed); returns its latency.
fn timed_get(stream: &mut TcpStream, path: &str, want_body: &[u8]) -> Duration {
    let request = get(path);
    let start = Instant::now();
    stream.write_all(request.as_bytes()).expect("write request");
    let mut buf = Vec::with_capacity(4096);
    let mut chunk = [0u8; 4096];
    loop {
        let n = stream.read(&mut chunk).expect("read response");
        assert!(n > 0, "server closed the normal client's connection");
        buf.extend_from_slice(&chunk[..n]);
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).to_string();
            let len: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("Content-Length: ").or_else(|| l.strip_prefix("content-length: ")))
                .expect("Content-Length")
                .trim()
                .parse()
                .unwrap();
            if buf.len() >= end + 4 + len {
                assert!(head.starts_with("HTTP/1.1 200 "), "normal client got:\n{head}");
                assert_eq!(buf.len(), end + 4 + len, "more than one response arrived");
                assert_eq!(&buf[end + 4..], want_body);
                return start.elapsed();
            }
        }
    }
}

/// Keep-alive requests every ~2 ms until `stop` (or `limit`); the latencies.
fn sample(addr: SocketAddr, stop: &AtomicBool, limit: Duration) -> Vec<Duration> {
    let mut client = connect(addr);
    let deadline = Instant::now() + limit;
    let mut samples = Vec::new();
    while !stop.load(Ordering::Relaxed) && Instant::now() < deadline {
        samples.push(timed_get(&mut client, "/style.css", STYLE_CSS.as_bytes()));
        thread::sleep(Duration::from_millis(2));
    }
    samples
}

struct Slow {
    stream: TcpStream,
    opened: Instant,
    sent: usize,
    received: usize,
    closed: Option<Duration>,
}

/// Has the server closed `conn`? (EOF or a reset; bytes are counted.)
fn poll_closed(conn: &mut Slow) -> bool {
    let mut buf = [0u8; 1024];
    loop {
        match conn.stream.read(&mut buf) {
            Ok(0) => return true,
            Ok(n) => conn.received += n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return false,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => return true,
        }
    }
}

#[test]
fn slowloris_is_cut_off_by_the_header_timeout_while_others_are_served() {
    let _serial = serial();
    let (soft, _) = raise_nofile_limit();
    assert!(soft as usize > SLOW_CONNS + 100, "RLIMIT_NOFILE {soft} is too low for {SLOW_CONNS} connections");
    let site = Site::standard();
    let srv = site.serve(&["--header-timeout", "2"]);
    let addr = srv.addr();

    let never = AtomicBool::new(false);
    let mut unloaded = sample(addr, &never, Duration::from_secs(2));

    let stop = Arc::new(AtomicBool::new(false));
    let connected = Arc::new(AtomicBool::new(false));
    let loris = {
        let (stop, connected) = (Arc::clone(&stop), Arc::clone(&connected));
        thread::spawn(move || {
            let header: &[u8] =
                b"GET / HTTP/1.1\r\nHost: test\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
            let mut conns: Vec<Slow> = (0..SLOW_CONNS)
                .map(|_| {
                    let stream = TcpStream::connect(addr).expect("slowloris connect");
                    let opened = Instant::now();
                    stream.set_nonblocking(true).unwrap();
                    Slow { stream, opened, sent: 0, received: 0, closed: None }
                })
                .collect();
            connected.store(true, Ordering::Relaxed);
            let deadline = Instant::now() + Duration::from_secs(12);
            let mut next_drip = Instant::now();
            while Instant::now() < deadline && conns.iter().any(|c| c.closed.is_none()) {
                let drip = Instant::now() >= next_drip;
                if drip {
                    next_drip += DRIP;
                }
                for conn in conns.iter_mut().filter(|c| c.closed.is_none()) {
                    if drip {
                        match conn.stream.write(&header[conn.sent % header.len()..][..1]) {
                            Ok(_) => conn.sent += 1,
                            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                            Err(_) => conn.closed = Some(conn.opened.elapsed()),
                        }
                    }
                    if conn.closed.is_none() && poll_closed(conn) {
                        conn.closed = Some(conn.opened.elapsed());
                    }
                }
                thread::sleep(Duration::from_millis(20));
            }
            stop.store(true, Ordering::Relaxed);
            conns
        })
    };
    let wait = Instant::now() + Duration::from_secs(20);
    while !connected.load(Ordering::Relaxed) && Instant::now() < wait {
        thread::sleep(Duration::from_millis(5));
    }
    let mut loaded = sample(addr, &stop, Duration::from_secs(15));
    let conns = loris.join().unwrap();

    let lifetimes: Vec<Duration> = conns.iter().filter_map(|c| c.closed).collect();
    let still_open = conns.len() - lifetimes.len();
    let sent: usize = conns.iter().map(|c| c.sent).sum();
    let received: usize = conns.iter().map(|c| c.received).sum();
    let (shortest, longest) = (lifetimes.iter().min().copied(), lifetimes.iter().max().copied());
    let (n_unloaded, n_loaded) = (unloaded.len(), loaded.len());
    let p99_unloaded = percentile(&mut unloaded, 99.0);
    let p99_loaded = percentile(&mut loaded, 99.0);
    let (p50_unloaded, p50_loaded) = (percentile(&mut unloaded, 50.0), percentile(&mut loaded, 50.0));
    let bound = p99_unloaded * 2 + Duration::from_millis(5);
    eprintln!(
        "slowloris: {SLOW_CONNS} connections, {sent} header bytes dripped; closed after {shortest:?}..{longest:?} \
         (--header-timeout 2); {still_open} still open; {received} bytes sent to them"
    );
    eprintln!(
        "slowloris: normal client p99 unloaded {p99_unloaded:?} ({n_unloaded} requests, p50 {p50_unloaded:?}), \
         under slowloris {p99_loaded:?} ({n_loaded} requests, p50 {p50_loaded:?}); bound 2x + 5 ms = {bound:?}"
    );
    assert_eq!(still_open, 0, "{still_open} slowloris connections outlived the header timeout");
    let longest = longest.unwrap();
    assert!(longest <= Duration::from_millis(4500), "a slowloris connection lived {longest:?} (header timeout 2 s)");
    assert!(shortest.unwrap() >= Duration::from_millis(1900), "cut before the header timeout: {shortest:?}");
    assert!(n_loaded >= 100, "only {n_loaded} requests measured under load");
    assert!(p99_loaded <= bound, "p99 under slowloris {p99_loaded:?} > 2 x unloaded {p99_unloaded:?} + 5 ms");
    // The server is still fine.
    srv.get("/style.css").assert_status(200);
}

const BIG: usize = 8 << 20;

/// Waits up to `limit` for the server's descriptor count to fall to `want`;
/// tracks the largest RSS seen meanwhile. Returns (elapsed if it fell, peak RSS).
fn wait_for_fds(pid: u32, want: usize, start: Instant, limit: Duration) -> (Option<Duration>, u64) {
    let mut peak = 0;
    loop {
        peak = peak.max(rss_bytes(pid));
        if open_fds(pid) <= want {
            return (Some(start.elapsed()), peak);
        }
        if start.elapsed() >= limit {
            return (None, peak);
        }
        thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_client_that_never_reads_is_cut_off_by_the_send_timeout_with_bounded_memory() {
    let _serial = serial();
    const STUCK: usize = 10;
    let site = Site::empty();
    site.write("index.html", INDEX_HTML);
    let big = large_bytes(BIG);
    site.write("big.bin", &big);
    let srv = site.serve(&["--cache-max", "0", "--idle-timeout", "2"]);
    let pid = srv.pid();
    // One whole download first, so the baseline includes a finished transfer.
    let r = srv.get("/big.bin");
    r.assert_status(200);
    assert_bytes_eq(&r.body, &big, "warm-up download");
    thread::sleep(Duration::from_millis(200));
    let (rss_before, fds_before) = (rss_bytes(pid), open_fds(pid));

    let start = Instant::now();
    let mut stuck: Vec<TcpStream> = (0..STUCK)
        .map(|_| {
            let mut s = srv.connect();
            send_raw(&mut s, get("/big.bin"));
            s
        })
        .collect();
    thread::sleep(Duration::from_millis(300));
    let fds_during = open_fds(pid);
    assert_eq!(fds_during, fds_before + STUCK, "the stuck connections are open");
    // Others are served meanwhile, a whole 8 MiB included.
    let r = srv.get("/big.bin");
    r.assert_status(200);
    assert_bytes_eq(&r.body, &big, "download beside stuck readers");

    let (cut, peak) = wait_for_fds(pid, fds_before, start, Duration::from_secs(10));
    let rss_after = rss_bytes(pid);
    eprintln!(
        "stuck readers: {STUCK} x GET 8 MiB never read (--cache-max 0, --idle-timeout 2); cut off after {cut:?}; \
         VmRSS before {} KiB, peak {} KiB, after {} KiB",
        rss_before / 1024,
        peak / 1024,
        rss_after / 1024
    );
    let cut = cut.expect("the stuck readers were not cut off within 10 s");
    assert!(cut >= Duration::from_secs(2) && cut <= Duration::from_secs(6), "cut off after {cut:?}");
    assert!(
        peak < rss_before + (4 << 20),
        "RSS grew from {rss_before} to {peak} with {STUCK} stuck 8 MiB responses: they are being buffered"
    );
    for s in &mut stuck {
        // What the kernel buffered arrives, then the close: never the whole body.
        let got = read_until_close(s, IO_TIMEOUT).expect("server closed the stuck reader");
        assert!(got.len() < BIG, "a stuck reader received the whole response ({} bytes)", got.len());
    }
    srv.get("/index.html").assert_status(200);
}

#[derive(Clone, Copy, Debug)]
enum Rude {
    /// Reads a little of a sendfile body, then resets (SO_LINGER 0).
    ResetMidFile,
    /// Reads a little of an in-memory body, then resets.
    ResetMidMemory,
    /// Pipelines three requests, reads a little, resets.
    ResetPipelined,
    /// Shuts its write side right after the request, then reads everything.
    HalfCloseEarly,
    /// Reads part of the body, shuts its write side, reads the rest.
    HalfCloseMidBody,
}

fn rude(addr: SocketAddr, kind: Rude, big: &[u8], mid: &[u8]) {
    let mut s = connect(addr);
    let read_some = |s: &mut TcpStream, n: usize| {
        let mut buf = vec![0u8; n];
        let mut got = 0;
        while got < n {
            match s.read(&mut buf[got..]) {
                Ok(0) | Err(_) => break,
                Ok(k) => got += k,
            }
        }
    };
    match kind {
        Rude::ResetMidFile => {
            send_raw(&mut s, get("/big.bin"));
            read_some(&mut s, 64 * 1024);
            set_linger_zero(&s);
        }
        Rude::ResetMidMemory => {
            send_raw(&mut s, get("/mid.bin"));
            read_some(&mut s, 1024);
            set_linger_zero(&s);
        }
        Rude::ResetPipelined => {
            send_raw(&mut s, format!("{}{}{}", get("/mid.bin"), get("/big.bin"), get("/mid.bin")));
            read_some(&mut s, 200 * 1024);
            set_linger_zero(&s);
        }
        Rude::HalfCloseEarly => {
            send_raw(&mut s, get("/big.bin"));
            s.shutdown(Shutdown::Write).unwrap();
            let r = read_response(&mut s, false);
            r.assert_status(200);
            assert_bytes_eq(&r.body, big, "half-closed (early) client's body");
            assert_closed_silently(&mut s);
        }
        Rude::HalfCloseMidBody => {
            send_raw(&mut s, get("/mid.bin"));
            let mut reader = io::BufReader::with_capacity(1, &s);
            let mut head = Vec::new();
            while !head.ends_with(b"\r\n\r\n") {
                let mut b = [0u8; 1];
                reader.read_exact(&mut b).unwrap();
                head.push(b[0]);
            }
            let mut body = vec![0u8; mid.len()];
            reader.read_exact(&mut body[..mid.len() / 3]).unwrap();
            s.shutdown(Shutdown::Write).unwrap();
            let mut rest = &mut body[mid.len() / 3..];
            let mut s2 = &s;
            while !rest.is_empty() {
                let n = s2.read(rest).unwrap();
                assert!(n > 0, "EOF inside the half-closed client's body");
                rest = &mut rest[n..];
            }
            assert_bytes_eq(&body, mid, "half-closed (mid-body) client's body");
        }
    }
}

/// Turns each kind of rude client takes.
const RUDE_ROUNDS: usize = 100;

#[test]
fn resets_and_half_closes_never_disturb_another_transfer() {
    let _serial = serial();
    let site = Site::empty();
    site.write("index.html", INDEX_HTML);
    let big = Arc::new(large_bytes(BIG));
    // In memory (below --cache-max): its body goes out by sendmsg.
    let mid = Arc::new(large_bytes(700 * 1024).into_iter().rev().collect::<Vec<u8>>());
    site.write("big.bin", &*big);
    site.write("mid.bin", &*mid);
    let srv = site.serve(&["--cache-max", "1048576"]);
    let addr = srv.addr();

    let done = Arc::new(AtomicBool::new(false));
    let rude_count = Arc::new(AtomicUsize::new(0));
    let finished = Arc::new(AtomicUsize::new(0));
    let kinds =
        [Rude::ResetMidFile, Rude::ResetMidMemory, Rude::ResetPipelined, Rude::HalfCloseEarly, Rude::HalfCloseMidBody];
    let disturbers: Vec<_> = kinds
        .iter()
        .map(|&kind| {
            let (done, count, big, mid) =
                (Arc::clone(&done), Arc::clone(&rude_count), Arc::clone(&big), Arc::clone(&mid));
            let finished = Arc::clone(&finished);
            thread::spawn(move || {
                let deadline = Instant::now() + Duration::from_secs(30);
                for _ in 0..RUDE_ROUNDS {
                    if done.load(Ordering::Relaxed) || Instant::now() > deadline {
                        break;
                    }
                    rude(addr, kind, &big, &mid);
                    count.fetch_add(1, Ordering::Relaxed);
                }
                finished.fetch_add(1, Ordering::Relaxed);
            })
        })
        .collect();

    // The polite client: one keep-alive connection, whole bodies, byte-exact.
    thread::sleep(Duration::from_millis(100));
    let mut polite = connect(addr);
    polite.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut reader = io::BufReader::new(polite.try_clone().unwrap());
    let started = Instant::now();
    let mut transfers: usize = 0;
    // At least 12 transfers, and on until every rude client has had its turns.
    for round in 0..400 {
        if round >= 12 && finished.load(Ordering::Relaxed) == kinds.len() {
            break;
        }
        let (path, want) = if round % 2 == 0 { ("/big.bin", &*big) } else { ("/mid.bin", &*mid) };
        send_raw(&mut polite, get(path));
        let r = read_response(&mut reader, false);
        r.assert_status(200);
        assert_bytes_eq(&r.body, want, &format!("polite client's transfer {round} ({path})"));
        transfers += 1;
    }
    let elapsed = started.elapsed();
    done.store(true, Ordering::Relaxed);
    for d in disturbers {
        d.join().expect("a rude client's own checks failed");
    }
    eprintln!(
        "rude clients: {} resets/half-closes beside {transfers} byte-exact polite transfers ({:.1} MiB) in {elapsed:?}",
        rude_count.load(Ordering::Relaxed),
        (transfers.div_ceil(2) * BIG + transfers / 2 * mid.len()) as f64 / 1048576.0
    );
    assert!(rude_count.load(Ordering::Relaxed) >= RUDE_ROUNDS, "too few rude clients ran to prove anything");
    srv.get("/index.html").assert_status(200);
}
