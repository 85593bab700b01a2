//! HTTPS as a transport: rustls turns a connection's bytes into plaintext
//! and back, and everything above (head parsing, memo, catalog, ranges,
//! conditionals, pipelining, limits) is the same code as over plain TCP.
//!
//! rustls's unbuffered API keeps the connection's bytes in mote's hands:
//! records are read into a buffer the worker shares among its connections,
//! decrypted there in place, and the plaintext goes to the worker's read
//! buffer as a plain connection's bytes do. Replies are gathered a record's
//! worth at a time (head, `--header` lines, tail and body slices; a body
//! held as a file read with pread), encrypted into the worker's output and
//! sent, so a large file never sits in memory whole, and the next record is
//! made only when the last has gone to the socket. A connection keeps bytes
//! of its own only for a record still arriving and for the unsent tail of
//! one the socket did not take whole: idle, it holds rustls's keys and state
//! and no buffer.
//!
//! The crypto provider is put together by hand for what a server needs, so
//! nothing else is linked: ECDSA keys, X25519 and P-256 key exchange, TLS 1.3
//! and TLS 1.2 with ECDHE and AEAD suites only. The server's order of suites
//! wins: ChaCha20 first on 32-bit ARM, whose cores (Pi 1 to 3) lack AES
//! instructions, AES-GCM first elsewhere.
#![forbid(unsafe_code)]

use std::cell::RefCell;
use std::io::{self, Read, Write};
use std::os::unix::fs::FileExt;
use std::sync::{Arc, Mutex};

use mio::net::TcpStream;
use rustls::crypto::ring::{cipher_suite as suite, kx_group, sign, Ticketer};
use rustls::crypto::{CryptoProvider, GetRandomFailed, KeyProvider, SecureRandom, WebPkiSupportedAlgorithms};
use rustls::server::{ClientHello, ResolvesServerCert, ServerConnectionData, UnbufferedServerConnection};
use rustls::sign::{CertifiedKey, SigningKey};
use rustls::unbuffered::{ConnectionState, EncodeError, EncodeTlsData, EncryptError, WriteTraffic};
use rustls::ServerConfig;
use rustls_pki_types::PrivateKeyDer;

use crate::answer::reply::{BodyRef, Reply};
use crate::net::send;

/// Plaintext encrypted at once: one record's worth (RFC 8446 §5.1).
const RECORD: usize = 16 * 1024;
/// A record's header: type, version, length.
const HEADER: usize = 5;
/// The largest record a client may send: 2^14 bytes of plaintext and the
/// most expansion TLS 1.2 allows (RFC 5246 §6.2.3); rustls refuses larger.
const MAX_RECORD: usize = HEADER + RECORD + 2048;
/// The worker's input: a whole record, after the pieces of a handshake
/// message that spans records, which rustls joins in place.
const INPUT: usize = MAX_RECORD + 6 * 1024;
/// The worker's output: a record's worth of plaintext encrypted, with room
/// for what rustls queued before it (a key update, an alert).
const OUTPUT: usize = RECORD + 512;
/// The most a connection keeps of its own: a record still arriving, and the
/// unsent tail of one the socket did not take whole. (In a handshake it may
/// keep the pieces of a handshake message instead, up to the worker's
/// input, but then no reply waits.)
pub const MOST_KEPT: usize = MAX_RECORD + OUTPUT;

/// The suites in the server's order of preference: TLS 1.3's, then (with
/// the `tls12` feature) TLS 1.2's with ECDHE and an ECDSA key.
#[cfg(target_arch = "arm")]
pub(crate) const SUITES: &[rustls::SupportedCipherSuite] = &[
    suite::TLS13_CHACHA20_POLY1305_SHA256,
    suite::TLS13_AES_128_GCM_SHA256,
    suite::TLS13_AES_256_GCM_SHA384,
    #[cfg(feature = "tls12")]
    suite::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
    #[cfg(feature = "tls12")]
    suite::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
    #[cfg(feature = "tls12")]
    suite::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
];
#[cfg(not(target_arch = "arm"))]
pub(crate) const SUITES: &[rustls::SupportedCipherSuite] = &[
    suite::TLS13_AES_128_GCM_SHA256,
    suite::TLS13_AES_256_GCM_SHA384,
    suite::TLS13_CHACHA20_POLY1305_SHA256,
    #[cfg(feature = "tls12")]
    suite::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
    #[cfg(feature = "tls12")]
    suite::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
    #[cfg(feature = "tls12")]
    suite::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
];

/// The protocol versions, server's and ACME client's: TLS 1.2 only with the
/// `tls12` feature, which the ACME build leaves out for its size.
pub(crate) const VERSIONS: &[&rustls::SupportedProtocolVersion] = &[
    &rustls::version::TLS13,
    #[cfg(feature = "tls12")]
    &rustls::version::TLS12,
];

