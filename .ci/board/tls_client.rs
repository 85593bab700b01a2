//! The HTTPS client the booted board's checks run inside the guest: rustls
//! with ring, the TLS stack of mote's own `tls` build, cross-built with it
//! (the same target directory, so std, rustls and ring are compiled once).
//! It verifies the chain against a CA file and the name `localhost`.
//!
//!   mote-tls-client handshake ADDR:PORT CA COUNT [UNIX]
//!       COUNT full handshakes (no resumption), each on a new connection
//!       followed by one `GET /` that must answer 200; prints the protocol,
//!       the suite and the handshake times (min, median, max).
//!   mote-tls-client load ADDR:PORT CA PATH CONNS REQUESTS FILE [UNIX]
//!       CONNS connections at once (a thread each), each sending REQUESTS
//!       GETs for PATH on one keep-alive connection; every answer must be a
//!       200 whose body is byte-equal to FILE. One summary line; exit 1 on
//!       the first wrong answer, saying which.
//!
//! UNIX (seconds) verifies the chain as of that time instead of the guest's
//! clock: a client elsewhere, whose clock is right, talking to a board whose
//! clock still reads 1970. Every socket has a 20 s timeout, so a server that
//! stops answering ends the client with an error instead of hanging the boot.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustls::client::Resumption;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, ClientConnection, RootCertStore, StreamOwned};

// The Makefile's static ARM builds replace the unwinder with mote's stubs.
#[cfg(stub_unwinder)]
#[path = "../../src/sys/unwind.rs"]
mod unwind;

const IO_TIMEOUT: Duration = Duration::from_secs(20);
const MAX_HEAD: usize = 16384;

#[derive(Debug)]
struct FixedTime(UnixTime);

impl rustls::time_provider::TimeProvider for FixedTime {
    fn current_time(&self) -> Option<UnixTime> {
        Some(self.0)
    }
}

fn config(ca: &str, at: Option<&String>) -> Result<Arc<ClientConfig>, String> {
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(ca).map_err(|e| format!("{ca}: {e}"))? {
        roots.add(cert.map_err(|e| format!("{ca}: {e}"))?).map_err(|e| format!("{ca}: {e}"))?;
    }
    // Deprecated for lacking post-quantum key exchange, which ring has not;
    // mote's HTTPS is built on ring too (src/net/tls.rs).
    #[allow(deprecated)]
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = match at {
        Some(at) => {
            let secs = at.parse().map_err(|_| format!("{at}: not unix seconds"))?;
            ClientConfig::builder_with_details(
                provider,
                Arc::new(FixedTime(UnixTime::since_unix_epoch(Duration::from_secs(secs)))),
            )
        }
        None => ClientConfig::builder_with_provider(provider),
    };
    let mut config = builder
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.resumption = Resumption::disabled();
    Ok(Arc::new(config))
}

type Tls = StreamOwned<ClientConnection, TcpStream>;

/// A connection with its handshake done, and how long the handshake took
/// (from connect to the server's Finished).
fn connect(addr: &str, config: &Arc<ClientConfig>) -> Result<(Tls, Duration), String> {
    let tcp = TcpStream::connect(addr).map_err(|e| format!("connect to {addr}: {e}"))?;
    tcp.set_read_timeout(Some(IO_TIMEOUT)).map_err(|e| e.to_string())?;
    tcp.set_write_timeout(Some(IO_TIMEOUT)).map_err(|e| e.to_string())?;
    tcp.set_nodelay(true).map_err(|e| e.to_string())?;
    let name = ServerName::try_from("localhost").map_err(|e| e.to_string())?;
    let mut conn = ClientConnection::new(config.clone(), name).map_err(|e| e.to_string())?;
    let mut tcp = tcp;
    let start = Instant::now();
    while conn.is_handshaking() {
        conn.complete_io(&mut tcp).map_err(|e| format!("handshake with {addr}: {e}"))?;
    }
    Ok((StreamOwned::new(conn, tcp), start.elapsed()))
}

