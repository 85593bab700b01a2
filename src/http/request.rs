//! One request head -> what it means (RFC 9112 §2–§6, RFC 9110 §7).
//!
//! httparse only tokenizes; every decision about framing, versions, Host and
//! limits is made here, strictly, because a static server has no reason to
//! guess: anything that could frame a body two ways is refused and the
//! connection closed, so no second request can be smuggled behind it.
//! Like httparse, this borrows from the connection's buffer and copies nothing.
#![forbid(unsafe_code)]

/// Longest request line accepted (RFC 9112 §3: at least 8000 octets SHOULD be).
pub const MAX_REQUEST_LINE: usize = 8192;
/// Largest request head, request line included; cookies need room.
pub const MAX_HEAD: usize = 16384;
/// Most header fields in one request.
pub const MAX_HEADERS: usize = 64;
/// Largest request body read and thrown away to keep a connection alive.
pub const MAX_DISCARDED_BODY: u64 = 1 << 20;

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Method {
    Get,
    Head,
    Options,
    Other,
}

/// Why a head is refused; every one of them closes the connection.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Rejection {
    BadRequest,
    ContentTooLarge,
    UriTooLong,
    HeadTooLarge,
    /// Transfer-Encoding: no static resource accepts a body worth decoding.
    NotImplemented,
    VersionNotSupported,
}

/// The validator and range fields, raw (RFC 9110 §13.1, §14.2).
#[derive(Debug, Default, Clone, Copy)]
pub struct Conditions<'b> {
    pub if_match: Option<&'b [u8]>,
    pub if_none_match: Option<&'b [u8]>,
    pub if_modified_since: Option<&'b [u8]>,
    pub if_unmodified_since: Option<&'b [u8]>,
    pub range: Option<&'b [u8]>,
    pub if_range: Option<&'b [u8]>,
}

/// The fields a browser sends across origins (Fetch §3.2.2, §3.2.5), raw.
/// A repeated one is ambiguous and left empty, which matches nothing.
#[derive(Debug, Default, Clone, Copy)]
pub struct CrossOrigin<'b> {
    pub origin: Option<&'b [u8]>,
    /// `Access-Control-Request-Method`: sent on a preflight only.
    pub request_method: Option<&'b [u8]>,
    /// `Access-Control-Request-Headers`.
    pub request_headers: Option<&'b [u8]>,
}

#[derive(Debug)]
pub struct Request<'b> {
    pub method: Method,
    /// The method as sent, for the access log.
    pub method_token: &'b [u8],
    pub target: &'b [u8],
    /// The Host field's value, valid `uri-host [ ":" port ]` (RFC 9110 §7.2);
    /// None only for HTTP/1.0 without one. Read by `--https-redirect`.
    #[cfg_attr(not(feature = "tls"), allow(dead_code))]
    pub host: Option<&'b [u8]>,
    pub http10: bool,
    /// Whether the connection may carry another request (RFC 9112 §9.3).
    pub keep_alive: bool,
    /// Body bytes that follow the head and must be skipped.
    pub body_len: u64,
    /// `Expect: 100-continue` with a body: the client may never send it.
    pub expects_continue: bool,
    pub conditions: Conditions<'b>,
    pub accept_encoding: Option<&'b [u8]>,
    pub authorization: Option<&'b [u8]>,
    /// For the access log.
    pub referer: Option<&'b [u8]>,
    pub user_agent: Option<&'b [u8]>,
}

#[derive(Debug)]
#[allow(clippy::large_enum_variant)] // lives on the stack for one request, never stored
pub enum Parse<'b> {
    /// Not a whole head yet, and within limits.
    Partial,
    /// A request and the length of its head.
    Complete(Request<'b>, usize),
    Rejected(Rejection),
}

/// RFC 9112 §2.2: empty lines before the request line are ignored.
pub fn trim_blank_lines(buf: &[u8]) -> &[u8] {
    let start = buf.iter().position(|&b| b != b'\r' && b != b'\n').unwrap_or(buf.len());
    &buf[start..]
}