/// The server side of HTTPS: one configuration for every listener, and the
/// certificates a new handshake is answered with.
pub struct Server {
    config: Arc<ServerConfig>,
    current: Arc<Current>,
}

/// The DNS names a certificate covers (its SAN's dNSNames, lowercase).
pub type Names = Arc<[String]>;

/// A `--tls-cert` pair: the names its certificate covers, and the pair.
#[derive(Debug)]
pub struct Pair {
    pub names: Names,
    pub key: Arc<CertifiedKey>,
}

/// The pairs new handshakes get, in flag order; a reload swaps them, and a
/// handshake already made keeps the one it was made with. Empty only beside
/// `--acme`, without `--tls-cert`.
#[derive(Debug)]
struct Current(Mutex<Vec<Pair>>);

impl Current {
    /// The pair whose certificate covers `name` (SNI), else the first.
    fn pick(&self, name: Option<&str>) -> Option<Arc<CertifiedKey>> {
        let pairs = self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let named = name.and_then(|name| pairs.iter().find(|pair| covers(&pair.names, name.as_bytes())));
        let pair = named.or(pairs.first())?;
        if name.is_some() {
            chose(&pair.names);
        }
        Some(pair.key.clone())
    }
}

impl ResolvesServerCert for Current {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        self.pick(hello.server_name())
    }
}

/// Whether a certificate for `names` covers `host` (RFC 6125 §6.4: without
/// case; `*.example.com` covers one label, `a.example.com`, and neither
/// `example.com` nor `a.b.example.com`). The one answer to "which
/// certificate is for this name", for handshakes and requests alike.
pub fn covers(names: &[String], host: &[u8]) -> bool {
    names.iter().any(|name| match name.strip_prefix("*.") {
        Some(parent) => host
            .iter()
            .position(|&b| b == b'.')
            .is_some_and(|dot| dot > 0 && host[dot + 1..].eq_ignore_ascii_case(parent.as_bytes())),
        None => host.eq_ignore_ascii_case(name.as_bytes()),
    })
}

thread_local! {
    /// The names of the certificate the resolver just chose for a client
    /// that sent SNI. rustls asks the resolver on the thread that drives the
    /// handshake, inside `read`, which hands them to the connection.
    static CHOSEN: RefCell<Option<Names>> = const { RefCell::new(None) };
}

/// Tells the connection whose handshake runs on this thread which names its
/// certificate covers.
fn chose(names: &Names) {
    CHOSEN.with(|chosen| *chosen.borrow_mut() = Some(names.clone()));
}

impl Server {
    pub fn new(pairs: Vec<Pair>) -> Result<Server, String> {
        let current = Arc::new(Current(Mutex::new(pairs)));
        let mut config = ServerConfig::builder_with_provider(Arc::new(provider()))
            .with_protocol_versions(VERSIONS)
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

    /// New handshakes use `pairs` from now on.
    pub fn swap(&self, pairs: Vec<Pair>) {
        *self.current.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) = pairs;
    }

    /// A new connection's TLS state.
    pub fn session(&self) -> Option<Box<Session>> {
        UnbufferedServerConnection::new(self.config.clone()).ok().map(|tls| Box::new(Session::new(tls)))
    }
}

