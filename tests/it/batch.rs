//! Batched sends (src/net/batch.rs): with `--io-uring auto` a worker hands the
//! keep-alive answers of one event-loop turn to the kernel in one io_uring
//! submission (the whole responses the memo keeps for repeated heads, so
//! `batched_sends` also counts answers that came from a kept response). The
//! batch must be invisible to clients: every answer byte for byte what a plain
//! send gives, in order, and a socket that fills up mid-batch still gets the
//! rest of its answer later. The system calls are watched to show the batch is
//! really used where the kernel offers io_uring, and not used with
//! `--io-uring off` or where it does not (qemu-user, old kernels).

use crate::common::*;
use std::net::TcpStream;
use std::time::Duration;

/// How often a worker publishes its counters for the status page, and more.
const STATS_EVERY: Duration = Duration::from_millis(1100);

/// Whether the binary under test can have an io_uring: not under an emulator
/// (qemu-user has none), and only where this process can set one up itself
/// (Linux 5.18 or later for the flag mote needs, io_uring not disabled, no
/// seccomp filter refusing it).
fn ring_expected() -> bool {
    let emulated = std::env::var("MOTE_RUNNER").is_ok_and(|r| !r.trim().is_empty());
    !emulated && can_set_up_io_uring()
}

/// io_uring_setup with IORING_SETUP_SUBMIT_ALL, as mote calls it.
fn can_set_up_io_uring() -> bool {
    extern "C" {
        fn syscall(number: std::ffi::c_long, ...) -> std::ffi::c_long;
        fn close(fd: std::ffi::c_int) -> std::ffi::c_int;
    }
    // The number on x86, ARM and the other architectures of the unified table (not MIPS).
    const SYS_IO_URING_SETUP: std::ffi::c_long = 425;
    // struct io_uring_params (120 bytes), its flags word IORING_SETUP_SUBMIT_ALL.
    let mut params = [0u32; 30];
    params[2] = 1 << 7;
    // SAFETY: params is a live, zeroed io_uring_params the kernel may fill in.
    let fd = unsafe { syscall(SYS_IO_URING_SETUP, 4 as std::ffi::c_long, params.as_mut_ptr()) };
    if fd >= 0 {
        // SAFETY: fd is the ring descriptor just made, closed once.
        unsafe { close(fd as std::ffi::c_int) };
    }
    fd >= 0
}

fn page() -> Vec<u8> {
    let mut page = b"<!doctype html><title>batch</title>\n".to_vec();
    page.resize(16_000, b'b'); // just under the largest copy (16 KiB with the head)
    page
}

fn site() -> Site {
    let site = Site::empty();
    site.write("index.html", page());
    site
}

/// The head without its Date line: what must be the same every time.
fn dateless(r: &Response) -> String {
    r.raw_head.lines().filter(|l| !l.starts_with("Date:")).collect::<Vec<_>>().join("\n")
}

fn calls_named<'a>(calls: &'a [String], name: &str) -> Vec<&'a String> {
    calls.iter().filter(|c| c.starts_with(&format!("{name}("))).collect()
}

/// Many connections asking at once, over and over; checks the answers
/// against a reference, and returns the trace and the status page.
fn ask_in_rounds(args: &[&str], connections: usize, rounds: usize) -> (Vec<String>, String) {
    let site = site();
    let root = site.root_str();
    let mut all = vec!["--root", root.as_str(), "--status", "/.mote-status"];
    all.extend_from_slice(args);
    let server = Server::start(&all);
    let reference = server.get("/index.html");
    let mut streams: Vec<TcpStream> = (0..connections).map(|_| server.connect()).collect();
    for stream in &mut streams {
        send_raw(stream, get("/index.html"));
        assert_eq!(read_response(stream, false).body, reference.body);
    }
    let trace = TempDir::new("strace");
    let out = trace.path().join("calls");
    let mut strace = Strace::attach(server.pid(), "io_uring_enter,sendto,sendmsg", &out);
    for round in 0..rounds {
        // Stopped while a round is written, the server finds the whole round
        // ready in its next turn even when this client is slow to write it
        // (a starved client's requests would otherwise arrive one a turn, and
        // a lone send skips the ring).
        server.signal("STOP");
        for stream in &mut streams {
            send_raw(stream, get("/index.html"));
        }
        server.signal("CONT");
        for (i, stream) in streams.iter_mut().enumerate() {
            let r = read_response(stream, false);
            assert_eq!(dateless(&r), dateless(&reference), "round {round}, connection {i}");
            assert_bytes_eq(&r.body, &reference.body, "body");
            assert_date_now(&r);
        }
    }
    let calls = strace.finish(&out);
    std::thread::sleep(STATS_EVERY); // every worker's counters on the page
    (calls, server.get("/.mote-status").text())
}

