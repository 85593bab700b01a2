//! The request-target (RFC 9112 §3.2) -> the path to look up.
//!
//! The catalog is keyed by decoded, normalised paths, so this file is the one
//! gate between what a client writes and what it can reach: characters are
//! checked before decoding, escapes are decoded once (never twice), the result
//! must be UTF-8 without control bytes, and dot-segments are removed after
//! decoding so `%2e%2e` is `..` and can never climb above `/`.
#![forbid(unsafe_code)]

/// The forms of request-target a static server accepts.
#[derive(Debug, PartialEq)]
pub enum Target<'a> {
    /// origin-form, or absolute-form reduced to its path (RFC 9112 §3.2.2).
    Path { path: &'a [u8], query: Option<&'a [u8]> },
    /// asterisk-form, only meaningful for OPTIONS.
    Asterisk,
}

/// What normalisation learned besides the path itself.
#[derive(Debug, PartialEq)]
pub struct Normalized {
    /// Some segment starts with a dot (`/.git/config`), other than
    /// `/.well-known` at the root: never served (the site walk's own rule).
    pub hidden: bool,
}

/// Splits a raw request-target into its form; `None` is a 400.
pub fn split(raw: &[u8]) -> Option<Target<'_>> {
    if raw == b"*" {
        return Some(Target::Asterisk);
    }
    let origin = if raw.first() == Some(&b'/') { raw } else { absolute(raw)?.1 };
    let (path, query) = match origin.iter().position(|&b| b == b'?') {
        Some(q) => (&origin[..q], Some(&origin[q + 1..])),
        None => (origin, None),
    };
    if !path.iter().all(|&b| is_path_byte(b)) || !query.unwrap_or(b"").iter().all(|&b| is_query_byte(b)) {
        return None;
    }
    Some(Target::Path { path: if path.is_empty() { b"/" } else { path }, query })
}

/// An absolute-form target's authority and what follows it.
fn absolute(raw: &[u8]) -> Option<(&[u8], &[u8])> {
    let scheme_len = if starts_with_ignore_case(raw, b"http://") {
        7
    } else if starts_with_ignore_case(raw, b"https://") {
        8
    } else {
        return None;
    };
    let rest = &raw[scheme_len..];
    let authority_len = rest.iter().position(|&b| b == b'/' || b == b'?').unwrap_or(rest.len());
    let authority = &rest[..authority_len];
    // The same host and port a Host field may carry: an absolute-form
    // target's authority overrides it (RFC 9112 §3.2.2).
    if authority_len == 0
        || !authority.iter().all(|&b| is_authority_byte(b))
        || !super::request::is_valid_host(authority)
    {
        return None;
    }
    Some(rest.split_at(authority_len))
}

/// The host a request is for (RFC 9112 §3.2.2: an absolute-form target's,
/// which overrides Host, else Host's), without its port or a
/// trailing dot; None when neither names one. Compared without case.
pub fn effective_host<'a>(target: &'a [u8], host: Option<&'a [u8]>) -> Option<&'a [u8]> {
    let authority = match absolute(target) {
        Some((authority, _)) => authority,
        None => host?,
    };
    let end = match authority.first() {
        // An IP literal keeps its colons.
        Some(b'[') => authority.iter().position(|&b| b == b']').map_or(authority.len(), |at| at + 1),
        _ => authority.iter().position(|&b| b == b':').unwrap_or(authority.len()),
    };
    let name = &authority[..end];
    let name = name.strip_suffix(b".").unwrap_or(name);
    (!name.is_empty()).then_some(name)
}

/// A target no file can be reached by: a bad escape, a control byte, not
/// UTF-8 once decoded.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Malformed;

