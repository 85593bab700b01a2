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
pub(crate) const SUITES: [rustls::SupportedCipherSuite; 6] = [
    suite::TLS13_CHACHA20_POLY1305_SHA256,
    suite::TLS13_AES_128_GCM_SHA256,
    suite::TLS13_AES_256_GCM_SHA384,
    suite::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
    suite::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
    suite::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
];
#[cfg(not(target_arch = "arm"))]
pub(crate) const SUITES: [rustls::SupportedCipherSuite; 6] = [
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
/// made keeps the one it was made with. None only beside `--acme`, without
/// `--tls-cert`.
#[derive(Debug)]
struct Current(Mutex<Option<Arc<CertifiedKey>>>);

impl ResolvesServerCert for Current {
    fn resolve(&self, _: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).clone()
    }
}

impl Server {
    pub fn new(key: Arc<CertifiedKey>) -> Result<Server, String> {
        Server::with_pair(Some(key))
    }

    fn with_pair(key: Option<Arc<CertifiedKey>>) -> Result<Server, String> {
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
        *self.current.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(key);
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
/// socket has nothing more now. A record that breaks the protocol (garbage,
/// a hello for TLS 1.1) is answered with an alert, which the next flush
/// sends, and fails the read.
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
        #[cfg(feature = "acme")]
        if acme::validation(tls) {
            return Ok(0);
        }
    }
}

/// Whether a connection's first byte, peeked so that rustls still reads it,
/// is plain HTTP's: a request line starts with a method's letters, a TLS
/// record with its content type (22 for a hello) and an SSLv2 hello with a
/// high bit. None while nothing has arrived, or at the end of the stream.
pub fn sent_plain_http(stream: &TcpStream) -> io::Result<Option<bool>> {
    let mut first = [0; 1];
    loop {
        return match stream.peek(&mut first) {
            Ok(0) => Ok(None),
            Ok(_) => Ok(Some(first[0].is_ascii_alphabetic())),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => Err(e),
        };
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

/// `--acme`: certificates chosen by name, and TLS-ALPN-01's (RFC 8737).
/// The ACME client's start-up builds the server with them.
#[cfg(feature = "acme")]
#[cfg_attr(not(test), allow(dead_code))]
mod acme {
    use super::*;
    use crate::acme::challenge::{self, Certs, Challenges, ACME_TLS};

    impl Server {
        /// The server for `--acme`: each name's certificate from `certs`,
        /// TLS-ALPN-01's from `challenges`, and `fallback` (`--tls-cert`)
        /// for names no `--acme` covers.
        pub fn with_acme(
            fallback: Option<Arc<CertifiedKey>>,
            challenges: Arc<Challenges>,
            certs: Arc<Certs>,
        ) -> Result<Server, String> {
            let server = Server::with_pair(fallback)?;
            let mut config = (*server.config).clone();
            config.cert_resolver = Arc::new(ByName { challenges, certs, fallback: server.current.clone() });
            // rustls picks the first of these the client offers: a client
            // offering acme-tls/1 is validating, and gets only that.
            config.alpn_protocols.insert(0, ACME_TLS.to_vec());
            Ok(Server { config: Arc::new(config), current: server.current })
        }
    }

    #[derive(Debug)]
    struct ByName {
        challenges: Arc<Challenges>,
        certs: Arc<Certs>,
        fallback: Arc<Current>,
    }

    impl ResolvesServerCert for ByName {
        fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
            let acme_tls = hello.alpn().is_some_and(|mut offered| offered.any(|p| p == ACME_TLS));
            let name = hello.server_name();
            let fallback = || self.fallback.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).clone();
            challenge::resolve(&self.challenges, &self.certs, name, acme_tls, fallback)
        }
    }

    /// A TLS-ALPN-01 validation's connection, its handshake done: it
    /// carries no HTTP (RFC 8737 §3), so it ends here, with close_notify.
    pub fn validation(tls: &mut ServerConnection) -> bool {
        let done = !tls.is_handshaking() && tls.alpn_protocol() == Some(ACME_TLS);
        if done {
            tls.send_close_notify();
        }
        done
    }
}

#[cfg(all(test, feature = "acme"))]
mod tests {
    use super::*;
    use crate::acme::challenge::{Certs, Challenges};
    use crate::acme::store::Pair;
    use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
    use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
    use rustls::{ClientConfig, ClientConnection, DigitallySignedStruct, SignatureScheme};