/// The server's provider; the ACME client's starts from it.
pub(crate) fn provider() -> CryptoProvider {
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

/// A connection's TLS state: rustls's connection, which keeps the keys and
/// where the protocol stands, and bytes of its own only while they are in
/// flight, so an idle keep-alive connection holds no buffer.
pub struct Session {
    tls: UnbufferedServerConnection,
    /// Bytes received and not yet decrypted: a record still arriving, or
    /// whole records the read buffer had no room for. Its first `seen`
    /// bytes are pieces of a handshake message that spans records, which
    /// rustls has seen and joins in place once the rest arrives. Empty and
    /// unallocated most of the time.
    received: Vec<u8>,
    seen: usize,
    /// Records the socket did not take yet; empty unless it was full.
    unsent: Vec<u8>,
    /// The client's close_notify came: its data has ended.
    peer_closed: bool,
    /// The names the certificate covers, when the client sent SNI.
    certificate: Option<Names>,
}

impl Session {
    fn new(tls: UnbufferedServerConnection) -> Session {
        Session { tls, received: Vec::new(), seen: 0, unsent: Vec::new(), peer_closed: false, certificate: None }
    }

    /// The names the certificate this client got covers, when it sent SNI.
    pub fn certificate(&self) -> Option<Names> {
        self.certificate.clone()
    }

    /// The handshake is not done yet.
    pub fn is_handshaking(&self) -> bool {
        self.tls.is_handshaking()
    }
}

/// A worker's buffers for its HTTPS connections: every record comes in and
/// goes out through them, so a connection keeps only what is left over.
/// Made at the first HTTPS read or write, so a worker without HTTPS
/// listeners has none.
#[derive(Default)]
pub struct Buffers {
    /// Records as read from the socket, decrypted in place; on the way out,
    /// the plaintext of the next record.
    input: Box<[u8]>,
    /// Records to send.
    output: Box<[u8]>,
}

impl Buffers {
    /// What a worker's buffers take, made.
    pub const BYTES: usize = INPUT + OUTPUT;

    fn get(&mut self) -> (&mut [u8], &mut [u8]) {
        if self.input.is_empty() {
            self.input = vec![0; INPUT].into_boxed_slice();
            self.output = vec![0; OUTPUT].into_boxed_slice();
        }
        (&mut self.input, &mut self.output)
    }
}

/// Reads plaintext into `buf`, reading and decrypting records from the
/// socket as needed: Ok(0) at the end of the stream (or the client's
/// close_notify), WouldBlock when the socket has nothing more now. With the
/// count, whether the socket is known to be empty: a socket read came back
/// short and every whole record it brought is in `buf`, so nothing waits
/// until the next readiness edge, and asking the socket again would only get
/// EAGAIN. Records are read into the worker's input and decrypted there in
/// place; what is left of a record still arriving stays with the connection.
/// A record that breaks the protocol (garbage, a hello for TLS 1.1) is
/// answered with an alert, which the next flush sends, and fails the read.
/// Never inlined, like `write_queue`: inlined, rustls's code grows the loop
/// every plain connection of this build runs too, and the plain path pays
/// for it.
#[inline(never)]
pub fn read<S: ?Sized>(
    session: &mut Session,
    socket: &S,
    buf: &mut [u8],
    buffers: &mut Buffers,
) -> io::Result<(usize, bool)>
where
    for<'s> &'s S: Read + Write,
{
    if session.peer_closed {
        return Ok((0, true));
    }
    let (input, output) = buffers.get();
    let handshaking = session.tls.is_handshaking();
    if handshaking {
        CHOSEN.with(|chosen| chosen.borrow_mut().take());
    }
    let Session { tls, received, seen, unsent, peer_closed, certificate } = session;
    // What the connection kept comes first: the input is one stream of
    // records, which rustls knows by their offsets from its start.
    let mut len = received.len();
    input[..len].copy_from_slice(received);
    let (mut start, mut seen_now) = (0, *seen);
    let mut sink = Sink { out: output, len: 0, socket, unsent };
    let mut produced = 0;
    let (mut emptied, mut fresh) = (false, false);
    let result = loop {
        let room = buf.len() - produced;
        let (whole, given, left_over) = next_records(&input[start + seen_now..len], room, produced == 0);
        // An incomplete record is given to rustls once per read of the
        // socket, so a header that is not TLS fails at once.
        if whole > 0 || fresh {
            fresh = false;
            let records = &mut input[start..start + seen_now + given];
            // rustls takes every whole record it is given, and keeps of
            // them only the pieces of a handshake message still arriving.
            let stop = match process(tls, records, buf, &mut produced, &mut sink) {
                Ok((done, stop)) if done <= seen_now + whole => {
                    seen_now = seen_now + whole - done;
                    start += done;
                    stop
                }
                Ok(_) => break Err(io::ErrorKind::InvalidData.into()),
                Err(e) => break Err(e),
            };
            if let Stop::PeerClosed = stop {
                *peer_closed = true;
                break Ok((produced, true));
            }
            #[cfg(feature = "acme")]
            if acme::validation(tls) {
                let records = &mut input[start..start + seen_now];
                let _ = encrypt(tls, records, &mut sink, |traffic, out| traffic.queue_close_notify(out));
                *peer_closed = true;
                break Ok((0, true));
            }
        }
        if left_over {
            break Ok((produced, false));
        }
        if produced > 0 {
            break Ok((produced, emptied));
        }
        if emptied {
            break Err(io::ErrorKind::WouldBlock.into());
        }
        if start > 0 {
            input.copy_within(start..len, 0);
            len -= start;
            start = 0;
        }
        // At most one record beyond what rustls has seen is read, so no
        // more than that is ever left over.
        let end = input.len().min(seen_now + MAX_RECORD);
        if len == end {
            // A handshake message in pieces larger than the input.
            break Err(io::ErrorKind::InvalidData.into());
        }
        match (&mut &*socket).read(&mut input[len..end]) {
            Ok(0) => break Ok((0, true)),
            Ok(n) => {
                emptied = n < end - len;
                fresh = true;
                len += n;
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => break Err(e),
        }
    };
    if start == len {
        *received = Vec::new();
    } else {
        received.clear();
        received.extend_from_slice(&input[start..len]);
    }
    *seen = seen_now;
    if handshaking {
        if let Some(names) = CHOSEN.with(|chosen| chosen.borrow_mut().take()) {
            *certificate = Some(names);
        }
    }
    sink.send()?;
    result
}

/// Where rustls stopped working through the records it was given.
enum Stop {
    /// It has done what it can and waits for more records.
    NeedInput,
    /// The client sent close_notify: its data has ended.
    PeerClosed,
}

/// Lets rustls work through `records`, all of which it is given at once:
/// handshake messages are answered into `sink`, and application data is
/// decrypted in place and copied into `plain` from `*produced` on. Returns
/// how many bytes from the front of `records` rustls is done with.
fn process<S: ?Sized>(
    tls: &mut UnbufferedServerConnection,
    records: &mut [u8],
    plain: &mut [u8],
    produced: &mut usize,
    sink: &mut Sink<'_, S>,
) -> io::Result<(usize, Stop)>
where
    for<'s> &'s S: Write,
{
    let mut done = 0;
    loop {
        let status = tls.process_tls_records(&mut records[done..]);
        let mut discard = status.discard;
        let state = match status.state {
            Ok(state) => state,
            Err(error) => {
                done += discard;
                return Err(alert(tls, &mut records[done..], sink, error));
            }
        };
        let stop = match state {
            ConnectionState::ReadTraffic(mut traffic) => {
                while let Some(record) = traffic.next_record() {
                    let record = record.map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
                    // Never short: a record holds at most 2^14 bytes, and
                    // `next_records` gave rustls only what fits.
                    let to = plain.get_mut(*produced..*produced + record.payload.len());
                    to.ok_or(io::ErrorKind::InvalidData)?.copy_from_slice(record.payload);
                    *produced += record.payload.len();
                    discard += record.discard;
                }
                None
            }
            ConnectionState::EncodeTlsData(mut record) => {
                sink.encode(&mut record)?;
                None
            }
            ConnectionState::TransmitTlsData(transmit) => {
                sink.send()?;
                transmit.done();
                None
            }
            ConnectionState::BlockedHandshake | ConnectionState::WriteTraffic(_) => Some(Stop::NeedInput),
            ConnectionState::PeerClosed | ConnectionState::Closed => Some(Stop::PeerClosed),
            // Early data, which mote never accepts.
            _ => return Err(io::ErrorKind::InvalidData.into()),
        };
        done += discard;
        if let Some(stop) = stop {
            return Ok((done, stop));
        }
    }
}

/// Queues the alert rustls made for `error` (the next flush sends it), and
/// returns the error to fail the read with.
fn alert<S: ?Sized>(
    tls: &mut UnbufferedServerConnection,
    records: &mut [u8],
    sink: &mut Sink<'_, S>,
    error: rustls::Error,
) -> io::Error
where
    for<'s> &'s S: Write,
{
    // The alert is all rustls has queued (what it queued before was taken
    // out before it read more), and it comes out before rustls looks at
    // the records again: one call, as a second would read the same bad
    // records and make a second alert.
    if let Ok(ConnectionState::EncodeTlsData(mut record)) = tls.process_tls_records(records).state {
        let _ = sink.encode(&mut record);
    }
    io::Error::new(io::ErrorKind::InvalidData, error)
}

/// Of `bytes` (records rustls has not seen): how many whole records it can
/// be given now, how many bytes to give it (the whole records, and a record
/// still arriving), and whether whole records are left over. A record is
/// given while its plaintext, never longer than the record, surely fits the
/// `room` left in the read buffer, and the first always is when nothing is
/// read yet (`first`): the caller leaves room for a record's 2^14 bytes.
fn next_records(bytes: &[u8], room: usize, first: bool) -> (usize, usize, bool) {
    let mut whole = 0;
    while let Some(header) = bytes.get(whole..whole + HEADER) {
        let len = HEADER + usize::from(u16::from_be_bytes([header[3], header[4]]));
        if len > MAX_RECORD {
            break; // rustls refuses it when given
        }
        if whole + len > bytes.len() {
            break;
        }
        if whole + len > room && !(first && whole == 0) {
            return (whole, whole, true);
        }
        whole += len;
    }
    (whole, bytes.len(), false)
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

/// Writes `queue` from `*written` bytes into its first reply through TLS
/// until it is empty (Ok(true)) or the socket is full (Ok(false)), as
/// `send::write_queue` does for a plain connection: a record's worth of
/// plaintext gathered, encrypted into the worker's output and sent, and the
/// next record made only once the last has gone, so a client that stops
/// reading holds at most one record's unsent tail. Never inlined: inlined,
/// rustls's code grows the loop every plain connection of this build runs.
#[inline(never)]
pub fn write_queue<S: ?Sized>(
    session: &mut Session,
    socket: &S,
    queue: &mut Vec<Reply>,
    written: &mut u64,
    buffers: &mut Buffers,
) -> io::Result<bool>
where
    for<'s> &'s S: Write,
{
    let (input, output) = buffers.get();
    let Session { tls, received, seen, unsent, .. } = session;
    if !unsent.is_empty() {
        let sent = write_some(socket, unsent)?;
        if sent < unsent.len() {
            unsent.drain(..sent);
            return Ok(false);
        }
        *unsent = Vec::new();
    }
    let plain = &mut input[..RECORD];
    while !queue.is_empty() {
        let filled = fill(queue, *written, plain)?;
        if filled == 0 {
            // A file that shrank since it was loaded cannot fill its Content-Length.
            return Err(io::ErrorKind::WriteZero.into());
        }
        let mut sink = Sink { out: &mut *output, len: 0, socket, unsent: &mut *unsent };
        encrypt(tls, &mut received[..*seen], &mut sink, |traffic, out| traffic.encrypt(&plain[..filled], out))?;
        sink.send()?;
        send::advance(queue, written, filled);
        if !unsent.is_empty() {
            return Ok(false);
        }
    }
    Ok(true)
}

/// Ends the TLS stream before the socket closes (RFC 8446 §6.1), so the
/// client can tell the end of the data from a cut connection. Never
/// inlined, like `read`: it runs once per connection, and inlined it grows
/// the loop plain connections run.
#[inline(never)]
pub fn close_notify<S: ?Sized>(session: &mut Session, socket: &S, buffers: &mut Buffers)
where
    for<'s> &'s S: Write,
{
    let (_, output) = buffers.get();
    let Session { tls, received, seen, unsent, .. } = session;
    let mut sink = Sink { out: output, len: 0, socket, unsent };
    if encrypt(tls, &mut received[..*seen], &mut sink, |traffic, out| traffic.queue_close_notify(out)).is_ok() {
        let _ = sink.send();
    }
}

/// Has rustls write into `sink` with `write` (a record of application data,
/// or close_notify), once it has put out what it queued before. `seen`: the
/// bytes rustls has seen and keeps; given nothing new, it discards none.
fn encrypt<S: ?Sized>(
    tls: &mut UnbufferedServerConnection,
    seen: &mut [u8],
    sink: &mut Sink<'_, S>,
    mut write: impl FnMut(&mut WriteTraffic<'_, ServerConnectionData>, &mut [u8]) -> Result<usize, EncryptError>,
) -> io::Result<()>
where
    for<'s> &'s S: Write,
{
    loop {
        match tls.process_tls_records(seen).state.map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))? {
            ConnectionState::WriteTraffic(mut traffic) => loop {
                match write(&mut traffic, &mut sink.out[sink.len..]) {
                    Ok(n) => {
                        sink.len += n;
                        return Ok(());
                    }
                    Err(EncryptError::InsufficientSize(_)) if sink.len > 0 => sink.send()?,
                    Err(e) => return Err(io::Error::other(e)),
                }
            },
            ConnectionState::EncodeTlsData(mut record) => sink.encode(&mut record)?,
            ConnectionState::TransmitTlsData(transmit) => {
                sink.send()?;
                transmit.done();
            }
            // Still in the handshake, or closed both ways.
            _ => return Err(io::ErrorKind::NotConnected.into()),
        }
    }
}

/// Where records go out: gathered in the worker's output, which is sent
/// when full or when rustls says; what the socket does not take waits in
/// the connection's `unsent`, and nothing is sent before it.
struct Sink<'a, S: ?Sized> {
    out: &'a mut [u8],
    len: usize,
    socket: &'a S,
    unsent: &'a mut Vec<u8>,
}

impl<S: ?Sized> Sink<'_, S>
where
    for<'s> &'s S: Write,
{
    /// Sends what is gathered.
    fn send(&mut self) -> io::Result<()> {
        let bytes = &self.out[..self.len];
        self.len = 0;
        let sent = if self.unsent.is_empty() { write_some(self.socket, bytes)? } else { 0 };
        self.unsent.extend_from_slice(&bytes[sent..]);
        Ok(())
    }

    /// Adds a handshake record or an alert.
    fn encode(&mut self, record: &mut EncodeTlsData<'_, ServerConnectionData>) -> io::Result<()> {
        loop {
            match record.encode(&mut self.out[self.len..]) {
                Ok(n) => {
                    self.len += n;
                    return Ok(());
                }
                Err(EncodeError::InsufficientSize(_)) if self.len > 0 => self.send()?,
                Err(e) => return Err(io::Error::other(e)),
            }
        }
    }
}

/// Writes as much of `bytes` as the socket takes now; returns how much.
fn write_some<S: ?Sized>(socket: &S, bytes: &[u8]) -> io::Result<usize>
where
    for<'s> &'s S: Write,
{
    let mut sent = 0;
    while sent < bytes.len() {
        match (&mut &*socket).write(&bytes[sent..]) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => sent += n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(sent)
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
            fallback: Vec<Pair>,
            challenges: Arc<Challenges>,
            certs: Arc<Certs>,
        ) -> Result<Server, String> {
            let server = Server::new(fallback)?;
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
            let key = challenge::resolve(&self.challenges, &self.certs, name, acme_tls, || self.fallback.pick(name));
            if let Some(names) = name.filter(|_| !acme_tls).and_then(|name| self.certs.names(name)) {
                chose(&names);
            }
            key
        }
    }

    /// A TLS-ALPN-01 validation's connection, its handshake done: it
    /// carries no HTTP (RFC 8737 §3), so `read` ends it there, with
    /// close_notify.
    pub fn validation(tls: &UnbufferedServerConnection) -> bool {
        !tls.is_handshaking() && tls.alpn_protocol() == Some(ACME_TLS)
    }
}

