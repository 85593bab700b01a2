//! HTTPS as a transport: rustls turns a connection's bytes into plaintext
//! and back, and everything above (head parsing, memo, catalog, ranges,
//! conditionals, pipelining, limits) is the same code as over plain TCP.
//!
//! Reads decrypt into the worker's read buffer. Replies are copied into
//! rustls a record's worth at a time (head, `--header` lines, tail and body
//! slices gathered; a body held as a file read with pread), so a large file
//! never sits in memory whole, and the next record is made only when the
//! last has gone to the socket.
//!
//! The crypto provider is put together by hand for what a server needs, so
//! nothing else is linked: ECDSA keys, X25519 and P-256 key exchange, TLS 1.3
//! and TLS 1.2 with ECDHE and AEAD suites only. The server's order of suites
//! wins: ChaCha20 first on 32-bit ARM, whose cores (Pi 1 to 3) lack AES
//! instructions, AES-GCM first elsewhere.
#![forbid(unsafe_code)]

use std::io::{self, Read, Write};
use std::os::unix::fs::FileExt;
use std::sync::{Arc, Mutex};

use mio::net::TcpStream;
use rustls::crypto::ring::{cipher_suite as suite, kx_group, sign, Ticketer};
use rustls::crypto::{CryptoProvider, GetRandomFailed, KeyProvider, SecureRandom, WebPkiSupportedAlgorithms};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::{CertifiedKey, SigningKey};
use rustls::{ServerConfig, ServerConnection};
use rustls_pki_types::PrivateKeyDer;

use crate::answer::reply::{BodyRef, Reply};
use crate::net::send;

/// Plaintext handed to rustls at once: one record's worth.
const RECORD: usize = 16 * 1024;

/// The suites in the server's order of preference.
#[cfg(target_arch = "arm")]
const SUITES: [rustls::SupportedCipherSuite; 6] = [
    suite::TLS13_CHACHA20_POLY1305_SHA256,
    suite::TLS13_AES_128_GCM_SHA256,
    suite::TLS13_AES_256_GCM_SHA384,
    suite::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
    suite::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
    suite::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
];
#[cfg(not(target_arch = "arm"))]
const SUITES: [rustls::SupportedCipherSuite; 6] = [
    suite::TLS13_AES_128_GCM_SHA256,
    suite::TLS13_AES_256_GCM_SHA384,
    suite::TLS13_CHACHA20_POLY1305_SHA256,
    suite::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
    suite::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
    suite::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
];

/// The server side of HTTPS: one configuration for every listener, and the
/// certificate a new handshake is answered with.
pub struct Server {
    config: Arc<ServerConfig>,
    current: Arc<Current>,
}

/// The pair new handshakes get; a reload swaps it, and a handshake already
/// made keeps the one it was made with.
#[derive(Debug)]
struct Current(Mutex<Arc<CertifiedKey>>);

impl ResolvesServerCert for Current {
    fn resolve(&self, _: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).clone())
    }
}

impl Server {
    pub fn new(key: Arc<CertifiedKey>) -> Result<Server, String> {
        let current = Arc::new(Current(Mutex::new(key)));
        let mut config = ServerConfig::builder_with_provider(Arc::new(provider()))
            .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
            .map_err(|e| format!("TLS: {e}"))?
            .with_no_client_auth()
            .with_cert_resolver(current.clone());
        config.ignore_client_order = true;
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        // Stateless, rotated tickets: a returning client resumes without the
        // key exchange and signature, and the server keeps nothing per client.
        config.ticketer = Ticketer::new().map_err(|e| format!("TLS: session tickets: {e}"))?;
        config.session_storage = Arc::new(rustls::server::NoServerSessionStorage {});
        Ok(Server { config: Arc::new(config), current })
    }

    /// New handshakes use `key` from now on.
    pub fn swap(&self, key: Arc<CertifiedKey>) {
        *self.current.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) = key;
    }

    /// A new connection's TLS state.
    pub fn session(&self) -> Option<Box<ServerConnection>> {
        ServerConnection::new(self.config.clone()).ok().map(Box::new)
    }
}

fn provider() -> CryptoProvider {
    CryptoProvider {
        cipher_suites: SUITES.to_vec(),
        kx_groups: vec![kx_group::X25519, kx_group::SECP256R1],
        // Only used to verify client certificates, which mote never asks for.
        signature_verification_algorithms: WebPkiSupportedAlgorithms { all: &[], mapping: &[] },
        secure_random: &KernelRandom,
        key_provider: &EcdsaKeys,
    }
}

