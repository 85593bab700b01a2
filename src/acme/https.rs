//! The ACME client's transport: HTTPS requests to the CA, one at a time,
//! over blocking std sockets on the client's own thread (the serving loop
//! never waits on a CA).
//!
//! rustls' client side with a provider put together for it, so little is
//! linked beyond what the server side has: TLS 1.3 and 1.2 with ECDHE and
//! AEAD suites, X25519, P-256 and P-384 key exchange, and for the CA's
//! chain only the signature algorithms certificates use today: ECDSA with
//! P-256 and P-384, and RSA with PKCS#1 v1.5 or PSS (Let's Encrypt's roots
//! are RSA), named here from webpki directly.
//!
//! One keep-alive connection is kept per origin (a CA's directory, nonces,
//! orders and certificates share one). Every step is bounded: connecting,
//! each read and write, and the whole exchange; a response's head and body
//! have size limits, and bodies are read by Content-Length, chunked or up
//! to the close (RFC 9112 §6.3), so a hostile or broken server cannot hold
//! the client or fill its memory.
#![forbid(unsafe_code)]

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{ClientConfig, ClientConnection, RootCertStore, SignatureScheme, StreamOwned};
use webpki::ring as algs;

use super::{dns, printable};

/// Time to set up a TCP connection to one of the CA's addresses.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Time one read or write may wait.
const IO_TIMEOUT: Duration = Duration::from_secs(10);
/// Time a whole request may take, from connecting to the body's end.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// Longest response head: a CA's heads are well under 4 KiB.
const MAX_HEAD: usize = 16 * 1024;
/// Most header fields in a head.
const MAX_HEADERS: usize = 64;
/// Longest body: certificate chains and ACME objects are a few KiB.
pub const MAX_BODY: usize = 1024 * 1024;
/// Longest chunk-size line, extensions included.
const MAX_CHUNK_LINE: usize = 1024;
/// Where Linux distributions and busybox images keep the CA bundle.
const SYSTEM_BUNDLES: [&str; 3] =
    ["/etc/ssl/certs/ca-certificates.crt", "/etc/pki/tls/certs/ca-bundle.crt", "/etc/ssl/cert.pem"];
/// Largest CA bundle read: Debian's is about 200 KiB.
const MAX_BUNDLE: u64 = 8 * 1024 * 1024;

/// A response from the CA.
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    /// The header fields in order, names as sent.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    /// The first field named `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

/// An HTTPS client for one CA.
pub struct Client {
    config: Arc<ClientConfig>,
    /// The open connection and the origin (`host:port`) it goes to.
    conn: Option<(String, StreamOwned<ClientConnection, TcpStream>)>,
}

impl Client {
    /// A client trusting `roots` for the servers it talks to.
    pub fn new(roots: RootCertStore) -> Result<Client, String> {
        let config = ClientConfig::builder_with_provider(Arc::new(provider()))
            .with_protocol_versions(crate::net::tls::VERSIONS)
            .map_err(|e| format!("TLS client: {e}"))?
            .with_root_certificates(roots)
            .with_no_client_auth();
        let mut config = config;
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Client { config: Arc::new(config), conn: None })
    }

    /// Sends one request to an `https://` URL and reads its response.
    /// `content_type` and `body` go with POST; a HEAD's response has no body.
    pub fn request(
        &mut self,
        method: &str,
        url: &str,
        content_type: Option<&str>,
        body: &[u8],
    ) -> Result<Response, String> {
        self.request_accepting(method, url, content_type, None, body)
    }

    /// `request`, with an `Accept` header naming the media type wanted.
    pub fn request_accepting(
        &mut self,
        method: &str,
        url: &str,
        content_type: Option<&str>,
        accept: Option<&str>,
        body: &[u8],
    ) -> Result<Response, String> {
        let url = Url::parse(url).ok_or_else(|| format!("{}: not an https URL", printable(url)))?;
        let deadline = Instant::now() + REQUEST_TIMEOUT;
        let request = request_bytes(method, &url, content_type, accept, body);
        let head_only = method == "HEAD";
        // A kept connection the server closed meanwhile fails before any
        // byte of a response: then the request was not seen, and goes again
        // on a new connection.
        if let Some((origin, stream)) = self.conn.take().filter(|(origin, _)| *origin == url.origin) {
            match exchange(stream, &request, head_only, deadline) {
                Ok((response, stream)) => {
                    self.conn = stream.map(|stream| (origin, stream));
                    return Ok(response);
                }
                Err(Failure::Unanswered(_)) => {}
                Err(Failure::Broken(why)) => return Err(format!("{}: {why}", url.origin)),
            }
        }
        let stream = self.connect(&url, deadline).map_err(|why| format!("{}: {why}", url.origin))?;
        match exchange(stream, &request, head_only, deadline) {
            Ok((response, stream)) => {
                self.conn = stream.map(|stream| (url.origin.clone(), stream));
                Ok(response)
            }
            Err(Failure::Unanswered(why) | Failure::Broken(why)) => Err(format!("{}: {why}", url.origin)),
        }
    }

    /// A new TLS connection to the URL's origin, handshake done.
    fn connect(&self, url: &Url, deadline: Instant) -> Result<StreamOwned<ClientConnection, TcpStream>, String> {
        let host = url.host.trim_start_matches('[').trim_end_matches(']');
        let name = ServerName::try_from(host).map_err(|_| "not a host name".to_string())?.to_owned();
        // /etc/hosts and /etc/resolv.conf are read here, inside --chroot
        // too, so the chroot needs them.
        let addrs = dns::lookup(host, url.port, deadline)?;
        let mut last = String::from("no address");
        let mut tcp = None;
        for addr in addrs {
            let wait = remaining(deadline).map_err(|_| "timed out connecting".to_string())?.min(CONNECT_TIMEOUT);
            match crate::sys::connect(addr, wait) {
                Ok(stream) => {
                    tcp = Some(stream);
                    break;
                }
                Err(e) => last = format!("cannot connect to {}: {e}", crate::ops::address::socket(addr)),
            }
        }
        let tcp = tcp.ok_or(last)?;
        let _ = tcp.set_nodelay(true);
        let tls = ClientConnection::new(self.config.clone(), name).map_err(|e| format!("TLS: {e}"))?;
        let mut stream = StreamOwned::new(tls, tcp);
        while stream.conn.is_handshaking() {
            set_timeouts(&stream.sock, deadline).map_err(|e| format!("TLS handshake: {e}"))?;
            stream.conn.complete_io(&mut stream.sock).map_err(|e| format!("TLS handshake: {}", io_text(&e)))?;
        }
        Ok(stream)
    }
}