#[cfg(all(test, feature = "tls"))]
mod tests {
    use super::*;
    #[cfg(feature = "acme")]
    use crate::acme::challenge::{Certs, Challenges};
    use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
    use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
    use rustls::{ClientConfig, ClientConnection, DigitallySignedStruct, SignatureScheme};
    use std::cell::{Cell, RefCell};

    #[cfg(feature = "acme")]
    fn pair(name: &str) -> Arc<CertifiedKey> {
        named_pair(name).key
    }

    /// A self-signed ECDSA pair for `name`, made by openssl, as mote reads it.
    fn named_pair(name: &str) -> Pair {
        static MADE: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let made = MADE.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("mote-tls-{}-{made}-{name}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let run = |args: &[&str]| {
            let out = std::process::Command::new("openssl").args(args).current_dir(&dir).output().expect("openssl");
            assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        };
        run(&["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", "k.pem"]);
        let san = format!("subjectAltName=DNS:{name}");
        run(&[
            "req", "-x509", "-new", "-key", "k.pem", "-subj", "/CN=x", "-addext", &san, "-days", "2", "-out", "c.pem",
        ]);
        let pair = crate::ops::certs::Material::open(&dir.join("c.pem"), &dir.join("k.pem")).unwrap().load(None);
        let _ = std::fs::remove_dir_all(&dir);
        pair.unwrap().pair
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

    /// Both directions of a connection in memory, as the server's socket,
    /// which takes at most `room` bytes not yet read by the client.
    struct Wire {
        to_server: RefCell<Vec<u8>>,
        to_client: RefCell<Vec<u8>>,
        room: Cell<usize>,
    }

    impl Read for &Wire {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let mut bytes = self.to_server.borrow_mut();
            if bytes.is_empty() {
                return Err(io::ErrorKind::WouldBlock.into());
            }
            let n = buf.len().min(bytes.len());
            buf[..n].copy_from_slice(&bytes[..n]);
            bytes.drain(..n);
            Ok(n)
        }
    }