#[derive(Debug)]
pub(crate) struct KernelRandom;

impl SecureRandom for KernelRandom {
    fn fill(&self, buf: &mut [u8]) -> Result<(), GetRandomFailed> {
        crate::sys::fill_random(buf).map_err(|_| GetRandomFailed)
    }
}

#[derive(Debug)]
pub(crate) struct EcdsaKeys;

impl KeyProvider for EcdsaKeys {
    fn load_private_key(&self, key: PrivateKeyDer<'static>) -> Result<Arc<dyn SigningKey>, rustls::Error> {
        sign::any_ecdsa_type(&key)
    }
}

/// Reads plaintext into `buf`, reading and decrypting records from the
/// socket as needed: Ok(0) at the end of the stream, WouldBlock when the
/// socket has nothing more now. A record that breaks the protocol (plain
/// HTTP on this port, a hello for TLS 1.1) is answered with an alert, which
/// the next flush sends, and fails the read.
pub fn read(tls: &mut ServerConnection, stream: &TcpStream, buf: &mut [u8]) -> io::Result<usize> {
    let mut socket = stream;
    loop {
        match tls.reader().read(buf) {
            Ok(n) => return Ok(n),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(e) => return Err(e),
        }
        if tls.read_tls(&mut socket)? == 0 {
            return Ok(0);
        }
        tls.process_new_packets().map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
    }
}

/// Writes `queue` from `*written` bytes into its first reply through rustls
/// until it is empty (Ok(true)) or the socket is full (Ok(false)), as
/// `send::write_queue` does for a plain connection.
pub fn write_queue(
    tls: &mut ServerConnection,
    stream: &TcpStream,
    queue: &mut Vec<Reply>,
    written: &mut u64,
) -> io::Result<bool> {
    let mut record = [0; RECORD];
    loop {
        if !flush(tls, stream)? {
            return Ok(false);
        }
        if queue.is_empty() {
            return Ok(true);
        }
        let filled = fill(queue, *written, &mut record)?;
        if filled == 0 {
            // A file that shrank since it was loaded cannot fill its Content-Length.
            return Err(io::ErrorKind::WriteZero.into());
        }
        let taken = tls.writer().write(&record[..filled])?;
        if taken == 0 {
            return Ok(false);
        }
        send::advance(queue, written, taken);
    }
}

/// Sends what rustls has ready (records, alerts); Ok(false) when the socket
/// is full.
pub fn flush(tls: &mut ServerConnection, stream: &TcpStream) -> io::Result<bool> {
    let mut socket = stream;
    while tls.wants_write() {
        match tls.write_tls(&mut socket) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(true)
}

/// Ends the TLS stream before the socket closes (RFC 8446 §6.1), so the
/// client can tell the end of the data from a cut connection.
pub fn close_notify(tls: &mut ServerConnection, stream: &TcpStream) {
    tls.send_close_notify();
    let _ = flush(tls, stream);
}

/// Copies the queue's next bytes from `written` on into `record`: memory
/// parts gathered, a file body read at its offset; returns how many.
fn fill(queue: &[Reply], written: u64, record: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    let mut skip = written;
    for reply in queue {
        for part in [reply.head(), reply.extra(), reply.tail()] {
            copy(part, &mut skip, record, &mut filled);
        }
        match reply.body() {
            BodyRef::Memory(bytes) => copy(bytes, &mut skip, record, &mut filled),
            BodyRef::File { file, start, end } => {
                if skip >= end - start {
                    skip -= end - start;
                } else {
                    let want = ((end - start - skip) as usize).min(record.len() - filled);
                    let n = read_at(file, &mut record[filled..filled + want], start + skip)?;
                    filled += n;
                    // Stop at a short read, and after a file body: what
                    // follows starts the next record.
                    return Ok(filled);
                }
            }
        }
        if filled == record.len() {
            break;
        }
    }
    Ok(filled)
}

/// Appends what is left of `part` after `*skip` bytes to `record`, as much
/// as fits.
fn copy(part: &[u8], skip: &mut u64, record: &mut [u8], filled: &mut usize) {
    if *skip >= part.len() as u64 {
        *skip -= part.len() as u64;
        return;
    }
    let rest = &part[*skip as usize..];
    *skip = 0;
    let n = rest.len().min(record.len() - *filled);
    record[*filled..*filled + n].copy_from_slice(&rest[..n]);
    *filled += n;
}

fn read_at(file: &std::fs::File, buf: &mut [u8], offset: u64) -> io::Result<usize> {
    loop {
        match file.read_at(buf, offset) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            result => return result,
        }
    }
}