pub fn parse(buf: &[u8]) -> Parse<'_> {
    let line = trim_blank_lines(buf);
    let line_len = match line.iter().position(|&b| b == b'\n') {
        Some(lf) if lf > 0 && line[lf - 1] == b'\r' => lf - 1,
        Some(lf) => lf,
        // No line end yet: a trailing CR may still be the start of CRLF.
        None => line.len() - usize::from(line.last() == Some(&b'\r')),
    };
    if line_len > MAX_REQUEST_LINE {
        return Parse::Rejected(Rejection::UriTooLong);
    }
    // Uninitialised slots: httparse fills only what it finds, and zeroing
    // all MAX_HEADERS slots is work on every request that a short head never
    // needs.
    let mut headers = [const { std::mem::MaybeUninit::uninit() }; MAX_HEADERS];
    let mut parsed = httparse::Request::new(&mut []);
    match parsed.parse_with_uninit_headers(buf, &mut headers) {
        Ok(httparse::Status::Partial) if buf.len() >= MAX_HEAD => Parse::Rejected(Rejection::HeadTooLarge),
        Ok(httparse::Status::Partial) => Parse::Partial,
        Ok(httparse::Status::Complete(len)) if len > MAX_HEAD => Parse::Rejected(Rejection::HeadTooLarge),
        Ok(httparse::Status::Complete(len)) => match interpret(&parsed) {
            Ok(request) => Parse::Complete(request, len),
            Err(rejection) => Parse::Rejected(rejection),
        },
        Err(httparse::Error::TooManyHeaders) => Parse::Rejected(Rejection::HeadTooLarge),
        // `HTTP/2` may be the start of `HTTP/2.0`: judge the version only
        // once its line is whole, so a read's split never changes the answer.
        Err(httparse::Error::Version) if !line.contains(&b'\n') => Parse::Partial,
        Err(httparse::Error::Version) => Parse::Rejected(version_rejection(line)),
        Err(_) => Parse::Rejected(Rejection::BadRequest),
    }
}

/// A well-formed version that is not 1.0 or 1.1 is 505 (RFC 9110 §15.6.6);
/// anything else where the version should be is a 400.
fn version_rejection(buf: &[u8]) -> Rejection {
    let line = buf.split(|&b| b == b'\n').next().unwrap_or(buf);
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let mut parts = line.split(|&b| b == b' ');
    let (Some(_method), Some(_target), Some(version), None) = (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Rejection::BadRequest; // a space inside the target is not a version problem
    };
    match version {
        [b'H', b'T', b'T', b'P', b'/', major, b'.', minor] if major.is_ascii_digit() && minor.is_ascii_digit() => {
            Rejection::VersionNotSupported
        }
        _ => Rejection::BadRequest,
    }
}