/// Why an exchange failed: before any byte of the response came (the
/// request may be sent again on a new connection), or after.
enum Failure {
    Unanswered(String),
    Broken(String),
}

/// Writes `request` and reads the response; returns the stream when it
/// may carry the next request.
fn exchange(
    mut stream: StreamOwned<ClientConnection, TcpStream>,
    request: &[u8],
    head_only: bool,
    deadline: Instant,
) -> Result<(Response, Option<StreamOwned<ClientConnection, TcpStream>>), Failure> {
    let failed = |e: io::Error| match closed(Some(e.kind())) {
        true => Failure::Unanswered(io_text(&e)),
        false => Failure::Broken(io_text(&e)),
    };
    set_timeouts(&stream.sock, deadline).map_err(failed)?;
    stream.write_all(request).and_then(|()| stream.flush()).map_err(failed)?;
    let mut input = Input::new(Timed { stream: &mut stream, deadline });
    let (response, reusable) = match read_response(&mut input, head_only) {
        Ok(read) => read,
        Err(why) if input.received == 0 && closed(input.error) => return Err(Failure::Unanswered(why)),
        Err(why) => return Err(Failure::Broken(why)),
    };
    // Bytes after the response (none from a sane server) end the
    // connection rather than being taken as the next one's.
    let reusable = reusable && input.end == input.start;
    Ok((response, reusable.then_some(stream)))
}

/// Whether a failure (None: the end of the stream) is a connection the
/// server had closed. A timeout is not: the request may have been seen,
/// and a signed ACME request sent twice orders twice.
fn closed(kind: Option<io::ErrorKind>) -> bool {
    use io::ErrorKind::*;
    kind.is_none_or(|kind| matches!(kind, UnexpectedEof | ConnectionReset | ConnectionAborted | BrokenPipe))
}

/// The socket's read and write timeouts for the next step: the shorter of
/// one step's and what is left of the whole request.
fn set_timeouts(socket: &TcpStream, deadline: Instant) -> io::Result<()> {
    crate::sys::set_timeouts(socket, remaining(deadline)?.min(IO_TIMEOUT))
}

fn remaining(deadline: Instant) -> io::Result<Duration> {
    match deadline.checked_duration_since(Instant::now()) {
        Some(left) if !left.is_zero() => Ok(left),
        _ => Err(io::ErrorKind::TimedOut.into()),
    }
}

fn io_text(e: &io::Error) -> String {
    match e.kind() {
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => "timed out".into(),
        io::ErrorKind::UnexpectedEof => "connection closed before the end of the response".into(),
        _ => e.to_string(),
    }
}

/// A TLS stream whose every read is bounded by the request's deadline.
struct Timed<'a> {
    stream: &'a mut StreamOwned<ClientConnection, TcpStream>,
    deadline: Instant,
}

impl Read for Timed<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        set_timeouts(&self.stream.sock, self.deadline)?;
        self.stream.read(buf)
    }
}

/// The parts of an `https://` URL a request needs.
#[derive(Debug, PartialEq)]
struct Url {
    /// `host:port` as written (an IPv6 literal in brackets), the Host field.
    authority: String,
    /// The host, brackets kept for an IPv6 literal.
    host: String,
    port: u16,
    /// `host:port` with the port always written: what a connection is for.
    origin: String,
    /// The path and query, at least `/`.
    target: String,
}

impl Url {
    fn parse(url: &str) -> Option<Url> {
        let rest = url.strip_prefix("https://")?;
        let (authority, rest) = rest.split_at(rest.find(['/', '?', '#']).unwrap_or(rest.len()));
        let target = match rest.split('#').next().unwrap_or_default() {
            "" => "/".to_string(),
            query if query.starts_with('?') => format!("/{query}"),
            path => path.to_string(),
        };
        // Userinfo, spaces and control characters have no place in a CA's URL.
        if authority.is_empty() || authority.contains('@') || !url.bytes().all(|b| b.is_ascii_graphic()) {
            return None;
        }
        let (host, port) = match authority.rfind(':') {
            Some(at) if !authority[at..].contains(']') => (&authority[..at], authority[at + 1..].parse().ok()?),
            _ => (authority, 443),
        };
        let bracketed = host.starts_with('[') && host.ends_with(']') && host.len() > 2;
        let name = |b: u8| b.is_ascii_alphanumeric() || b == b'-' || b == b'.';
        if host.is_empty() || !(bracketed || host.bytes().all(name)) {
            return None;
        }
        Some(Url {
            authority: authority.to_string(),
            host: host.to_string(),
            port,
            origin: format!("{host}:{port}"),
            target,
        })
    }
}