    impl Write for &Wire {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            let mut bytes = self.to_client.borrow_mut();
            let n = buf.len().min(self.room.get().saturating_sub(bytes.len()));
            if n == 0 {
                return Err(io::ErrorKind::WouldBlock.into());
            }
            bytes.extend_from_slice(&buf[..n]);
            Ok(n)
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    /// A rustls client and a server's session joined by a `Wire`.
    struct Pipe {
        client: ClientConnection,
        session: Box<Session>,
        wire: Wire,
        buffers: Buffers,
    }

    impl Pipe {
        /// A connection to `server` for `name` offering `alpn`.
        fn new(server: &Server, name: &str, alpn: &[&[u8]]) -> Pipe {
            let mut config = ClientConfig::builder_with_provider(Arc::new(provider()))
                .with_safe_default_protocol_versions()
                .unwrap()
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(AnyCert))
                .with_no_client_auth();
            config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
            let name = ServerName::try_from(name.to_string()).unwrap();
            Pipe {
                client: ClientConnection::new(Arc::new(config), name).unwrap(),
                session: server.session().unwrap(),
                wire: Wire {
                    to_server: RefCell::default(),
                    to_client: RefCell::default(),
                    room: Cell::new(usize::MAX),
                },
                buffers: Buffers::default(),
            }
        }

