//! Many connections: 10 000 concurrent keep-alive connections are all served,
//! and over `--max-conns` extra connections get a 503 with `Retry-After` and a
//! close while the admitted ones keep working.

use crate::common::*;

use std::io::{BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

const CONNS: usize = 10_000;
const THREADS: usize = 8;
const _: () = assert!(CONNS.is_multiple_of(THREADS));
/// Descriptors needed: the connections on both ends (the server raises its
/// own soft limit to the hard one), plus slack.
const NEEDED_FDS: u64 = 12_000;

const SMALL: &str = "ok\n";

fn keep_alive_get(stream: &mut TcpStream) -> Result<Response, String> {
    stream.write_all(get("/small.txt").as_bytes()).map_err(|e| format!("write: {e}"))?;
    // One response per request in lockstep: a buffered reader cannot swallow
    // anything that belongs to a later one.
    let mut reader = BufReader::new(&*stream);
    match try_read_response(&mut reader, false)? {
        Some(r) => Ok(r),
        None => Err("closed before a response".into()),
    }
}

fn connect_patiently(addr: SocketAddr) -> Result<TcpStream, String> {
    let s = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).map_err(|e| format!("connect: {e}"))?;
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.set_write_timeout(Some(Duration::from_secs(10))).unwrap();
    Ok(s)
}

#[test]
fn ten_thousand_concurrent_keep_alive_connections_are_all_served() {
    let _serial = serial();
    let (soft, hard) = raise_nofile_limit();
    if hard < NEEDED_FDS {
        eprintln!("SKIPPED: RLIMIT_NOFILE hard limit is {hard} (< {NEEDED_FDS}); 10 000 connections need more");
        return;
    }
    assert!(soft >= NEEDED_FDS, "could not raise the soft RLIMIT_NOFILE ({soft}) to the hard limit {hard}");
    let site = Site::empty();
    site.write("small.txt", SMALL);
    let srv = site.serve(&[]);
    let addr = srv.addr();
    let started = Instant::now();

    // Phase 1: every thread opens its share and makes one request on each;
    // phase 2 (after all are open at once): a second request on every one.
    let barrier = Arc::new(Barrier::new(THREADS + 1));
    let workers: Vec<_> = (0..THREADS)
        .map(|_| {
            let barrier = Arc::clone(&barrier);
            thread::spawn(move || {
                let share = CONNS / THREADS;
                let mut conns = Vec::with_capacity(share);
                let mut failures = Vec::new();
                for _ in 0..share {
                    match connect_patiently(addr).and_then(|mut s| keep_alive_get(&mut s).map(|r| (s, r))) {
                        Ok((s, r)) if r.status == 200 && r.body == SMALL.as_bytes() => conns.push(s),
                        Ok((_, r)) => failures.push(format!("first request: {}", r.raw_head)),
                        Err(e) => failures.push(format!("first request: {e}")),
                    }
                }
                barrier.wait(); // all connections are open now
                barrier.wait(); // the main thread has counted them
                let mut served = 0;
                for s in &mut conns {
                    match keep_alive_get(s) {
                        Ok(r) if r.status == 200 && r.body == SMALL.as_bytes() => served += 1,
                        Ok(r) => failures.push(format!("second request: {}", r.raw_head)),
                        Err(e) => failures.push(format!("second request: {e}")),
                    }
                }
                (conns.len(), served, failures)
            })
        })
        .collect();
    barrier.wait();
    let open_at_peak = open_fds(srv.pid());
    let phase1 = started.elapsed();
    barrier.wait();
    let (mut opened, mut served, mut failures) = (0, 0, Vec::new());
    for w in workers {
        let (o, s, f) = w.join().unwrap();
        opened += o;
        served += s;
        failures.extend(f);
    }
    let elapsed = started.elapsed();
    eprintln!(
        "many connections: {opened} opened and served once in {phase1:?}, all open at once (server holds {open_at_peak} \
         descriptors), {served} served again on the same connections; {elapsed:?} in all"
    );
    assert!(failures.is_empty(), "{} failures, first ones: {:#?}", failures.len(), &failures[..failures.len().min(5)]);
    assert_eq!((opened, served), (CONNS, CONNS));
    assert!(
        open_at_peak >= CONNS,
        "the server held only {open_at_peak} descriptors: the connections were not concurrent"
    );
    assert!(elapsed < Duration::from_secs(60), "took {elapsed:?}");
}

#[test]
fn over_max_conns_extra_connections_get_503_and_a_close() {
    let _serial = serial();
    const MAX: usize = 50;
    let site = Site::empty();
    site.write("small.txt", SMALL);
    let srv = site.serve(&["--max-conns", "50"]);

    let mut admitted: Vec<TcpStream> = (0..MAX)
        .map(|i| {
            let mut s = srv.connect();
            let r = keep_alive_get(&mut s).unwrap_or_else(|e| panic!("connection {i}: {e}"));
            r.assert_status(200);
            s
        })
        .collect();

    for extra in 0..10 {
        let mut s = srv.connect();
        // The 503 is sent on accept, before any request; a request sent anyway
        // must not get a second response.
        send_lenient(&mut s, get("/small.txt"));
        let all = read_to_close(&mut s);
        let responses = parse_all(&all);
        assert_eq!(responses.len(), 1, "extra connection {extra}: {}", heads(&responses));
        let r = &responses[0];
        r.assert_status(503);
        let retry = r.must("retry-after");
        assert!(!retry.is_empty() && retry.bytes().all(|b| b.is_ascii_digit()), "Retry-After {retry:?}");
        assert!(r.connection_has("close"), "503 without Connection: close:\n{}", r.raw_head);
    }

    for (i, s) in admitted.iter_mut().enumerate() {
        let r = keep_alive_get(s).unwrap_or_else(|e| panic!("admitted connection {i} after the refusals: {e}"));
        r.assert_status(200);
    }
    // Once one leaves, a new connection is admitted again.
    drop(admitted.pop());
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let mut s = srv.connect();
        let r = keep_alive_get(&mut s).unwrap();
        if r.status == 200 {
            break;
        }
        r.assert_status(503);
        assert!(Instant::now() < deadline, "no connection admitted after one of {MAX} closed");
        thread::sleep(Duration::from_millis(50));
    }
}