fn request_bytes(method: &str, url: &Url, content_type: Option<&str>, accept: Option<&str>, body: &[u8]) -> Vec<u8> {
    let mut request = Vec::with_capacity(256 + body.len());
    for part in [method, " ", &url.target, " HTTP/1.1\r\nHost: ", &url.authority] {
        request.extend_from_slice(part.as_bytes());
    }
    // RFC 8555 §6.1: an ACME client sends a User-Agent naming itself.
    request.extend_from_slice(concat!("\r\nUser-Agent: mote/", env!("CARGO_PKG_VERSION"), "\r\n").as_bytes());
    if let Some(content_type) = content_type {
        for part in ["Content-Type: ", content_type, "\r\n"] {
            request.extend_from_slice(part.as_bytes());
        }
    }
    if let Some(accept) = accept {
        for part in ["Accept: ", accept, "\r\n"] {
            request.extend_from_slice(part.as_bytes());
        }
    }
    if !body.is_empty() || method == "POST" {
        request.extend_from_slice(b"Content-Length: ");
        request.extend_from_slice(itoa::Buffer::new().format(body.len()).as_bytes());
        request.extend_from_slice(b"\r\n");
    }
    request.extend_from_slice(b"\r\n");
    request.extend_from_slice(body);
    request
}

/// Buffered input from a reader, with what the response reader needs:
/// lines, exact lengths, and everything up to the end.
struct Input<R> {
    reader: R,
    buf: Vec<u8>,
    start: usize,
    end: usize,
    /// Bytes read so far.
    received: usize,
    /// What the last failed read failed with.
    error: Option<io::ErrorKind>,
}

impl<R: Read> Input<R> {
    fn new(reader: R) -> Input<R> {
        Input { reader, buf: vec![0; 8 * 1024], start: 0, end: 0, received: 0, error: None }
    }

    fn buffered(&self) -> &[u8] {
        &self.buf[self.start..self.end]
    }