/// Percent-decodes `path` into `out` and removes empty and dot segments
/// (RFC 3986 §5.2.4), keeping a trailing slash. `Err` is a 400.
pub fn normalize(path: &[u8], out: &mut Vec<u8>) -> Result<Normalized, Malformed> {
    out.clear();
    // `split` only hands over paths that start with `/`; the in-place
    // segment removal below relies on it (found by the `target` fuzzer).
    if path.first() != Some(&b'/') {
        return Err(Malformed);
    }
    // Raw bytes first: controls and DEL are refused, and only bytes at or above
    // 0x80 (raw or decoded) can make the result invalid UTF-8. A path with no
    // escape and no empty or dot segment is already normal, so most requests
    // skip the decoding and the segment walk.
    let mut non_ascii = false;
    let mut normal = true;
    let mut after_slash = false;
    for &byte in path {
        if is_control(byte) {
            return Err(Malformed);
        }
        non_ascii |= byte >= 0x80;
        normal &= byte != b'%' && !(after_slash && (byte == b'/' || byte == b'.'));
        after_slash = byte == b'/';
    }
    if normal && !non_ascii {
        out.extend_from_slice(path);
        return Ok(Normalized { hidden: false });
    }
    // Then the runs between escapes are copied whole, and each escape decoded.
    let mut rest = path;
    while let Some(at) = rest.iter().position(|&b| b == b'%') {
        out.extend_from_slice(&rest[..at]);
        let hi = rest.get(at + 1).and_then(|&b| hex_value(b)).ok_or(Malformed)?;
        let lo = rest.get(at + 2).and_then(|&b| hex_value(b)).ok_or(Malformed)?;
        let byte = hi << 4 | lo;
        if is_control(byte) {
            return Err(Malformed); // %00, %0a...: no file name needs them, and logs and headers must not see them
        }
        non_ascii |= byte >= 0x80;
        out.push(byte);
        rest = &rest[at + 3..];
    }
    out.extend_from_slice(rest);
    if non_ascii && std::str::from_utf8(out).is_err() {
        return Err(Malformed); // includes overlong encodings such as %c0%af
    }
    Ok(remove_dot_segments(out))
}

/// In place: every segment is written at or before where it was read.
fn remove_dot_segments(buf: &mut Vec<u8>) -> Normalized {
    let (mut read, mut write) = (0, 0);
    let mut trailing_slash = false;
    while read < buf.len() {
        while read < buf.len() && buf[read] == b'/' {
            read += 1;
        }
        if read == buf.len() {
            trailing_slash = true;
            break;
        }
        let start = read;
        while read < buf.len() && buf[read] != b'/' {
            read += 1;
        }
        trailing_slash = false;
        match &buf[start..read] {
            b"." => trailing_slash = true,
            b".." => {
                write = buf[..write].iter().rposition(|&b| b == b'/').unwrap_or(0);
                trailing_slash = true;
            }
            _ => {
                buf[write] = b'/';
                buf.copy_within(start..read, write + 1);
                write += 1 + read - start;
            }
        }
    }
    buf.truncate(write);
    if write == 0 || trailing_slash {
        buf.push(b'/');
    }
    Normalized { hidden: mote_site::walk::hidden(buf) }
}

/// Percent-encodes a normalised path for a Location header.
pub fn encode_path(path: &[u8], out: &mut Vec<u8>) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for &b in path {
        if PATH_BYTES[usize::from(b)] && b != b'%' {
            out.push(b);
        } else {
            out.extend_from_slice(&[b'%', HEX[usize::from(b >> 4)], HEX[usize::from(b & 0xf)]]);
        }
    }
}

/// C0 controls and DEL: never in a file name mote serves.
fn is_control(byte: u8) -> bool {
    byte < 0x20 || byte == 0x7f
}

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// A byte-class table, so checking a target costs a load per byte.
pub const fn byte_class(extra: &[u8]) -> [bool; 256] {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 256 {
        table[b] = (b as u8).is_ascii_alphanumeric();
        b += 1;
    }
    let unreserved = b"-._~";
    let mut i = 0;
    while i < unreserved.len() {
        table[unreserved[i] as usize] = true;
        i += 1;
    }
    let mut i = 0;
    while i < extra.len() {
        table[extra[i] as usize] = true;
        i += 1;
    }
    table
}