fn interpret<'b>(parsed: &httparse::Request<'_, 'b>) -> Result<Request<'b>, Rejection> {
    let http10 = parsed.version == Some(0);
    let method = match parsed.method.unwrap_or("") {
        "GET" => Method::Get,
        "HEAD" => Method::Head,
        "OPTIONS" => Method::Options,
        _ => Method::Other,
    };
    let (mut hosts, mut host) = (0, None);
    let mut content_length: Option<u64> = None;
    let mut transfer_encoding = false;
    let (mut close, mut keep_alive) = (false, false);
    let mut expects_continue = false;
    let mut conditions = Conditions::default();
    let (mut referer, mut user_agent) = (None, None);
    let (mut accept_encoding, mut authorization) = (None, None);
    for header in parsed.headers.iter() {
        let value = trim(header.value);
        let Some(field) = Field::of(header.name.as_bytes()) else { continue };
        match field {
            Field::Host => {
                hosts += 1;
                if !is_valid_host(value) {
                    return Err(Rejection::BadRequest);
                }
                host = Some(value);
            }
            Field::ContentLength => {
                let length = parse_content_length(value).ok_or(Rejection::BadRequest)?;
                // RFC 9110 §8.6: identical repeats may be taken as one; different ones may not.
                if content_length.is_some_and(|seen| seen != length) {
                    return Err(Rejection::BadRequest);
                }
                content_length = Some(length);
            }
            Field::TransferEncoding => transfer_encoding = true,
            Field::Connection => {
                for option in value.split(|&b| b == b',').map(trim) {
                    close |= eq_lowercase(option, b"close");
                    keep_alive |= eq_lowercase(option, b"keep-alive");
                }
            }
            Field::Expect => expects_continue = eq_lowercase(value, b"100-continue"),
            Field::IfMatch => conditions.if_match = Some(value),
            Field::IfNoneMatch => conditions.if_none_match = Some(value),
            Field::IfModifiedSince => conditions.if_modified_since = Some(value),
            Field::IfUnmodifiedSince => conditions.if_unmodified_since = Some(value),
            // A repeated Range is ambiguous: ignore both (RFC 9110 §14.2 allows ignoring).
            Field::Range => once(&mut conditions.range, value),
            Field::IfRange => conditions.if_range = Some(value),
            Field::AcceptEncoding => accept_encoding = Some(value),
            Field::Authorization => authorization = Some(value),
            Field::Referer => referer = Some(value),
            Field::UserAgent => user_agent = Some(value),
        }
    }
    if transfer_encoding {
        // RFC 9112 §6.1: TE with CL, or in HTTP/1.0, is a smuggling attempt: 400.
        let faulty = content_length.is_some() || http10;
        return Err(if faulty { Rejection::BadRequest } else { Rejection::NotImplemented });
    }
    // RFC 9112 §3.2: an HTTP/1.1 request has exactly one Host; 1.0 at most one.
    if hosts > 1 || (!http10 && hosts == 0) {
        return Err(Rejection::BadRequest);
    }
    let body_len = content_length.unwrap_or(0);
    if body_len > MAX_DISCARDED_BODY {
        return Err(Rejection::ContentTooLarge);
    }
    Ok(Request {
        method,
        method_token: parsed.method.unwrap_or("").as_bytes(),
        target: parsed.path.unwrap_or("").as_bytes(),
        host,
        http10,
        keep_alive: !close && (!http10 || keep_alive),
        body_len,
        expects_continue: expects_continue && body_len > 0,
        conditions,
        accept_encoding,
        authorization,
        referer,
        user_agent,
    })
}

/// A field seen once is its value; a second one leaves it empty.
fn once<'b>(slot: &mut Option<&'b [u8]>, value: &'b [u8]) {
    *slot = if slot.is_some() { Some(b"") } else { Some(value) };
}

/// The cross-origin fields of `head`, one `parse` accepted. Only `--cors`
/// asks, so they are read by a scan of their own when it does, and the
/// field loop above, which every request runs, has no more names to tell
/// apart and `Request` no more bytes to move.
pub fn cross_origin(head: &[u8]) -> CrossOrigin<'_> {
    let mut fields = CrossOrigin::default();
    // The request line first; httparse has checked every line after it.
    for line in trim_blank_lines(head).split(|&b| b == b'\n').skip(1) {
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            continue; // the empty line that ends the head
        };
        let name = &line[..colon];
        let slot = match name.len() {
            6 if eq_lowercase(name, b"origin") => &mut fields.origin,
            29 if eq_lowercase(name, b"access-control-request-method") => &mut fields.request_method,
            30 if eq_lowercase(name, b"access-control-request-headers") => &mut fields.request_headers,
            _ => continue,
        };
        let value = &line[colon + 1..];
        once(slot, trim(value.strip_suffix(b"\r").unwrap_or(value)));
    }
    fields
}

/// The request header fields mote acts on.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Field {
    Host,
    ContentLength,
    TransferEncoding,
    Connection,
    Expect,
    IfMatch,
    IfNoneMatch,
    IfModifiedSince,
    IfUnmodifiedSince,
    Range,
    IfRange,
    AcceptEncoding,
    Authorization,
    Referer,
    UserAgent,
}