    /// Reads more; Ok(false) at the end of the stream.
    fn fill(&mut self) -> Result<bool, String> {
        if self.start > 0 {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        if self.end == self.buf.len() {
            self.buf.resize(self.buf.len() * 2, 0);
        }
        loop {
            match self.reader.read(&mut self.buf[self.end..]) {
                Ok(n) => {
                    self.end += n;
                    self.received += n;
                    return Ok(n > 0);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    self.error = Some(e.kind());
                    return Err(io_text(&e));
                }
            }
        }
    }

    /// Takes the next `n` bytes into `out`.
    fn take(&mut self, mut n: usize, out: &mut Vec<u8>) -> Result<(), String> {
        while n > 0 {
            if self.start == self.end && !self.fill()? {
                return Err("connection closed before the end of the body".into());
            }
            let k = n.min(self.end - self.start);
            out.extend_from_slice(&self.buf[self.start..self.start + k]);
            self.start += k;
            n -= k;
        }
        Ok(())
    }

    /// The next line without its CRLF (a bare LF is taken too), if it
    /// comes within `max` bytes.
    fn line(&mut self, max: usize) -> Result<Line, String> {
        loop {
            if let Some(at) = self.buffered().iter().position(|&b| b == b'\n') {
                let mut line = self.buffered()[..at].to_vec();
                self.start += at + 1;
                if line.last() == Some(&b'\r') {
                    line.pop();
                }
                return Ok(Line::Text(line));
            }
            if self.end - self.start > max {
                return Ok(Line::TooLong);
            }
            if !self.fill()? {
                return Ok(Line::End);
            }
        }
    }

    /// A line of a chunked body.
    fn chunk_line(&mut self, max: usize) -> Result<Vec<u8>, String> {
        match self.line(max)? {
            Line::Text(line) => Ok(line),
            Line::TooLong => Err(format!("a chunk line longer than {max} bytes")),
            Line::End => Err("connection closed inside a chunked body".into()),
        }
    }
}

/// What `Input::line` found.
enum Line {
    Text(Vec<u8>),
    TooLong,
    /// The stream ended first.
    End,
}

/// Reads one response (skipping interim 1xx ones) from `input`; says
/// whether the connection may carry another request.
fn read_response<R: Read>(input: &mut Input<R>, head_only: bool) -> Result<(Response, bool), String> {
    loop {
        let (mut response, framing, keep_alive) = read_head(input)?;
        if (100..200).contains(&response.status) {
            if response.status == 101 {
                return Err("the server switched protocols".into());
            }
            continue;
        }
        // RFC 9112 §6.3: no body after HEAD, 204 or 304, whatever the fields say.
        if head_only || response.status == 204 || response.status == 304 {
            return Ok((response, keep_alive));
        }
        let reusable = match framing {
            Framing::Length(n) => {
                if n > MAX_BODY as u64 {
                    return Err(format!("a body of {n} bytes is more than the {MAX_BODY} allowed"));
                }
                input.take(n as usize, &mut response.body)?;
                keep_alive
            }
            Framing::Chunked { also_length } => {
                read_chunked(input, &mut response.body)?;
                // RFC 9112 §6.1: a message with both was meant to smuggle.
                keep_alive && !also_length
            }
            Framing::Close => {
                loop {
                    response.body.extend_from_slice(input.buffered());
                    input.start = input.end;
                    if response.body.len() > MAX_BODY {
                        return Err(format!("a body of more than the {MAX_BODY} bytes allowed"));
                    }
                    if !input.fill()? {
                        break;
                    }
                }
                false
            }
        };
        return Ok((response, reusable));
    }
}

/// How a response's body ends (RFC 9112 §6.3).
enum Framing {
    Length(u64),
    Chunked { also_length: bool },
    Close,
}

/// RFC 9112 §2.1: the status line, then header fields to a blank line.
fn read_head<R: Read>(input: &mut Input<R>) -> Result<(Response, Framing, bool), String> {
    let too_long = || format!("a response head longer than {MAX_HEAD} bytes");
    // The status line, then one line per field.
    let mut lines: Vec<Vec<u8>> = Vec::new();
    let mut size = 0;
    loop {
        let line = match input.line(MAX_HEAD - size)? {
            Line::Text(line) => line,
            Line::TooLong => return Err(too_long()),
            Line::End if input.received == 0 => return Err("connection closed without a response".into()),
            Line::End => return Err("connection closed inside the response head".into()),
        };
        size += line.len() + 2;
        if size > MAX_HEAD {
            return Err(too_long());
        }
        match (lines.len(), line.first()) {
            // RFC 9112 §2.2: empty lines before the status line are skipped.
            (0, None) => {}
            (_, None) => break,
            // RFC 9112 §5.2: obsolete line folding, replaced by a space.
            (2.., Some(b' ' | b'\t')) => {
                if let Some(last) = lines.last_mut() {
                    last.push(b' ');
                    last.extend_from_slice(line.trim_ascii());
                }
            }
            (count, _) if count > MAX_HEADERS => return Err(format!("more than {MAX_HEADERS} header fields")),
            _ => lines.push(line),
        }
    }
    let (minor, status) = status_line(&lines[0]).ok_or("not an HTTP response")?;
    let fields = lines[1..].iter().map(|line| {
        field(line).ok_or_else(|| format!("a bad header field '{}'", printable(&String::from_utf8_lossy(line))))
    });
    head_meaning(status, minor, fields.collect::<Result<_, _>>()?)
}

/// RFC 9112 §4: `HTTP/1.0` or `HTTP/1.1`, a space, the 3-digit status,
/// then a space and the reason (the space taken as optional when the
/// reason is empty, as other clients do): the minor version and the
/// status.
fn status_line(line: &[u8]) -> Option<(u8, u16)> {
    let (&minor, rest) = line.strip_prefix(b"HTTP/1.")?.split_first()?;
    let code = rest.strip_prefix(b" ")?;
    let (code, reason) = code.split_at_checked(3)?;
    if !matches!(minor, b'0' | b'1')
        || !code.iter().all(u8::is_ascii_digit)
        || !matches!(reason.first(), None | Some(b' '))
    {
        return None;
    }
    Some((minor - b'0', code.iter().fold(0, |n, &d| n * 10 + u16::from(d - b'0'))))
}

/// RFC 9112 §5: `name: value`, the name a token (so no whitespace before
/// the colon), the value without the whitespace around it and with no
/// control character.
fn field(line: &[u8]) -> Option<(String, String)> {
    let colon = line.iter().position(|&b| b == b':')?;
    let name = std::str::from_utf8(&line[..colon]).ok().filter(|name| mote_site::mime::is_token(name))?;
    let value = line[colon + 1..].trim_ascii();
    if value.iter().any(|&b| (b < b' ' && b != b'\t') || b == 0x7f) {
        return None;
    }
    Some((name.to_string(), String::from_utf8_lossy(value).into_owned()))
}

/// A head's status and fields: its body framing and whether the
/// connection stays open after it.
fn head_meaning(status: u16, minor: u8, headers: Vec<(String, String)>) -> Result<(Response, Framing, bool), String> {
    let mut length: Option<u64> = None;
    let mut chunked = false;
    let mut close = minor != 1;
    for (name, value) in &headers {
        if name.eq_ignore_ascii_case("content-length") {
            let n = value
                .parse::<u64>()
                .ok()
                .filter(|_| value.bytes().all(|b| b.is_ascii_digit()))
                .ok_or_else(|| format!("a bad Content-Length '{}'", printable(value)))?;
            if length.is_some_and(|seen| seen != n) {
                return Err("two different Content-Length values".into());
            }
            length = Some(n);
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            // RFC 9112 §6.3: chunked must be the last coding; nothing else is
            // asked for, so nothing else is accepted.
            if !value.eq_ignore_ascii_case("chunked") || chunked {
                return Err(format!("a Transfer-Encoding mote does not read: '{}'", printable(value)));
            }
            chunked = true;
        } else if name.eq_ignore_ascii_case("connection") {
            close |= value.split(',').any(|token| token.trim().eq_ignore_ascii_case("close"));
        }
    }
    let framing = match (chunked, length) {
        (true, length) => Framing::Chunked { also_length: length.is_some() },
        (false, Some(n)) => Framing::Length(n),
        (false, None) => Framing::Close,
    };
    Ok((Response { status, headers, body: Vec::new() }, framing, !close))
}

/// RFC 9112 §7.1: chunks, each a hex size line and its data, to a zero
/// size, then trailer fields (read and dropped) and a blank line.
fn read_chunked<R: Read>(input: &mut Input<R>, body: &mut Vec<u8>) -> Result<(), String> {
    loop {
        let line = input.chunk_line(MAX_CHUNK_LINE)?;
        let digits = line.split(|&b| b == b';').next().unwrap_or_default();
        let digits = digits.strip_suffix(b" ").unwrap_or(digits);
        if digits.is_empty() || digits.len() > 8 || !digits.iter().all(u8::is_ascii_hexdigit) {
            return Err("a bad chunk size".into());
        }
        let size = digits.iter().fold(0usize, |n, &b| n * 16 + (b as char).to_digit(16).unwrap_or(0) as usize);
        if size == 0 {
            break;
        }
        // Subtracted, not added: 8 hex digits overflow a 32-bit usize.
        if size > MAX_BODY - body.len() {
            return Err(format!("a body of more than the {MAX_BODY} bytes allowed"));
        }
        input.take(size, body)?;
        if !input.chunk_line(2)?.is_empty() {
            return Err("a chunk longer than its size".into());
        }
    }
    let mut trailers = 0;
    while !input.chunk_line(MAX_CHUNK_LINE)?.is_empty() {
        trailers += 1;
        if trailers > MAX_HEADERS {
            return Err(format!("more than {MAX_HEADERS} trailer fields"));
        }
    }
    Ok(())
}

/// The roots trusted for the CA's server: `path` (`--acme-ca-file`), or
/// the first system bundle found. Read before any chroot.
pub fn load_roots(path: Option<&Path>) -> Result<RootCertStore, String> {
    let (path, flag) = match path {
        Some(path) => (path, "--acme-ca-file"),
        None => {
            let found = SYSTEM_BUNDLES.iter().map(Path::new).find(|path| path.is_file());
            let found = found.ok_or_else(|| {
                format!(
                    "no CA bundle to trust the ACME server with (looked for {}): give one with --acme-ca-file",
                    SYSTEM_BUNDLES.join(", ")
                )
            })?;
            (found, "CA bundle")
        }
    };
    let named = |why: &str| format!("{flag} {}: {why}", path.display());
    let file = std::fs::File::open(path).map_err(|e| named(&e.to_string()))?;
    let mut pem = Vec::new();
    file.take(MAX_BUNDLE + 1).read_to_end(&mut pem).map_err(|e| named(&e.to_string()))?;
    if pem.len() as u64 > MAX_BUNDLE {
        return Err(named("larger than a CA bundle"));
    }
    let mut roots = RootCertStore::empty();
    let certs = CertificateDer::pem_slice_iter(&pem).filter_map(Result::ok);
    let (added, _) = roots.add_parsable_certificates(certs);
    if added == 0 {
        return Err(named("no certificates in it (PEM, BEGIN CERTIFICATE)"));
    }
    Ok(roots)
}

/// The client's provider: the server's suites (its order for this CPU) and
/// key exchanges, and the signatures a CA's chain may carry; with TLS 1.2,
/// its suites for a CA's RSA certificate too.
fn provider() -> CryptoProvider {
    let server = crate::net::tls::provider();
    #[cfg(feature = "tls12")]
    let server = CryptoProvider {
        cipher_suites: [
            &server.cipher_suites[..],
            &[
                rustls::crypto::ring::cipher_suite::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
                rustls::crypto::ring::cipher_suite::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
                rustls::crypto::ring::cipher_suite::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
            ],
        ]
        .concat(),
        ..server
    };
    CryptoProvider { signature_verification_algorithms: VERIFY, ..server }
}

/// The signatures a CA's chain and handshake may carry.
static VERIFY: WebPkiSupportedAlgorithms = WebPkiSupportedAlgorithms {
    all: &[
        algs::ECDSA_P256_SHA256,
        algs::ECDSA_P256_SHA384,
        algs::ECDSA_P384_SHA256,
        algs::ECDSA_P384_SHA384,
        algs::RSA_PKCS1_2048_8192_SHA256,
        algs::RSA_PKCS1_2048_8192_SHA384,
        algs::RSA_PKCS1_2048_8192_SHA512,
        algs::RSA_PSS_2048_8192_SHA256_LEGACY_KEY,
        algs::RSA_PSS_2048_8192_SHA384_LEGACY_KEY,
        algs::RSA_PSS_2048_8192_SHA512_LEGACY_KEY,
    ],
    // TLS 1.2 does not fix the curve by the scheme; TLS 1.3 does.
    mapping: &[
        (SignatureScheme::ECDSA_NISTP384_SHA384, &[algs::ECDSA_P384_SHA384, algs::ECDSA_P256_SHA384]),
        (SignatureScheme::ECDSA_NISTP256_SHA256, &[algs::ECDSA_P256_SHA256, algs::ECDSA_P384_SHA256]),
        (SignatureScheme::RSA_PSS_SHA512, &[algs::RSA_PSS_2048_8192_SHA512_LEGACY_KEY]),
        (SignatureScheme::RSA_PSS_SHA384, &[algs::RSA_PSS_2048_8192_SHA384_LEGACY_KEY]),
        (SignatureScheme::RSA_PSS_SHA256, &[algs::RSA_PSS_2048_8192_SHA256_LEGACY_KEY]),
        (SignatureScheme::RSA_PKCS1_SHA512, &[algs::RSA_PKCS1_2048_8192_SHA512]),
        (SignatureScheme::RSA_PKCS1_SHA384, &[algs::RSA_PKCS1_2048_8192_SHA384]),
        (SignatureScheme::RSA_PKCS1_SHA256, &[algs::RSA_PKCS1_2048_8192_SHA256]),
    ],
};

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{BufRead, BufReader};
    use std::process::{Child, Command, Stdio};