const PATH_BYTES: [bool; 256] = byte_class(b"!$&'()*+,;=:@/%");
const AUTHORITY_BYTES: [bool; 256] = byte_class(b"!$&'()*+,;=:%[]");

/// RFC 3986 `pchar` and `/`; `%` is checked by the decoder.
fn is_path_byte(b: u8) -> bool {
    PATH_BYTES[usize::from(b)]
}

/// The query is never interpreted, only kept for redirects: any visible
/// ASCII but `#` (a fragment is never sent).
fn is_query_byte(b: u8) -> bool {
    (0x21..0x7f).contains(&b) && b != b'#'
}

/// RFC 3986 authority: reg-name or IP-literal, with port.
fn is_authority_byte(b: u8) -> bool {
    AUTHORITY_BYTES[usize::from(b)]
}

fn starts_with_ignore_case(haystack: &[u8], prefix: &[u8]) -> bool {
    haystack.len() >= prefix.len() && haystack[..prefix.len()].eq_ignore_ascii_case(prefix)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn normalized(path: &str) -> Result<(String, bool), Malformed> {
        let mut out = Vec::new();
        normalize(path.as_bytes(), &mut out).map(|n| (String::from_utf8(out).unwrap(), n.hidden))
    }

    #[test]
    #[allow(clippy::type_complexity)] // a table of rows
    fn normalizes_paths() {
        let rows: &[(&str, Result<(&str, bool), Malformed>)] = &[
            ("/", Ok(("/", false))),
            ("/index.html", Ok(("/index.html", false))),
            ("//a///b", Ok(("/a/b", false))),   // empty segments collapse
            ("/a/./b", Ok(("/a/b", false))),    // RFC 3986 §5.2.4 "."
            ("/a/b/../c", Ok(("/a/c", false))), // RFC 3986 §5.2.4 ".."
            ("/a/b/..", Ok(("/a/", false))),
            ("/a/.", Ok(("/a/", false))),
            ("/../../etc/passwd", Ok(("/etc/passwd", false))), // cannot climb above /
            ("/%2e%2e/%2E%2E/etc/passwd", Ok(("/etc/passwd", false))), // decoded before removal
            ("/a/..%2f..%2fb", Ok(("/b", false))),             // %2f is a separator once decoded
            ("/dir/", Ok(("/dir/", false))),
            ("/a%20b.html", Ok(("/a b.html", false))),
            ("/caf%C3%A9", Ok(("/caf\u{e9}", false))),
            ("/.git/config", Ok(("/.git/config", true))), // dotfiles are hidden
            ("/a/.hidden", Ok(("/a/.hidden", true))),
            ("/a/%2ehidden", Ok(("/a/.hidden", true))),
            ("/.well-known/security.txt", Ok(("/.well-known/security.txt", false))), // RFC 8615
            ("/.well-known/.secret", Ok(("/.well-known/.secret", true))),
            ("/.well-known/../.git/config", Ok(("/.git/config", true))), // hidden after removal
            ("/%2ewell-known/..%2f.git", Ok(("/.git", true))),
            ("/%2Ewell-known/acme-challenge/x", Ok(("/.well-known/acme-challenge/x", false))),
            ("/a/.well-known/x", Ok(("/a/.well-known/x", true))), // at the root only
            ("/a/b.c", Ok(("/a/b.c", false))),
            ("/a%zz", Err(Malformed)),                   // bad escape
            ("/a%2", Err(Malformed)),                    // truncated escape
            ("/a%00b", Err(Malformed)),                  // NUL
            ("/a%0d%0ab", Err(Malformed)),               // CR LF
            ("/%c0%af", Err(Malformed)),                 // overlong '/'
            ("/%ff", Err(Malformed)),                    // not UTF-8
            ("/%252e%252e/x", Ok(("/%2e%2e/x", false))), // decoded once only
            ("/a\\..\\b", Ok(("/a\\..\\b", false))),     // backslash is not a separator
            ("*", Err(Malformed)),                       // not a path at all
            ("", Err(Malformed)),
        ];
        for (path, want) in rows {
            let want = want.map(|(p, h)| (p.to_string(), h));
            assert_eq!(normalized(path), want, "{path:?}");
        }
    }

    /// The shortcut for already-normal paths gives what the full walk gives.
    #[test]
    fn normal_paths_skip_the_walk_unchanged() {
        for path in ["/", "/index.html", "/a/b/c.txt", "/dir/", "/a-b_c~d/e.f/", "/a.b/c..d", "/x/y.", "/a\\..\\b"] {
            let mut walked = path.as_bytes().to_vec();
            let hidden = remove_dot_segments(&mut walked).hidden;
            assert_eq!(normalized(path), Ok((String::from_utf8(walked).unwrap(), hidden)), "{path:?}");
            assert_eq!(normalized(path), Ok((path.to_string(), false)), "{path:?}");
        }
    }

    #[test]
    fn splits_target_forms() {
        let path = |p: &'static str, q: Option<&'static str>| {
            Some(Target::Path { path: p.as_bytes(), query: q.map(str::as_bytes) })
        };
        let rows: &[(&str, Option<Target>)] = &[
            ("/", path("/", None)),
            ("/a?x=1&y", path("/a", Some("x=1&y"))),
            ("/a?", path("/a", Some(""))),
            ("*", Some(Target::Asterisk)),
            ("http://example.com/style.css", path("/style.css", None)), // RFC 9112 §3.2.2 absolute-form
            ("HTTP://example.com:8080", path("/", None)),
            ("https://example.com?q", path("/", Some("q"))),
            ("http:///x", None), // empty authority
            ("http://a b/", None),
            ("http://a.test:99999999999/about", None), // a port Host may not carry either
            ("http://[::1", None),
            ("http://[::1]:8080/x", path("/x", None)),
            ("ftp://example.com/", None),
            ("example.com:443", None), // authority-form is for CONNECT
            ("index.html", None),
            ("/a b", None),
            ("/a\"b", None),
            ("/a<b>", None),
            ("/a\\b", None),
            ("/a#frag", None),
            ("/a?b#c", None),
            ("/caf\u{e9}", None), // raw non-ASCII must be percent-encoded
            ("/a[b]", None),
            ("/a?q={x}|[y]", path("/a", Some("q={x}|[y]"))),
        ];
        for (raw, want) in rows {
            assert_eq!(&split(raw.as_bytes()), want, "{raw:?}");
        }
    }

    #[test]
    fn finds_the_effective_host() {
        let rows: &[(&str, &str, Option<&str>, Option<&str>)] = &[
            ("Host alone", "/", Some("a.example"), Some("a.example")),
            ("Host's port dropped", "/", Some("a.example:8080"), Some("a.example")),
            ("a trailing dot dropped", "/", Some("a.example.:80"), Some("a.example")),
            ("case kept, compared without it", "/", Some("A.Example"), Some("A.Example")),
            (
                "RFC 9112 §3.2.2: absolute-form overrides Host",
                "http://b.example/x",
                Some("a.example"),
                Some("b.example"),
            ),
            ("absolute-form with a port", "https://b.example.:443?q", None, Some("b.example")),
            ("RFC 9110 §4.2.4: userinfo is not a target", "http://u@b.example/", Some("a.example"), Some("a.example")),
            ("an IP literal keeps its colons", "/", Some("[::1]:8080"), Some("[::1]")),
            ("HTTP/1.0 without Host", "/", None, None),
            ("an empty Host", "/", Some(""), None),
        ];
        for &(row, target, host, want) in rows {
            let got = effective_host(target.as_bytes(), host.map(str::as_bytes));
            assert_eq!(got, want.map(str::as_bytes), "{row}");
        }
    }

    #[test]
    fn encodes_locations() {
        let mut out = Vec::new();
        encode_path("/a b/caf\u{e9}/x?#%".as_bytes(), &mut out);
        assert_eq!(out, b"/a%20b/caf%C3%A9/x%3F%23%25");
    }
}