/// Answers of one turn leave in one `io_uring_enter`, not a `sendto` each.
#[test]
fn a_turns_answers_leave_in_one_submission() {
    let (connections, rounds) = (40, 10); // more than the 32 sends one submission carries
    let (calls, status) = ask_in_rounds(&["--threads", "2"], connections, rounds);
    let (enters, sends) = (calls_named(&calls, "io_uring_enter").len(), calls_named(&calls, "sendto").len());
    let batched = counter(&status, "batched_sends") as usize;
    let rings = counter(&status, "io_uring_workers");
    let asked = connections * rounds; // while traced; one more round and a reference before

    if !ring_expected() {
        eprintln!("NOTE: no io_uring for this binary here: checking the plain sends only");
        assert_eq!((batched, enters, rings), (0, 0, 0), "{status}");
        assert!(sends + calls_named(&calls, "sendmsg").len() >= asked);
        return;
    }
    assert_eq!(rings, 2, "this process can set up an io_uring, but the server has none:\n{status}");
    // A few answers go by themselves: the first after each new second (the
    // copy with the new Date is made by a plain send).
    assert!(batched >= asked * 3 / 4, "{batched} of {asked} batched:\n{status}");
    assert!(sends <= 2 * connections, "{sends} sendto for {asked} answers, {batched} batched");
    assert!(enters >= 1 && enters < batched, "{enters} submissions for {batched} batched answers");
}

#[test]
fn off_sends_each_answer_itself() {
    let (calls, status) = ask_in_rounds(&["--io-uring", "off"], 4, 5);
    assert_eq!(counter(&status, "batched_sends"), 0, "{status}");
    assert_eq!(counter(&status, "io_uring_workers"), 0, "{status}");
    assert!(calls_named(&calls, "io_uring_enter").is_empty(), "{calls:?}");
    assert!(calls_named(&calls, "sendto").len() >= 4 * 5 - 4, "{calls:?}");
}

/// Clients that stop reading: the batched sends meet full sockets (a short
/// send, then EAGAIN), and each connection carries on from the byte where the
/// batch stopped once its client reads again. The server is stopped while a
/// round of requests is written, so every turn finds them all ready at once
/// (a lone send would skip the ring).
#[test]
fn a_full_socket_gets_the_rest_of_a_batched_answer_later() {
    let site = site();
    let server = Server::start(&["--root", &site.root_str(), "--status", "/.mote-status"]);
    let mut streams: Vec<TcpStream> = (0..4).map(|_| server.connect()).collect();
    // 6.4 MB a connection: more than its socket buffers hold unread (the
    // server's send buffer may grow to 4 MiB, tcp_wmem's default ceiling).
    let rounds = 400;
    for _ in 0..rounds {
        server.signal("STOP");
        for stream in &mut streams {
            send_raw(stream, get("/index.html"));
        }
        server.signal("CONT");
    }
    for (c, stream) in streams.iter_mut().enumerate() {
        for i in 0..rounds {
            let r = read_response(stream, false);
            assert_eq!(r.status, 200, "connection {c}, answer {i}: {}", r.raw_head);
            assert_bytes_eq(&r.body, &page(), &format!("connection {c}, answer {i}"));
        }
    }
    std::thread::sleep(STATS_EVERY);
    let status = server.get("/.mote-status").text();
    assert_eq!(counter(&status, "batched_sends") > 0, ring_expected(), "{status}");
}