    /// A reader that hands out at most `step` bytes per read, so every
    /// split of the input is met somewhere.
    struct Trickle<'a> {
        data: &'a [u8],
        step: usize,
    }

    impl Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let n = self.step.min(buf.len()).min(self.data.len());
            buf[..n].copy_from_slice(&self.data[..n]);
            self.data = &self.data[n..];
            Ok(n)
        }
    }

    fn read_all(data: &[u8], head_only: bool, step: usize) -> Result<(u16, Vec<u8>, bool, usize), String> {
        let mut input = Input::new(Trickle { data, step });
        let (response, reusable) = read_response(&mut input, head_only)?;
        let left = input.end - input.start + input.reader.data.len();
        Ok((response.status, response.body, reusable, left))
    }

    #[test]
    fn reads_responses_by_their_framing() {
        // (name, input, HEAD?, status, body, reusable, bytes left after)
        type Row = (&'static str, &'static [u8], bool, u16, &'static [u8], bool, usize);
        let rows: &[Row] = &[
            ("Content-Length", b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", false, 200, b"hello", true, 0),
            ("empty body", b"HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n", false, 201, b"", true, 0),
            (
                "RFC 9112 §7.1 chunked, with an extension and a trailer",
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;x=y\r\nhello\r\n6\r\n world\r\n0\r\nX-T: 1\r\n\r\n",
                false,
                200,
                b"hello world",
                true,
                0,
            ),
            ("chunk size in capitals", b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nA\r\n0123456789\r\n0\r\n\r\n", false, 200, b"0123456789", true, 0),
            ("close-delimited", b"HTTP/1.1 200 OK\r\n\r\nuntil the end", false, 200, b"until the end", false, 0),
            ("HTTP/1.0 closes", b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok", false, 200, b"ok", false, 0),
            ("Connection: close", b"HTTP/1.1 200 OK\r\nConnection: keep-alive, close\r\nContent-Length: 2\r\n\r\nok", false, 200, b"ok", false, 0),
            ("RFC 9112 §6.3: HEAD has no body", b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nReplay-Nonce: n\r\n\r\n", true, 200, b"", true, 0),
            ("204 has no body", b"HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n", false, 204, b"", true, 0),
            ("interim 100 skipped", b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx", false, 200, b"x", true, 0),
            ("same Content-Length twice", b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\nx", false, 200, b"x", true, 0),
            (
                "RFC 9112 §6.1: chunked and a length: not reused",
                b"HTTP/1.1 200 OK\r\nContent-Length: 99\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nx\r\n0\r\n\r\n",
                false,
                200,
                b"x",
                false,
                0,
            ),
            ("what follows stays unread", b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nxHTTP/1.1", false, 200, b"x", true, 8),
            ("no reason phrase, nor its space", b"HTTP/1.1 200\r\nContent-Length: 1\r\n\r\nx", false, 200, b"x", true, 0),
            ("RFC 9112 §2.2: blank lines first", b"\r\n\nHTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx", false, 200, b"x", true, 0),
            (
                "a blank line after an interim response",
                b"HTTP/1.1 100 Continue\r\n\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx",
                false,
                200,
                b"x",
                true,
                0,
            ),
            ("RFC 9112 §5.2: a folded field", b"HTTP/1.1 200 OK\r\nX: a\r\n b\r\nContent-Length: 1\r\n\r\nx", false, 200, b"x", true, 0),
            ("RFC 9112 §2.2: bare LF ends lines", b"HTTP/1.1 200 OK\nContent-Length: 1\n\nx", false, 200, b"x", true, 0),
            ("no space after the colon", b"HTTP/1.1 200 OK\r\nContent-Length:1\r\n\r\nx", false, 200, b"x", true, 0),
        ];
        for &(name, input, head_only, status, body, reusable, left) in rows {
            for step in [1, 3, 7, 4096] {
                let got = read_all(input, head_only, step).unwrap_or_else(|e| panic!("{name} (step {step}): {e}"));
                assert_eq!(got, (status, body.to_vec(), reusable, left), "{name} (step {step})");
            }
        }
    }

    #[test]
    fn folded_fields_are_joined_by_a_space() {
        let mut input = Input::new(Trickle {
            data: b"HTTP/1.1 204 No Content\r\nX-A: one\r\n \t two \r\n\tthree\r\n\r\n",
            step: 5,
        });
        let (response, _) = read_response(&mut input, false).unwrap();
        assert_eq!(response.header("x-a"), Some("one two three"));
    }

    /// Damaged copies of good responses (bytes changed, dropped, doubled,
    /// the whole cut short), read in small and large pieces: each is
    /// read or refused, never a panic or an overflow (tests build with
    /// overflow checks).
    #[test]
    fn damaged_responses_never_panic() {
        let good: &[&[u8]] = &[
            b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nReplay-Nonce: abc\r\n\r\nhello",
            b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;x=y\r\nhello\r\n0\r\nT: 1\r\n\r\n",
            b"\r\nHTTP/1.0 201 Created\nX: a\n b\nConnection: close\n\nbody",
        ];
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for round in 0..20_000 {
            let mut bytes = good[round % good.len()].to_vec();
            for _ in 0..1 + next() % 4 {
                let at = next() as usize % bytes.len().max(1);
                match next() % 4 {
                    0 if !bytes.is_empty() => bytes[at] = next() as u8,
                    1 if !bytes.is_empty() => drop(bytes.remove(at)),
                    2 => bytes.insert(at.min(bytes.len()), [b'\r', b'\n', b' ', b':', b'0'][next() as usize % 5]),
                    _ => bytes.truncate(at),
                }
            }
            for step in [1, 4096] {
                let _ = read_all(&bytes, round % 7 == 0, step);
            }
        }
    }

    #[test]
    fn refuses_hostile_and_broken_responses() {
        let long_head = [b"HTTP/1.1 200 OK\r\nX: ".as_slice(), &[b'a'; MAX_HEAD + 10]].concat();
        let many_fields = [b"HTTP/1.1 200 OK\r\n".as_slice(), &b"X: y\r\n".repeat(MAX_HEADERS + 1), b"\r\n"].concat();
        let big_length = format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n", MAX_BODY + 1).into_bytes();
        let mut big_chunks = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
        for _ in 0..(MAX_BODY / 0x10000 + 1) {
            big_chunks.extend_from_slice(b"10000\r\n");
            big_chunks.extend(std::iter::repeat_n(b'a', 0x10000));
            big_chunks.extend_from_slice(b"\r\n");
        }
        let mut big_close = b"HTTP/1.1 200 OK\r\n\r\n".to_vec();
        big_close.resize(big_close.len() + MAX_BODY + 1, b'a');
        let long_chunk_line =
            [b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1;".as_slice(), &[b'x'; 2000]].concat();
        let rows: &[(&str, &[u8], &str)] = &[
            ("nothing at all", b"", "without a response"),
            ("cut in the head", b"HTTP/1.1 200 OK\r\nContent-Le", "inside the response head"),
            ("not HTTP", b"SSH-2.0-OpenSSH\r\n\r\n", "not an HTTP response"),
            ("HTTP/2 preface", b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", "not an HTTP response"),
            ("HTTP/2.0 status line", b"HTTP/2.0 200 OK\r\n\r\n", "not an HTTP response"),
            ("status not three digits", b"HTTP/1.1 20 OK\r\n\r\n", "not an HTTP response"),
            ("status run into the reason", b"HTTP/1.1 200OK\r\n\r\n", "not an HTTP response"),
            (
                "RFC 9112 §5.1: space before the colon",
                b"HTTP/1.1 200 OK\r\nContent-Length : 1\r\n\r\nx",
                "bad header field",
            ),
            ("folding with no field before it", b"HTTP/1.1 200 OK\r\n X: a\r\n\r\n", "bad header field"),
            ("only a blank line", b"\r\n", "inside the response head"),
            ("HTTP/1.2", b"HTTP/1.2 200 OK\r\nContent-Length: 0\r\n\r\n", "not an HTTP response"),
            ("a field with no colon", b"HTTP/1.1 200 OK\r\nContent-Length 1\r\n\r\nx", "bad header field"),
            ("a NUL in a value", b"HTTP/1.1 200 OK\r\nX: a\0b\r\n\r\n", "bad header field"),
            ("cut in the body", b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", "before the end of the body"),
            ("negative length", b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", "bad Content-Length"),
            ("signed length", b"HTTP/1.1 200 OK\r\nContent-Length: +1\r\n\r\nx", "bad Content-Length"),
            (
                "length overflows",
                b"HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999999\r\n\r\n",
                "bad Content-Length",
            ),
            ("two lengths", b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nxy", "two different"),
            ("gzip coding", b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", "Transfer-Encoding"),
            (
                "chunked twice",
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n",
                "Transfer-Encoding",
            ),
            ("chunk size not hex", b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", "bad chunk size"),
            ("chunk size empty", b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n\r\n", "bad chunk size"),
            (
                "chunk size overflows",
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffffff\r\n",
                "bad chunk size",
            ),
            (
                // On 32-bit targets an added size would wrap past the limit.
                "chunk size at 8 hex digits",
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nx\r\nFFFFFFFF\r\n",
                "more than the",
            ),
            (
                "chunk longer than its size",
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nxy\r\n0\r\n\r\n",
                "longer than its size",
            ),
            (
                "cut between chunks",
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nx\r\n",
                "inside a chunked body",
            ),
            (
                "no last chunk's blank line",
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n",
                "inside a chunked body",
            ),
            ("switching protocols", b"HTTP/1.1 101 Switching Protocols\r\n\r\n", "switched protocols"),
            ("head too long", &long_head, "a response head longer than 16384 bytes"),
            ("too many fields", &many_fields, "header fields"),
            ("a length over the limit", &big_length, "allowed"),
            ("chunks over the limit", &big_chunks, "allowed"),
            ("close-delimited over the limit", &big_close, "allowed"),
            ("chunk line too long", &long_chunk_line, "a chunk line longer than 1024 bytes"),
        ];
        for &(name, input, want) in rows {
            for step in [1, 4096] {
                match read_all(input, false, step) {
                    Err(e) => assert!(e.contains(want), "{name} (step {step}): {e}"),
                    Ok(got) => panic!("{name} (step {step}) accepted: {:?}", got.0),
                }
            }
        }
    }

    #[test]
    fn urls() {
        // (URL, Some((authority, host, port, target)) when it is one to use)
        type Row = (&'static str, Option<(&'static str, &'static str, u16, &'static str)>);
        let rows: &[Row] = &[
            ("https://ca.example/dir", Some(("ca.example", "ca.example", 443, "/dir"))),
            ("https://ca.example:14000/dir?x=1#f", Some(("ca.example:14000", "ca.example", 14000, "/dir?x=1"))),
            ("https://ca.example", Some(("ca.example", "ca.example", 443, "/"))),
            ("https://ca.example?x", Some(("ca.example", "ca.example", 443, "/?x"))),
            ("https://[::1]:8443/a", Some(("[::1]:8443", "[::1]", 8443, "/a"))),
            ("https://[::1]/a", Some(("[::1]", "[::1]", 443, "/a"))),
            ("http://ca.example/dir", None),
            ("https:///dir", None),
            ("https://user@ca.example/", None),
            ("https://ca.example:99999/", None),
            ("https://ca.example:/", None),
            ("https://ca example/", None),
            ("https://ca.example/a b", None),
            ("https://ca.example/\r\nX: y", None),
            ("https://ca_example/", None),
        ];
        for &(text, want) in rows {
            let got = Url::parse(text);
            let got = got.as_ref().map(|u| (u.authority.as_str(), u.host.as_str(), u.port, u.target.as_str()));
            assert_eq!(got, want, "{text}");
        }
    }

    #[test]
    fn request_head() {
        let url = Url::parse("https://ca.example:14000/new-acct").unwrap();
        let bytes = request_bytes("POST", &url, Some("application/jose+json"), None, b"{}");
        let text = String::from_utf8(bytes).unwrap();
        assert!(text.starts_with("POST /new-acct HTTP/1.1\r\nHost: ca.example:14000\r\nUser-Agent: mote/"), "{text}");
        assert!(text.ends_with("Content-Type: application/jose+json\r\nContent-Length: 2\r\n\r\n{}"), "{text}");
        let text = String::from_utf8(request_bytes("HEAD", &url, None, None, b"")).unwrap();
        assert!(!text.contains("Content-Length") && text.ends_with("\r\n\r\n"), "{text}");
        // RFC 8555 §7.4.2: the certificate is asked for as a PEM chain.
        let pem = Some("application/pem-certificate-chain");
        let text = String::from_utf8(request_bytes("POST", &url, Some("application/jose+json"), pem, b"{}")).unwrap();
        assert!(text.contains("\r\nAccept: application/pem-certificate-chain\r\n"), "{text}");
    }

    #[test]
    fn roots_from_a_file_or_a_clear_error() {
        let dir = std::env::temp_dir().join(format!("mote-roots-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let empty = dir.join("empty.pem");
        std::fs::write(&empty, "not a certificate\n").unwrap();
        let err = load_roots(Some(&empty)).err().unwrap();
        assert!(err.starts_with("--acme-ca-file ") && err.contains("no certificates"), "{err}");
        let err = load_roots(Some(&dir.join("absent.pem"))).err().unwrap();
        assert!(err.starts_with("--acme-ca-file ") && err.contains("absent.pem"), "{err}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// A test CA, a certificate it signs for localhost and 127.0.0.1, and a
    /// python HTTPS server on loopback with that certificate: the client
    /// trusts only the test CA.
    struct TestServer {
        child: Child,
        port: u16,
        dir: std::path::PathBuf,
    }

    impl Drop for TestServer {
        fn drop(&mut self) {
            let _ = self.child.kill();
            let _ = self.child.wait();
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }

    fn tool(name: &str) {
        let found = Command::new(name).arg("--version").stdout(Stdio::null()).stderr(Stdio::null()).status();
        assert!(found.is_ok(), "{name} is needed for this test (make test installs it)");
    }

    fn run(dir: &Path, args: &[&str]) {
        let out = Command::new("openssl").args(args).current_dir(dir).output().unwrap();
        assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    }

    const SERVER: &str = r#"
import http.server, ssl, sys
connections = 0
class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def setup(self):
        global connections
        connections += 1
        self.connection_number = connections
        super().setup()
    def log_message(self, *args):
        pass
    def reply(self, body):
        self.send_response(200)
        self.send_header("Replay-Nonce", "n%d" % self.connection_number)
        if self.path == "/chunked":
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for i in range(0, len(body), 7):
                part = body[i:i + 7]
                self.wfile.write(b"%x\r\n%s\r\n" % (len(part), part))
            self.wfile.write(b"0\r\n\r\n")
        elif self.path == "/close":
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(body)
            self.wfile.flush()
            self.close_connection = True
            # The end of a close-delimited body is TLS's close_notify.
            try:
                self.connection.unwrap()
            except OSError:
                pass
        else:
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)
            # As an idle timeout would: closed after the response, unsaid.
            self.close_connection = self.path == "/idle"
    def do_GET(self):
        self.reply(b"connection %d path %s" % (self.connection_number, self.path.encode()))
    def do_HEAD(self):
        self.reply(b"")
    def do_POST(self):
        length = int(self.headers["Content-Length"])
        body = self.rfile.read(length)
        self.reply(self.headers["Content-Type"].encode() + b" " + body)
context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
context.load_cert_chain(sys.argv[1], sys.argv[2])
server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
server.socket = context.wrap_socket(server.socket, server_side=True)
print(server.server_address[1], flush=True)
server.serve_forever()
"#;

    fn test_server() -> TestServer {
        tool("openssl");
        tool("python3");
        static SERVERS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = SERVERS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("mote-https-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        run(&dir, &["ecparam", "-genkey", "-name", "prime256v1", "-noout", "-out", "ca.key"]);
        run(
            &dir,
            &["req", "-x509", "-new", "-key", "ca.key", "-subj", "/CN=mote test CA", "-days", "2", "-out", "ca.pem"],
        );
        run(&dir, &["ecparam", "-genkey", "-name", "prime256v1", "-noout", "-out", "leaf.key"]);
        run(&dir, &["req", "-new", "-key", "leaf.key", "-subj", "/CN=localhost", "-out", "leaf.csr"]);
        std::fs::write(dir.join("ext"), "subjectAltName=DNS:localhost,IP:127.0.0.1\n").unwrap();
        run(
            &dir,
            &[
                "x509",
                "-req",
                "-in",
                "leaf.csr",
                "-CA",
                "ca.pem",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-days",
                "2",
                "-extfile",
                "ext",
                "-out",
                "leaf.pem",
            ],
        );
        let mut child = Command::new("python3")
            .args(["-c", SERVER, "leaf.pem", "leaf.key"])
            .current_dir(&dir)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        let port = line.trim().parse().unwrap_or_else(|_| panic!("no port from the test server: {line:?}"));
        TestServer { child, port, dir }
    }

    #[test]
    fn talks_to_a_real_https_server() {
        let server = test_server();
        let roots = load_roots(Some(&server.dir.join("ca.pem"))).unwrap();
        let mut client = Client::new(roots).unwrap();
        let base = format!("https://localhost:{}", server.port);
        let response = client.request("GET", &format!("{base}/dir"), None, b"").unwrap();
        assert_eq!(response.status, 200);
        assert_eq!(response.body, b"connection 1 path /dir");
        assert_eq!(response.header("replay-nonce"), Some("n1"));
        // Kept alive: the same connection answers the next requests.
        let response = client.request("HEAD", &format!("{base}/nonce"), None, b"").unwrap();
        assert_eq!((response.status, response.header("Replay-Nonce"), response.body.len()), (200, Some("n1"), 0));
        let response = client.request("POST", &format!("{base}/acct"), Some("application/jose+json"), b"{}").unwrap();
        assert_eq!(response.body, b"application/jose+json {}");
        let response = client.request("GET", &format!("{base}/chunked"), None, b"").unwrap();
        assert_eq!(response.body, b"connection 1 path /chunked");
        // A close-delimited body, then a new connection.
        let response = client.request("GET", &format!("{base}/close"), None, b"").unwrap();
        assert_eq!(response.body, b"connection 1 path /close");
        let response = client.request("GET", &format!("{base}/after"), None, b"").unwrap();
        assert_eq!(response.body, b"connection 2 path /after");
        // A kept connection the server has closed since: the request goes
        // again on a new one.
        let response = client.request("GET", &format!("{base}/idle"), None, b"").unwrap();
        assert_eq!(response.body, b"connection 2 path /idle");
        let response = client.request("GET", &format!("{base}/again"), None, b"").unwrap();
        assert_eq!(response.body, b"connection 3 path /again");
        // By address: the certificate names 127.0.0.1 too.
        let response = client.request("GET", &format!("https://127.0.0.1:{}/ip", server.port), None, b"").unwrap();
        assert_eq!(response.body, b"connection 4 path /ip");
    }

    #[test]
    fn refuses_a_server_it_does_not_trust() {
        let server = test_server();
        // The system bundle does not hold the test CA.
        let other = test_server();
        let roots = load_roots(Some(&other.dir.join("ca.pem"))).unwrap();
        let mut client = Client::new(roots).unwrap();
        let err = client.request("GET", &format!("https://localhost:{}/", server.port), None, b"").unwrap_err();
        assert!(err.contains("certificate"), "{err}");
        // Not a name the certificate holds.
        let roots = load_roots(Some(&server.dir.join("ca.pem"))).unwrap();
        let mut client = Client::new(roots).unwrap();
        let err = client.request("GET", &format!("https://127.0.0.2:{}/", server.port), None, b"");
        assert!(err.is_err());
    }
}
