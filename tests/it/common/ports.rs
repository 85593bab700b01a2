//! Ports a test must name before the process that listens on them starts
//! (pebble, a mote pebble validates against, a guest under busybox init).

use std::fs;
use std::net::{TcpListener, UdpSocket};
use std::sync::atomic::{AtomicU32, Ordering};

/// Where ports are handed out from when the kernel's ephemeral range cannot
/// be read.
const EPHEMERAL_LOW: u32 = 32768;
const FIRST: u32 = 10000;

/// A loopback port free for TCP and UDP right now, that no other call in
/// this process returns.
///
/// Taken below the kernel's ephemeral range, where neither a bind to `:0`
/// nor an outgoing connection lands: a port learnt from `:0` and released
/// may be handed to another socket before its user binds it. Each process
/// starts at its own offset, so two test runs side by side rarely meet.
pub fn free_port() -> u16 {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let low = fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|range| range.split_whitespace().next()?.parse().ok())
        .unwrap_or(EPHEMERAL_LOW);
    if low < FIRST + 1000 {
        return TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    }
    let span = low - FIRST;
    let start = std::process::id().wrapping_mul(211) % span;
    for _ in 0..span {
        let port = (FIRST + (start + NEXT.fetch_add(1, Ordering::Relaxed)) % span) as u16;
        if TcpListener::bind(("127.0.0.1", port)).is_ok() && UdpSocket::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no free loopback port between {FIRST} and {low}");
}