impl Field {
    /// Recognises a field name, case-insensitively. The length and first letter
    /// pick the one candidate, so each header costs one comparison, not one per
    /// field, and a browser's head carries several headers mote never acts on.
    fn of(name: &[u8]) -> Option<Field> {
        let first = name.first()?.to_ascii_lowercase();
        let (known, field): (&[u8], Field) = match (name.len(), first) {
            (4, b'h') => (b"host", Field::Host),
            (5, b'r') => (b"range", Field::Range),
            (6, b'e') => (b"expect", Field::Expect),
            (7, b'r') => (b"referer", Field::Referer),
            (8, b'i') if name[3].eq_ignore_ascii_case(&b'm') => (b"if-match", Field::IfMatch),
            (8, b'i') => (b"if-range", Field::IfRange),
            (10, b'c') => (b"connection", Field::Connection),
            (10, b'u') => (b"user-agent", Field::UserAgent),
            (13, b'a') => (b"authorization", Field::Authorization),
            (13, b'i') => (b"if-none-match", Field::IfNoneMatch),
            (14, b'c') => (b"content-length", Field::ContentLength),
            (15, b'a') => (b"accept-encoding", Field::AcceptEncoding),
            (17, b'i') => (b"if-modified-since", Field::IfModifiedSince),
            (17, b't') => (b"transfer-encoding", Field::TransferEncoding),
            (19, b'i') => (b"if-unmodified-since", Field::IfUnmodifiedSince),
            _ => return None,
        };
        eq_lowercase(name, known).then_some(field)
    }
}

/// `bytes` equals `lower` (written in lowercase) ignoring ASCII case. std's
/// `eq_ignore_ascii_case` calls a function per byte at opt-level "z", where this
/// loop stays inline, and it runs on every header of every request.
pub fn eq_lowercase(bytes: &[u8], lower: &[u8]) -> bool {
    bytes.len() == lower.len() && bytes.iter().zip(lower).all(|(&b, &l)| b.to_ascii_lowercase() == l)
}

/// RFC 9110 §8.6: `1*DIGIT`, or a list of identical values.
fn parse_content_length(value: &[u8]) -> Option<u64> {
    let mut length = None;
    for item in value.split(|&b| b == b',').map(trim) {
        if item.is_empty() || !item.iter().all(u8::is_ascii_digit) {
            return None;
        }
        let n = item.iter().try_fold(0u64, |n, d| n.checked_mul(10)?.checked_add(u64::from(d - b'0')))?;
        if length.is_some_and(|seen| seen != n) {
            return None;
        }
        length = Some(n);
    }
    length
}

/// RFC 9110 §7.2 / RFC 3986 §3.2.2: `uri-host [ ":" port ]`, possibly empty.
pub fn is_valid_host(value: &[u8]) -> bool {
    let port = if value.first() == Some(&b'[') {
        let Some(close) = value.iter().position(|&b| b == b']') else {
            return false;
        };
        let literal = &value[1..close];
        if literal.is_empty() || !literal.iter().all(|&b| b.is_ascii_hexdigit() || b == b':' || b == b'.') {
            return false;
        }
        &value[close + 1..]
    } else {
        let colon = value.iter().position(|&b| b == b':').unwrap_or(value.len());
        let host = &value[..colon];
        const REG_NAME: [bool; 256] = super::target::byte_class(b"!$&'()*+,;=%");
        let reg_name = |b: &u8| REG_NAME[usize::from(*b)];
        if !host.iter().all(reg_name) {
            return false;
        }
        &value[colon..]
    };
    match port.split_first() {
        None => true,
        Some((b':', digits)) => digits.len() <= 5 && digits.iter().all(u8::is_ascii_digit),
        Some(_) => false,
    }
}

