//! Responses as a test sees them: read exactly one at a time from a socket
//! or a recorded byte stream, parsed strictly, with assertions that show the
//! head on failure.
//!
//! A response is read byte by byte up to the end of its head and then exactly
//! `Content-Length` bytes, so nothing that belongs to a following (pipelined or
//! smuggled) response is ever swallowed: counting responses is counting truth.

use std::io::{self, Read};

/// The one `Allow` value the spec allows.
pub const ALLOW: &str = "GET, HEAD, OPTIONS";

#[derive(Debug, Clone)]
pub struct Response {
    /// e.g. `HTTP/1.1`
    pub version: String,
    pub status: u16,
    pub reason: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// The head as received, for failure messages.
    pub raw_head: String,
}

impl Response {
    /// First value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// All values of header `name`.
    pub fn header_all(&self, name: &str) -> Vec<&str> {
        self.headers.iter().filter(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str()).collect()
    }

    /// The header's value; panics with the whole head if absent.
    pub fn must(&self, name: &str) -> &str {
        self.header(name).unwrap_or_else(|| panic!("response lacks `{name}`:\n{}", self.raw_head))
    }

    /// Does `Connection` carry the token `token` (case-insensitive)?
    pub fn connection_has(&self, token: &str) -> bool {
        self.header_all("connection").iter().flat_map(|v| v.split(',')).any(|t| t.trim().eq_ignore_ascii_case(token))
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// Asserts the status, showing the head on failure.
    #[track_caller]
    pub fn assert_status(&self, status: u16) -> &Self {
        assert_eq!(self.status, status, "unexpected status; head:\n{}", self.raw_head);
        self
    }

    /// Asserts header `name` equals `value` exactly.
    #[track_caller]
    pub fn assert_header(&self, name: &str, value: &str) -> &Self {
        assert_eq!(self.header(name), Some(value), "header `{name}`; head:\n{}", self.raw_head);
        self
    }

    #[track_caller]
    pub fn assert_no_header(&self, name: &str) -> &Self {
        assert!(self.header(name).is_none(), "header `{name}` must be absent; head:\n{}", self.raw_head);
        self
    }
}

/// Reads exactly one response from `stream` (body-less if `head_request`);
/// panics with what arrived if the stream ends or times out first.
pub fn read_response(stream: &mut impl Read, head_request: bool) -> Response {
    match try_read_response(stream, head_request) {
        Ok(Some(r)) => r,
        Ok(None) => panic!("connection closed before a response arrived"),
        Err(e) => panic!("{e}"),
    }
}

/// Reads one response. `Ok(None)` on a clean EOF before its first byte.
pub fn try_read_response(stream: &mut impl Read, head_request: bool) -> Result<Option<Response>, String> {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        match stream.read(&mut byte) {
            Ok(0) if head.is_empty() => return Ok(None),
            Ok(0) => return Err(format!("EOF inside a response head:\n{}", String::from_utf8_lossy(&head))),
            Ok(_) => head.push(byte[0]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) if head.is_empty() && e.kind() == io::ErrorKind::ConnectionReset => return Ok(None),
            Err(e) => {
                return Err(format!("reading response head: {e}; got so far:\n{}", String::from_utf8_lossy(&head)))
            }
        }
        if head.len() > 64 * 1024 {
            return Err("response head over 64 KiB".into());
        }
    }
    let raw_head = String::from_utf8(head.clone()).map_err(|_| format!("response head is not UTF-8: {head:?}"))?;
    let body_start = raw_head.len() - 4;
    let mut lines = raw_head[..body_start].split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let mut parts = status_line.splitn(3, ' ');
    let version = parts.next().unwrap_or_default().to_string();
    let status: u16 = parts
        .next()
        .and_then(|s| (s.len() == 3).then_some(s))
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("bad status line {status_line:?} in:\n{raw_head}"))?;
    let reason = parts.next().unwrap_or_default().to_string();
    if !version.starts_with("HTTP/1.") {
        return Err(format!("bad version in status line {status_line:?}"));
    }
    let mut headers = Vec::new();
    for line in lines {
        let (name, value) = line.split_once(':').ok_or_else(|| format!("bad header line {line:?} in:\n{raw_head}"))?;
        if name.is_empty() || name.contains(|c: char| c.is_whitespace()) || line.contains('\n') {
            return Err(format!("bad header line {line:?} in:\n{raw_head}"));
        }
        headers.push((name.to_string(), value.trim_matches([' ', '\t']).to_string()));
    }
    let mut resp = Response { version, status, reason, headers, body: Vec::new(), raw_head };
    let bodyless = head_request || resp.status == 204 || resp.status == 304 || resp.status < 200;
    if !bodyless {
        let lens = resp.header_all("content-length");
        if lens.len() != 1 {
            return Err(format!("expected exactly one Content-Length (mote always sends one):\n{}", resp.raw_head));
        }
        let len: usize = lens[0].parse().map_err(|_| format!("bad Content-Length in:\n{}", resp.raw_head))?;
        let mut body = vec![0u8; len];
        let mut got = 0;
        while got < len {
            match stream.read(&mut body[got..]) {
                Ok(0) => return Err(format!("EOF after {got} of {len} body bytes; head:\n{}", resp.raw_head)),
                Ok(n) => got += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(format!("reading body ({got} of {len}): {e}; head:\n{}", resp.raw_head)),
            }
        }
        resp.body = body;
    }
    Ok(Some(resp))
}

/// Parses every response in `bytes` (none may answer a HEAD). Panics on
/// trailing garbage.
pub fn parse_all(bytes: &[u8]) -> Vec<Response> {
    let mut cursor = bytes;
    let mut out = Vec::new();
    loop {
        match try_read_response(&mut cursor, false) {
            Ok(Some(r)) => out.push(r),
            Ok(None) => return out,
            Err(e) => panic!(
                "after {} complete response(s): {e}\nfull stream:\n{}",
                out.len(),
                String::from_utf8_lossy(bytes)
            ),
        }
    }
}

/// Statuses of `responses`, for compact assertions.
pub fn statuses(responses: &[Response]) -> Vec<u16> {
    responses.iter().map(|r| r.status).collect()
}

/// Asserts an ETag is strong and `"<16 hex digits>"`.
#[track_caller]
pub fn assert_etag_format(etag: &str) {
    let b = etag.as_bytes();
    assert!(
        b.len() == 18 && b[0] == b'"' && b[17] == b'"' && b[1..17].iter().all(|c| c.is_ascii_hexdigit()),
        "ETag {etag:?} is not a strong \"<16 hex>\""
    );
}

/// Asserts two byte strings are equal without dumping megabytes on failure.
#[track_caller]
pub fn assert_bytes_eq(got: &[u8], want: &[u8], what: &str) {
    if got != want {
        let first = got.iter().zip(want).position(|(a, b)| a != b);
        panic!("{what}: got {} bytes, want {}; first difference at {:?}", got.len(), want.len(), first);
    }
}

/// All response heads, for failure messages.
pub fn heads(responses: &[Response]) -> String {
    responses.iter().map(|r| r.raw_head.as_str()).collect::<Vec<_>>().join("---\n")
}