/// One GET on `tls`; the status and the body (by Content-Length).
fn get(tls: &mut Tls, path: &str, close: bool) -> Result<(u16, Vec<u8>), String> {
    let connection = if close { "Connection: close\r\n" } else { "" };
    let request = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\n{connection}\r\n");
    tls.write_all(request.as_bytes()).map_err(|e| format!("write: {e}"))?;
    let mut buf = Vec::new();
    let mut chunk = [0; 16384];
    let head_len = loop {
        if let Some(at) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
        if buf.len() > MAX_HEAD {
            return Err("response head too long".into());
        }
        let n = tls.read(&mut chunk).map_err(|e| format!("read: {e}"))?;
        if n == 0 {
            return Err("connection closed before a whole response".into());
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_len]).into_owned();
    let status = head.strip_prefix("HTTP/1.1 ").and_then(|s| s.get(..3)).and_then(|s| s.parse().ok());
    let status = status.ok_or_else(|| "not an HTTP/1.1 response".to_string())?;
    let length = head
        .lines()
        .find_map(|l| l.split_once(':').filter(|(k, _)| k.eq_ignore_ascii_case("content-length")))
        .and_then(|(_, v)| v.trim().parse::<usize>().ok())
        .ok_or_else(|| "response without Content-Length".to_string())?;
    while buf.len() < head_len + length {
        let n = tls.read(&mut chunk).map_err(|e| format!("read: {e}"))?;
        if n == 0 {
            return Err("connection closed inside the body".into());
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    if buf.len() > head_len + length {
        return Err("bytes past the end of the response".into());
    }
    Ok((status, buf.split_off(head_len)))
}

fn ms(d: Duration) -> String {
    format!("{}.{:01}", d.as_millis(), d.as_micros() % 1000 / 100)
}

fn handshakes(args: &[String]) -> Result<(), String> {
    let [addr, ca, count, rest @ ..] = args else { return Err(usage()) };
    let config = config(ca, rest.first())?;
    let count: usize = count.parse().ok().filter(|&n| n > 0).ok_or("COUNT must be positive")?;
    let mut times = Vec::new();
    let mut suite = String::new();
    for _ in 0..count {
        let (mut tls, took) = connect(addr, &config)?;
        times.push(took);
        let conn = &tls.conn;
        // Named by their own table: the static builds compile `{:?}` to nothing.
        let version = conn.protocol_version().and_then(|v| v.as_str()).ok_or("no protocol")?;
        let cipher = conn.negotiated_cipher_suite().and_then(|s| s.suite().as_str()).ok_or("no suite")?;
        suite = format!("{version} {cipher}");
        let (status, _) = get(&mut tls, "/", true)?;
        if status != 200 {
            return Err(format!("GET / answered {status}, not 200"));
        }
    }
    times.sort();
    println!(
        "{count} full handshakes, {suite}, chain verified: {} / {} / {} ms (min / median / max)",
        ms(times[0]),
        ms(times[count / 2]),
        ms(times[count - 1])
    );
    Ok(())
}

fn load(args: &[String]) -> Result<(), String> {
    let [addr, ca, path, conns, requests, file, rest @ ..] = args else { return Err(usage()) };
    let config = config(ca, rest.first())?;
    let conns: usize = conns.parse().ok().filter(|&n| n > 0).ok_or("CONNS must be positive")?;
    let requests: usize = requests.parse().ok().filter(|&n| n > 0).ok_or("REQUESTS must be positive")?;
    let want = Arc::new(std::fs::read(file).map_err(|e| format!("{file}: {e}"))?);
    let start = Instant::now();
    let threads: Vec<_> = (0..conns)
        .map(|_| {
            let (addr, path, config, want) = (addr.clone(), path.clone(), config.clone(), want.clone());
            std::thread::spawn(move || -> Result<(), String> {
                let (mut tls, _) = connect(&addr, &config)?;
                for i in 1..=requests {
                    let (status, body) = get(&mut tls, &path, false)?;
                    if status != 200 {
                        return Err(format!("request {i} answered {status}, not 200"));
                    }
                    if body != *want {
                        return Err(format!("request {i}: the body ({} bytes) differs from the file", body.len()));
                    }
                }
                Ok(())
            })
        })
        .collect();
    let mut failed = 0;
    for thread in threads {
        if let Err(why) = thread.join().unwrap_or_else(|_| Err("a client thread panicked".into())) {
            eprintln!("mote-tls-client: {why}");
            failed += 1;
        }
    }
    println!(
        "{conns} HTTPS connections x {requests} requests in {} ms, {failed} connections failed",
        start.elapsed().as_millis()
    );
    if failed == 0 {
        Ok(())
    } else {
        Err(format!("{failed} of {conns} connections failed"))
    }
}

fn usage() -> String {
    "usage: mote-tls-client handshake ADDR:PORT CA COUNT [UNIX]\n       \
     mote-tls-client load ADDR:PORT CA PATH CONNS REQUESTS FILE [UNIX]"
        .into()
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("handshake") => handshakes(&args[1..]),
        Some("load") => load(&args[1..]),
        _ => Err(usage()),
    };
    if let Err(why) = result {
        eprintln!("mote-tls-client: {why}");
        std::process::exit(1);
    }
}