    /// A self-signed ECDSA pair for `name`, made by openssl.
    fn pair(name: &str) -> Arc<CertifiedKey> {
        let dir = std::env::temp_dir().join(format!("mote-tls-{}-{name}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let run = |args: &[&str]| {
            let out = std::process::Command::new("openssl").args(args).current_dir(&dir).output().expect("openssl");
            assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        };
        run(&["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", "k.pem"]);
        run(&["pkcs8", "-topk8", "-nocrypt", "-in", "k.pem", "-outform", "DER", "-out", "k.der"]);
        let san = format!("subjectAltName=DNS:{name}");
        run(&[
            "req", "-x509", "-new", "-key", "k.pem", "-subj", "/CN=x", "-addext", &san, "-days", "2", "-out", "c.pem",
        ]);
        let pair = Pair {
            chain_pem: std::fs::read(dir.join("c.pem")).unwrap(),
            key_pkcs8: std::fs::read(dir.join("k.der")).unwrap(),
        };
        let _ = std::fs::remove_dir_all(&dir);
        pair.certified_key().unwrap()
    }

    /// Takes any certificate: these tests look at which one was sent.
    #[derive(Debug)]
    struct AnyCert;

    impl ServerCertVerifier for AnyCert {
        fn verify_server_cert(
            &self,
            _: &CertificateDer<'_>,
            _: &[CertificateDer<'_>],
            _: &ServerName<'_>,
            _: &[u8],
            _: UnixTime,
        ) -> Result<ServerCertVerified, rustls::Error> {
            Ok(ServerCertVerified::assertion())
        }
        fn verify_tls12_signature(
            &self,
            _: &[u8],
            _: &CertificateDer<'_>,
            _: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, rustls::Error> {
            Ok(HandshakeSignatureValid::assertion())
        }
        fn verify_tls13_signature(
            &self,
            _: &[u8],
            _: &CertificateDer<'_>,
            _: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, rustls::Error> {
            Ok(HandshakeSignatureValid::assertion())
        }
        fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
            vec![SignatureScheme::ECDSA_NISTP256_SHA256, SignatureScheme::ECDSA_NISTP384_SHA384]
        }
    }

    /// A handshake in memory for `name` offering `alpn`: the certificate and
    /// protocol the client got, and whether the server then ends the
    /// connection as a validation's; Err when the handshake failed.
    fn handshake(server: &Server, name: &str, alpn: &[&[u8]]) -> Result<(Vec<u8>, Vec<u8>, bool), String> {
        let mut config = ClientConfig::builder_with_provider(Arc::new(provider()))
            .with_safe_default_protocol_versions()
            .unwrap()
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AnyCert))
            .with_no_client_auth();
        config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
        let mut client =
            ClientConnection::new(Arc::new(config), ServerName::try_from(name.to_string()).unwrap()).unwrap();
        let mut session = server.session().unwrap();
        for _ in 0..10 {
            let mut wire = Vec::new();
            client.write_tls(&mut wire).unwrap();
            session.read_tls(&mut &wire[..]).unwrap();
            let failed = session.process_new_packets().map_err(|e| e.to_string());
            let mut wire = Vec::new();
            session.write_tls(&mut wire).unwrap();
            client.read_tls(&mut &wire[..]).unwrap();
            client.process_new_packets().map_err(|e| e.to_string())?;
            failed?;
            if !client.is_handshaking() && !session.is_handshaking() {
                let cert = client.peer_certificates().unwrap()[0].to_vec();
                let protocol = client.alpn_protocol().unwrap_or_default().to_vec();
                return Ok((cert, protocol, acme::validation(&mut session)));
            }
        }
        Err("no end to the handshake".into())
    }

    #[test]
    fn acme_certificates_by_name_and_tls_alpn_01() {
        let challenges = Arc::new(Challenges::new());
        let certs = Arc::new(Certs::new());
        let server = Server::with_acme(None, challenges.clone(), certs.clone()).unwrap();
        let http: &[&[u8]] = &[b"h2", b"http/1.1"];
        // Before a name's first certificate: no handshake (no other's).
        let err = handshake(&server, "a.example", http).unwrap_err();
        assert!(err.contains("AccessDenied"), "{err}");
        let a = pair("a.example");
        certs.install("a.example", &["a.example".to_string()], a.clone());
        let (cert, protocol, ends) = handshake(&server, "a.example", http).unwrap();
        assert_eq!((cert, protocol, ends), (a.cert[0].to_vec(), b"http/1.1".to_vec(), false));
        // RFC 8737 §3: acme-tls/1 gets the challenge's certificate, only that
        // protocol, and the connection ends after the handshake.
        let c = pair("c.example");
        challenges.set_alpn("c.example", c.clone());
        let (cert, protocol, ends) = handshake(&server, "c.example", &[b"acme-tls/1"]).unwrap();
        assert_eq!((cert, protocol, ends), (c.cert[0].to_vec(), b"acme-tls/1".to_vec(), true));
        let (cert, protocol, _) = handshake(&server, "c.example", &[b"http/1.1", b"acme-tls/1"]).unwrap();
        assert_eq!((cert, protocol), (c.cert[0].to_vec(), b"acme-tls/1".to_vec()));
        // No challenge on for a name: acme-tls/1 never gets the served one.
        assert!(handshake(&server, "a.example", &[b"acme-tls/1"]).is_err());
        // A --tls-cert pair serves the names no --acme covers.
        let fallback = pair("other.example");
        let server = Server::with_acme(Some(fallback.clone()), challenges, certs).unwrap();
        let (cert, _, _) = handshake(&server, "other.example", http).unwrap();
        assert_eq!(cert, fallback.cert[0].to_vec());
    }
}