        /// Runs the handshake; whether the server then ended the connection
        /// with close_notify. Err when the handshake failed.
        fn handshake(&mut self) -> Result<bool, String> {
            let mut plain = vec![0; 32 * 1024];
            for _ in 0..10 {
                self.client.write_tls(&mut *self.wire.to_server.borrow_mut()).unwrap();
                let failed = match read(&mut self.session, &self.wire, &mut plain, &mut self.buffers) {
                    Err(e) if e.kind() != io::ErrorKind::WouldBlock => Err(e.to_string()),
                    _ => Ok(()),
                };
                let ended = self.deliver().map_err(|e| e.to_string())?;
                failed?;
                if !self.client.is_handshaking() && !self.session.is_handshaking() {
                    return Ok(ended);
                }
            }
            Err("no end to the handshake".into())
        }

        /// Hands the client what the server sent; whether it ended the
        /// connection with close_notify.
        fn deliver(&mut self) -> Result<bool, rustls::Error> {
            let sent = self.wire.to_client.take();
            let mut ended = false;
            let mut rest = &sent[..];
            while !rest.is_empty() {
                self.client.read_tls(&mut rest).unwrap();
                ended |= self.client.process_new_packets()?.peer_has_closed();
            }
            Ok(ended)
        }

        /// The client's records carrying `plain`, one record per slice.
        fn records(&mut self, plain: &[&[u8]]) -> Vec<u8> {
            for bytes in plain {
                self.client.writer().write_all(bytes).unwrap();
            }
            let mut wire = Vec::new();
            while self.client.wants_write() {
                self.client.write_tls(&mut wire).unwrap();
            }
            wire
        }