pub fn trim(value: &[u8]) -> &[u8] {
    let start = value.iter().position(|&b| b != b' ' && b != b'\t').unwrap_or(value.len());
    let end = value.iter().rposition(|&b| b != b' ' && b != b'\t').map_or(start, |i| i + 1);
    &value[start..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The outcome of parsing, flattened for tables.
    #[derive(Debug, PartialEq)]
    enum Outcome {
        Partial,
        Ok { method: Method, keep_alive: bool, body: u64 },
        Rejected(Rejection),
    }
    use Outcome::*;
    use Rejection::*;

    #[test]
    fn field_names_are_recognised_in_any_case_and_only_whole() {
        let known = [
            ("Host", Field::Host),
            ("content-length", Field::ContentLength),
            ("TRANSFER-ENCODING", Field::TransferEncoding),
            ("Connection", Field::Connection),
            ("Expect", Field::Expect),
            ("If-Match", Field::IfMatch),
            ("if-none-match", Field::IfNoneMatch),
            ("If-Modified-Since", Field::IfModifiedSince),
            ("if-unmodified-since", Field::IfUnmodifiedSince),
            ("Range", Field::Range),
            ("IF-RANGE", Field::IfRange),
            ("Accept-Encoding", Field::AcceptEncoding),
            ("authorization", Field::Authorization),
            ("Referer", Field::Referer),
            ("User-Agent", Field::UserAgent),
        ];
        for (name, field) in known {
            assert_eq!(Field::of(name.as_bytes()), Some(field), "{name}");
        }
        // Same length and first letter as a known name, or a prefix/extension of one.
        for name in [
            "Hose",
            "rangE2",
            "ranges",
            "if-march",
            "if-rango",
            "connexion",
            "user-agenT ",
            "content-lengtx",
            "accept-language",
            "if-modified-sincx",
            "transfer-encodinG:",
            "",
            "x",
            "Host\0",
            "Referrer",
        ] {
            assert_eq!(Field::of(name.as_bytes()), None, "{name:?}");
        }
    }

    fn outcome(raw: &[u8]) -> Outcome {
        match parse(raw) {
            Parse::Partial => Partial,
            Parse::Complete(r, _) => Ok { method: r.method, keep_alive: r.keep_alive, body: r.body_len },
            Parse::Rejected(why) => Rejected(why),
        }
    }

    const GET: Outcome = Ok { method: Method::Get, keep_alive: true, body: 0 };

    #[test]
    fn interprets_heads() {
        let rows: &[(&str, &[u8], Outcome)] = &[
            ("simple", b"GET / HTTP/1.1\r\nHost: a\r\n\r\n", GET),
            ("bare LF allowed (RFC 9112 §2.2)", b"GET / HTTP/1.1\nHost: a\n\n", GET),
            ("leading CRLF ignored (RFC 9112 §2.2)", b"\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", GET),
            ("partial head", b"GET / HTTP/1.1\r\nHost: a\r\n", Partial),
            ("empty", b"", Partial),
            ("HEAD", b"HEAD / HTTP/1.1\r\nHost: a\r\n\r\n", Ok { method: Method::Head, keep_alive: true, body: 0 }),
            (
                "methods are case-sensitive (RFC 9110 §9.1)",
                b"get / HTTP/1.1\r\nHost: a\r\n\r\n",
                Ok { method: Method::Other, keep_alive: true, body: 0 },
            ),
            (
                "1.1 close",
                b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
                Ok { method: Method::Get, keep_alive: false, body: 0 },
            ),
            (
                "1.1 connection list",
                b"GET / HTTP/1.1\r\nHost: a\r\nConnection: foo, Close\r\n\r\n",
                Ok { method: Method::Get, keep_alive: false, body: 0 },
            ),
            (
                "1.0 closes by default (RFC 9112 §9.3)",
                b"GET / HTTP/1.0\r\n\r\n",
                Ok { method: Method::Get, keep_alive: false, body: 0 },
            ),
            ("1.0 keep-alive", b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", GET),
            ("no Host in 1.1 (RFC 9112 §3.2)", b"GET / HTTP/1.1\r\n\r\n", Rejected(BadRequest)),
            ("two Hosts", b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", Rejected(BadRequest)),
            ("two Hosts in 1.0", b"GET / HTTP/1.0\r\nHost: a\r\nHost: a\r\n\r\n", Rejected(BadRequest)),
            ("empty Host", b"GET / HTTP/1.1\r\nHost:\r\n\r\n", GET),
            ("Host with port", b"GET / HTTP/1.1\r\nHost: example.com:8080\r\n\r\n", GET),
            ("Host IPv6", b"GET / HTTP/1.1\r\nHost: [::1]:80\r\n\r\n", GET),
            ("Host with space", b"GET / HTTP/1.1\r\nHost: a b\r\n\r\n", Rejected(BadRequest)),
            ("Host with slash", b"GET / HTTP/1.1\r\nHost: a/b\r\n\r\n", Rejected(BadRequest)),
            ("Host with userinfo", b"GET / HTTP/1.1\r\nHost: u@a\r\n\r\n", Rejected(BadRequest)),
            ("Host bad port", b"GET / HTTP/1.1\r\nHost: a:8x\r\n\r\n", Rejected(BadRequest)),
            (
                "CL body",
                b"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\n",
                Ok { method: Method::Get, keep_alive: true, body: 5 },
            ),
            (
                "CL identical repeat (RFC 9110 §8.6)",
                b"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n",
                Ok { method: Method::Get, keep_alive: true, body: 5 },
            ),
            (
                "CL identical list",
                b"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 5\r\n\r\n",
                Ok { method: Method::Get, keep_alive: true, body: 5 },
            ),
            (
                "CL differing (RFC 9112 §6.3)",
                b"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n",
                Rejected(BadRequest),
            ),
            ("CL differing list", b"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 6\r\n\r\n", Rejected(BadRequest)),
            ("CL signed", b"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: +5\r\n\r\n", Rejected(BadRequest)),
            ("CL negative", b"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n", Rejected(BadRequest)),
            ("CL hex", b"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 0x5\r\n\r\n", Rejected(BadRequest)),
            ("CL empty", b"GET / HTTP/1.1\r\nHost: a\r\nContent-Length:\r\n\r\n", Rejected(BadRequest)),
            (
                "CL leading zeros",
                b"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 00000000000000000005\r\n\r\n",
                Ok { method: Method::Get, keep_alive: true, body: 5 },
            ),
            (
                "CL huge but valid",
                b"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 18446744073709551615\r\n\r\n",
                Rejected(ContentTooLarge),
            ),
            (
                "CL overflow",
                b"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999999999999999\r\n\r\n",
                Rejected(BadRequest),
            ),
            (
                "CL too large to discard",
                b"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 1048577\r\n\r\n",
                Rejected(ContentTooLarge),
            ),
            (
                "TE (RFC 9112 §6.1)",
                b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n",
                Rejected(NotImplemented),
            ),
            (
                "TE with CL",
                b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n",
                Rejected(BadRequest),
            ),
            ("TE in 1.0", b"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", Rejected(BadRequest)),
            ("space before colon (RFC 9112 §5.1)", b"GET / HTTP/1.1\r\nHost : a\r\n\r\n", Rejected(BadRequest)),
            ("obs-fold (RFC 9112 §5.2)", b"GET / HTTP/1.1\r\nHost: a\r\nX: a\r\n b\r\n\r\n", Rejected(BadRequest)),
            ("NUL in value", b"GET / HTTP/1.1\r\nHost: a\r\nX: a\0b\r\n\r\n", Rejected(BadRequest)),
            ("bare CR", b"GET / HTTP/1.1\r\nHost: a\rX: b\r\n\r\n", Rejected(BadRequest)),
            ("bad name", b"GET / HTTP/1.1\r\nHost: a\r\nX(y): b\r\n\r\n", Rejected(BadRequest)),
            ("HTTP/2.0 (RFC 9110 §15.6.6)", b"GET / HTTP/2.0\r\nHost: a\r\n\r\n", Rejected(VersionNotSupported)),
            ("HTTP/1.2", b"GET / HTTP/1.2\r\nHost: a\r\n\r\n", Rejected(VersionNotSupported)),
            ("h2 preface", b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", Rejected(VersionNotSupported)),
            ("lowercase version", b"GET / http/1.1\r\nHost: a\r\n\r\n", Rejected(BadRequest)),
            ("HTTP/0.9", b"GET /\r\n\r\n", Rejected(BadRequest)),
            ("two spaces", b"GET  / HTTP/1.1\r\nHost: a\r\n\r\n", Rejected(BadRequest)),
            ("trailing space", b"GET / HTTP/1.1 \r\nHost: a\r\n\r\n", Rejected(BadRequest)),
            ("version split by a read", b"GET / HTTP/2", Partial),
            ("h2 preface split by a read", b"PRI * HTTP/2", Partial),
            ("space in target", b"GET /a b HTTP/1.1\r\nHost: a\r\n\r\n", Rejected(BadRequest)),
            ("extra word", b"GET /a x HTTP/2.0\r\nHost: a\r\n\r\n", Rejected(BadRequest)),
        ];
        for (why, raw, want) in rows {
            assert_eq!(&outcome(raw), want, "{why}");
        }
    }

    #[test]
    fn reads_the_cross_origin_fields() {
        let fields = |raw: &[u8]| {
            let Parse::Complete(_, len) = parse(raw) else { panic!("not complete") };
            let c = cross_origin(&raw[..len]);
            [c.origin, c.request_method, c.request_headers].map(|f| f.map(|v| String::from_utf8_lossy(v).into_owned()))
        };
        let some = |v: &str| Some(v.to_string());
        type Row<'a> = (&'a str, &'a [u8], [Option<String>; 3]);
        let rows: &[Row] = &[
            (
                "a preflight (Fetch §3.2.2)",
                b"OPTIONS / HTTP/1.1\r\nHost: a\r\nOrigin: https://b.example\r\n\
                  access-control-request-method:GET \r\nACCESS-CONTROL-REQUEST-HEADERS: range, if-range\r\n\r\n",
                [some("https://b.example"), some("GET"), some("range, if-range")],
            ),
            ("none", b"GET / HTTP/1.1\r\nHost: a\r\nOriginal: x\r\n\r\n", [None, None, None]),
            ("bare LF", b"\r\nGET / HTTP/1.1\nHost: a\nOrigin: http://b\n\n", [some("http://b"), None, None]),
            (
                "repeated: matches nothing",
                b"GET / HTTP/1.1\r\nHost: a\r\nOrigin: https://b.example\r\nOrigin: https://c.example\r\n\r\n",
                [some(""), None, None],
            ),
            ("empty value", b"GET / HTTP/1.1\r\nHost: a\r\nOrigin:\r\n\r\n", [some(""), None, None]),
        ];
        for (why, raw, want) in rows {
            assert_eq!(&fields(raw), want, "{why}");
        }
    }

    #[test]
    fn enforces_limits() {
        let longest = format!("GET /{} HTTP/1.1\r\nHost: a\r\n\r\n", "a".repeat(MAX_REQUEST_LINE - 14));
        assert_eq!(outcome(longest.as_bytes()), GET, "a line of exactly MAX_REQUEST_LINE");
        let long_line = format!("GET /{} HTTP/1.1\r\nHost: a\r\n\r\n", "a".repeat(MAX_REQUEST_LINE));
        assert_eq!(outcome(long_line.as_bytes()), Rejected(UriTooLong));
        let unfinished_line = "a".repeat(MAX_REQUEST_LINE + 1);
        assert_eq!(outcome(format!("GET /{unfinished_line}").as_bytes()), Rejected(UriTooLong));
        let big_head = format!("GET / HTTP/1.1\r\nHost: a\r\nCookie: {}\r\n\r\n", "c".repeat(MAX_HEAD));
        assert_eq!(outcome(big_head.as_bytes()), Rejected(HeadTooLarge));
        let unfinished_head = format!("GET / HTTP/1.1\r\nHost: a\r\nCookie: {}", "c".repeat(MAX_HEAD));
        assert_eq!(outcome(unfinished_head.as_bytes()), Rejected(HeadTooLarge));
        let many: String = (0..=MAX_HEADERS).map(|i| format!("X-{i}: v\r\n")).collect();
        assert_eq!(outcome(format!("GET / HTTP/1.1\r\nHost: a\r\n{many}\r\n").as_bytes()), Rejected(HeadTooLarge));
        let cookie = format!("GET / HTTP/1.1\r\nHost: a\r\nCookie: {}\r\n\r\n", "c".repeat(8000));
        assert_eq!(outcome(cookie.as_bytes()), GET);
    }
}
