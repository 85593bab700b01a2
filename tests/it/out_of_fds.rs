//! Out of file descriptors: under `ulimit -n 64` with hundreds of connection
//! attempts, mote does not spin (its CPU time is measured while accept fails),
//! does not crash, and serves normally again once descriptors are free.

use crate::common::*;

use std::net::TcpStream;
use std::thread;
use std::time::{Duration, Instant};

const ATTEMPTS: usize = 300;
const MEASURE: Duration = Duration::from_secs(2);

#[test]
fn out_of_descriptors_mote_idles_and_recovers() {
    let site = Site::standard();
    let root = site.root_str();
    // An explicit --max-conns: the default (limit - 64) would refuse at once
    // with 503s and never run out of descriptors, which is not what is tested.
    let mut srv = Server::start_under_shell(
        "ulimit -n 64",
        &[
            "--listen",
            "127.0.0.1:0",
            "--root",
            &root,
            "--max-conns",
            "1000",
            "--header-timeout",
            "60",
            "--idle-timeout",
            "60",
        ],
    );
    let pid = srv.pid();
    let limits = std::fs::read_to_string(format!("/proc/{pid}/limits")).unwrap();
    let files = limits.lines().find(|l| l.starts_with("Max open files")).unwrap_or("?").to_string();
    assert!(files.split_whitespace().nth(3) == Some("64"), "the limit did not apply: {files}");
    srv.get("/style.css").assert_status(200);

    // Hold hundreds of connections; the server can accept only ~60 of them.
    let addr = srv.addr();
    let mut held: Vec<TcpStream> = Vec::new();
    let mut refused = 0;
    for _ in 0..ATTEMPTS {
        match TcpStream::connect_timeout(&addr, Duration::from_millis(500)) {
            Ok(s) => held.push(s),
            Err(_) => refused += 1,
        }
    }
    let deadline = Instant::now() + Duration::from_secs(5);
    while !srv.stderr().contains("cannot accept") && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(20));
    }
    assert!(srv.stderr().contains("cannot accept"), "mote never ran out of descriptors; stderr:\n{}", srv.stderr());
    let fds = open_fds(pid);

    let hz = clock_ticks_per_second();
    let (ticks0, t0) = (cpu_ticks(pid), Instant::now());
    thread::sleep(MEASURE);
    let (ticks1, elapsed) = (cpu_ticks(pid), t0.elapsed());
    let cpu = (ticks1 - ticks0) as f64 / hz as f64;
    let share = cpu / elapsed.as_secs_f64();
    eprintln!(
        "out of fds: ulimit -n 64, {} connections held ({refused} attempts failed), server at {fds} descriptors; \
         CPU {:.3} s over {:.2} s = {:.1}% of a core ({} ticks at {hz} Hz)",
        held.len(),
        cpu,
        elapsed.as_secs_f64(),
        share * 100.0,
        ticks1 - ticks0
    );
    assert!(srv.is_running(), "mote died out of descriptors; stderr:\n{}", srv.stderr());
    assert!(share < 0.20, "mote used {:.1}% of a core while out of descriptors: a busy loop", share * 100.0);

    // Free the descriptors: every held connection goes away.
    drop(held);
    let deadline = Instant::now() + Duration::from_secs(10);
    let recovered = loop {
        match TcpStream::connect_timeout(&addr, Duration::from_secs(1)) {
            Ok(mut s) => {
                s.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
                send_lenient(&mut s, get("/style.css"));
                match try_read_response(&mut s, false) {
                    Ok(Some(r)) => break r,
                    other => eprintln!("retrying after {other:?}"),
                }
            }
            Err(e) => eprintln!("retrying after connect: {e}"),
        }
        assert!(Instant::now() < deadline, "no service within 10 s of freeing the descriptors");
        thread::sleep(Duration::from_millis(100));
    };
    recovered.assert_status(200);
    assert_eq!(recovered.body, STYLE_CSS.as_bytes());
    // And then, plainly, a few more.
    for _ in 0..20 {
        srv.get("/index.html").assert_status(200);
    }
    assert!(srv.is_running());
}