        /// What the client has decrypted.
        fn received(&mut self) -> Vec<u8> {
            let mut plain = Vec::new();
            let _ = self.client.reader().read_to_end(&mut plain);
            plain
        }
    }

    /// A handshake in memory for `name` offering `alpn`: the certificate and
    /// protocol the client got, and whether the server then ended the
    /// connection with close_notify, as a validation's; Err when the
    /// handshake failed.
    fn handshake(server: &Server, name: &str, alpn: &[&[u8]]) -> Result<(Vec<u8>, Vec<u8>, bool), String> {
        let mut pipe = Pipe::new(server, name, alpn);
        let ended = pipe.handshake()?;
        #[cfg(feature = "acme")]
        assert_eq!(ended, acme::validation(&pipe.session.tls));
        let cert = pipe.client.peer_certificates().unwrap()[0].to_vec();
        let protocol = pipe.client.alpn_protocol().unwrap_or_default().to_vec();
        Ok((cert, protocol, ended))
    }

    fn localhost() -> Pipe {
        let server = Server::new(vec![named_pair("localhost")]).unwrap();
        let mut pipe = Pipe::new(&server, "localhost", &[b"http/1.1"]);
        assert_eq!(pipe.handshake(), Ok(false));
        pipe
    }

    #[test]
    fn sni_picks_the_pair_that_covers_it() {
        let (a, b) = (named_pair("a.example"), named_pair("*.b.example"));
        assert_eq!(&b.names[..], ["*.b.example"], "the SAN's names are read");
        let (a_cert, b_cert) = (a.key.cert[0].to_vec(), b.key.cert[0].to_vec());
        let server = Server::new(vec![a, b]).unwrap();
        let rows = [("a.example", &a_cert), ("www.b.example", &b_cert), ("c.example", &a_cert)];
        for (name, want) in rows {
            assert_eq!(&handshake(&server, name, &[b"http/1.1"]).unwrap().0, want, "{name}");
        }
    }

    #[test]
    fn which_names_a_certificate_covers() {
        let names: Vec<String> = ["a.example", "*.b.example"].map(String::from).into();
        let rows: &[(&str, &str, bool)] = &[
            ("a name on it", "a.example", true),
            ("RFC 6125 §6.4.1: without case", "A.Example", true),
            ("not a subdomain of a plain name", "www.a.example", false),
            ("§6.4.3: a wildcard covers one label", "www.b.example", true),
            ("not the parent itself", "b.example", false),
            ("nor two labels", "x.www.b.example", false),
            ("nor an empty label", ".b.example", false),
            ("another name", "c.example", false),
        ];
        for &(row, host, want) in rows {
            assert_eq!(covers(&names, host.as_bytes()), want, "{row}");
        }
    }

    /// Records that arrive a byte at a time are decrypted once whole, and
    /// the connection keeps only the bytes of the one still arriving.
    #[test]
    fn a_record_arriving_in_pieces_is_kept_until_whole() {
        let mut pipe = localhost();
        let requests: [&[u8]; 2] = [b"GET / HTTP/1.1\r\nHost: a\r\n\r\n", b"GET /b HTTP/1.1\r\nHost: a\r\n\r\n"];
        let wire = pipe.records(&requests);
        let (mut plain, mut got) = (vec![0; 32 * 1024], Vec::new());
        for (at, byte) in wire.iter().enumerate() {
            pipe.wire.to_server.borrow_mut().push(*byte);
            match read(&mut pipe.session, &pipe.wire, &mut plain, &mut pipe.buffers) {
                Ok((n, emptied)) => {
                    assert!(n > 0 && emptied, "at byte {at}: {n}, {emptied}");
                    got.extend_from_slice(&plain[..n]);
                }
                Err(e) => assert_eq!(e.kind(), io::ErrorKind::WouldBlock, "at byte {at}"),
            }
            assert!(pipe.session.received.len() < wire.len(), "at byte {at}");
        }
        assert_eq!(got, requests.concat());
        assert_eq!((pipe.session.received.capacity(), pipe.session.unsent.capacity()), (0, 0));
    }

    /// Whole records whose plaintext may not fit the room left in the read
    /// buffer wait for the next read, and none is lost.
    #[test]
    fn records_beyond_the_room_wait_for_the_next_read() {
        let mut pipe = localhost();
        // The first fills most of the read buffer; the socket's next read
        // completes three records, and the last does not surely fit.
        let sent: Vec<Vec<u8>> = [15_000, 6_000, 6_000, 6_000].iter().zip(b'a'..).map(|(&n, c)| vec![c; n]).collect();
        let wire = pipe.records(&sent.iter().map(Vec::as_slice).collect::<Vec<_>>());
        *pipe.wire.to_server.borrow_mut() = wire;
        let (mut plain, mut filled, mut got) = (vec![0; 32 * 1024], 0, Vec::new());
        let mut held_back = false;
        for _ in 0..10 {
            match read(&mut pipe.session, &pipe.wire, &mut plain[filled..], &mut pipe.buffers) {
                Ok((n, _)) => filled += n,
                Err(e) => {
                    assert_eq!(e.kind(), io::ErrorKind::WouldBlock);
                    break;
                }
            }
            held_back |= pipe.session.received.len() > 6_000;
            // As the connection does: what is answered leaves the buffer,
            // and at least a record's room stays.
            if filled > plain.len() - RECORD {
                got.extend_from_slice(&plain[..filled]);
                filled = 0;
            }
        }
        got.extend_from_slice(&plain[..filled]);
        assert!(held_back, "no whole record waited for room");
        assert_eq!(got, sent.concat());
        assert_eq!(pipe.session.received.capacity(), 0);
    }

    /// A socket that takes only part of a reply: the connection keeps the
    /// unsent tail of one record, makes no other until it has gone, and
    /// frees it once sent; the client gets every byte, then close_notify.
    #[test]
    fn a_full_socket_keeps_only_an_unsent_tail() {
        let mut pipe = localhost();
        let body = Arc::new((0..100_000u32).map(|i| i as u8).collect::<Vec<u8>>());
        let mut queue = vec![Reply::of_whole(body.clone())];
        let mut written = 0;
        pipe.wire.room.set(20_000);
        let mut got = Vec::new();
        loop {
            let done = write_queue(&mut pipe.session, &pipe.wire, &mut queue, &mut written, &mut pipe.buffers).unwrap();
            if done {
                break;
            }
            assert!(!pipe.session.unsent.is_empty() && pipe.session.unsent.len() < OUTPUT);
            assert!(pipe.wire.to_client.borrow().len() == 20_000, "the socket was not filled");
            pipe.deliver().unwrap();
            got.extend(pipe.received());
        }
        assert_eq!(pipe.session.unsent.capacity(), 0);
        close_notify(&mut pipe.session, &pipe.wire, &mut pipe.buffers);
        assert!(pipe.deliver().unwrap(), "no close_notify");
        got.extend(pipe.received());
        assert_eq!(got, *body);
    }

    #[cfg(feature = "acme")]
    #[test]
    fn acme_certificates_by_name_and_tls_alpn_01() {
        let challenges = Arc::new(Challenges::new());
        let certs = Arc::new(Certs::new());
        let server = Server::with_acme(Vec::new(), challenges.clone(), certs.clone()).unwrap();
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
        let server =
            Server::with_acme(vec![Pair { names: Arc::new([]), key: fallback.clone() }], challenges, certs).unwrap();
        let (cert, _, _) = handshake(&server, "other.example", http).unwrap();
        assert_eq!(cert, fallback.cert[0].to_vec());
    }
}
