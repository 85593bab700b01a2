//! The client behind a proxy: `--trusted-proxy` and `--proxy-header`.
//!
//! A proxy or tunnel in front of mote makes every connection come from the
//! proxy's address; the client's is in a header the proxy adds. Such a header
//! is believed only on a connection from a trusted peer, and only as far as
//! trusted hops wrote it: read right to left (each proxy appends the address
//! it saw), the first address that is not itself a trusted proxy is the
//! client (what nginx's `real_ip_recursive on` does). An entry that does not
//! parse ends the walk, since whatever is left of it may be the client's own
//! writing. Only one header is read: a proxy that appends to
//! `X-Forwarded-For` passes a forged `Forwarded` through untouched.
//!
//! Nothing here runs unless the connection's peer is trusted, so the request
//! layer's header loop is the same with or without proxies: the header is
//! looked for in the head's bytes, which the memo keys by too, so a recalled
//! head from another peer is read again for that peer.
#![forbid(unsafe_code)]

use std::net::{IpAddr, SocketAddr};

use crate::http::request::{eq_lowercase, trim};

/// `--proxy-header`: which header carries the client's address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProxyHeader {
    /// `X-Forwarded-For: client, proxy1, proxy2`.
    XForwardedFor,
    /// RFC 7239: `Forwarded: for=client;proto=https, for="[2001:db8::1]:4711"`.
    Forwarded,
    /// `X-Real-IP: client`.
    XRealIp,
}

impl ProxyHeader {
    pub fn parse(text: &str) -> Option<ProxyHeader> {
        [ProxyHeader::XForwardedFor, ProxyHeader::Forwarded, ProxyHeader::XRealIp]
            .into_iter()
            .find(|header| eq_lowercase(text.as_bytes(), header.name()))
    }

    fn name(self) -> &'static [u8] {
        match self {
            ProxyHeader::XForwardedFor => b"x-forwarded-for",
            ProxyHeader::Forwarded => b"forwarded",
            ProxyHeader::XRealIp => b"x-real-ip",
        }
    }

    /// The address one list entry names, if it names one.
    fn address(self, entry: &[u8]) -> Option<IpAddr> {
        match self {
            ProxyHeader::XForwardedFor | ProxyHeader::XRealIp => node(entry),
            ProxyHeader::Forwarded => forwarded_for(entry),
        }
    }
}

/// An address block: `--trusted-proxy 10.0.0.0/8`, `2001:db8::/32`, or one
/// address. IPv4 is kept as IPv4-mapped IPv6 (RFC 4291 §2.5.5.2), so an
/// IPv4 peer on a dual-stack socket (`::ffff:10.0.0.1`) matches `10.0.0.0/8`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    network: u128,
    mask: u128,
}

impl Cidr {
    pub fn parse(text: &str) -> Option<Cidr> {
        let text = text.as_bytes();
        let slash = text.iter().position(|&b| b == b'/');
        let ip = address(&text[..slash.unwrap_or(text.len())])?;
        let (bits, offset) = if ip.is_ipv4() { (32, 96) } else { (128, 0) };
        let prefix = match slash {
            // One to three digits; three only from 100 on.
            Some(slash) => {
                let digits = &text[slash + 1..];
                if digits.is_empty() || digits.len() > 3 || (digits.len() == 3 && digits[0] == b'0') {
                    return None;
                }
                let mut prefix = 0;
                for &digit in digits {
                    if !digit.is_ascii_digit() {
                        return None;
                    }
                    prefix = prefix * 10 + u32::from(digit - b'0');
                }
                prefix
            }
            None => bits,
        };
        if prefix > bits {
            return None;
        }
        let mask = u128::MAX.checked_shl(128 - (offset + prefix)).unwrap_or(0);
        Some(Cidr { network: bits_of(ip) & mask, mask })
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        bits_of(ip) & self.mask == self.network
    }
}

fn bits_of(ip: IpAddr) -> u128 {
    match ip {
        IpAddr::V4(v4) => u128::from(v4.to_ipv6_mapped()),
        IpAddr::V6(v6) => u128::from(v6),
    }
}

/// `--trusted-proxy` and `--proxy-header` together.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Proxies {
    pub trusted: Vec<Cidr>,
    pub header: ProxyHeader,
}

impl Default for Proxies {
    fn default() -> Proxies {
        Proxies { trusted: Vec::new(), header: ProxyHeader::XForwardedFor }
    }
}

impl Proxies {
    pub fn trusts(&self, ip: IpAddr) -> bool {
        self.trusted.iter().any(|cidr| cidr.contains(ip))
    }

    /// The client a trusted peer's head names: the rightmost address of the
    /// header that is not a trusted proxy; the leftmost when every one is; None
    /// when the header names no address before one that does not parse.
    /// `head` is a whole head, and nothing after it.
    #[inline(never)]
    pub fn client(&self, head: &[u8]) -> Option<IpAddr> {
        let mut leftmost = None;
        let values = ValuesBack { lines: fields_of_head(head), name: self.header.name() };
        for value in values {
            for entry in value.rsplit(|&b| b == b',') {
                let ip = match self.header.address(trim(entry)) {
                    Some(ip) => ip,
                    None => return leftmost,
                };
                if !self.trusts(ip) {
                    return Some(ip);
                }
                leftmost = Some(ip);
            }
        }
        leftmost
    }
}

/// `X-Forwarded-Proto: https` in the head at the front of `input`: the
/// last entry of the last such line, the one the nearest proxy wrote.
#[cfg_attr(not(feature = "tls"), allow(dead_code))] // read by --https-redirect
#[inline(never)]
pub fn forwarded_https(input: &[u8]) -> bool {
    let value = ValuesBack { lines: field_lines(input), name: b"x-forwarded-proto" }.next();
    value.and_then(|value| value.rsplit(|&b| b == b',').next()).is_some_and(|proto| {
        let proto = trim(proto);
        eq_lowercase(proto, b"https")
    })
}

/// The field lines of a whole head, each ending in LF: after the request
/// line, then the blank line, which names nothing.
fn fields_of_head(head: &[u8]) -> &[u8] {
    let head = super::request::trim_blank_lines(head);
    let start = head.iter().position(|&b| b == b'\n').map_or(head.len(), |lf| lf + 1);
    &head[start..]
}

/// The field lines of the head at the front of `input`, each ending in LF:
/// after the request line, up to the blank line; none while it is incomplete.
fn field_lines(input: &[u8]) -> &[u8] {
    let head = super::request::trim_blank_lines(input);
    let Some(request_line) = head.iter().position(|&b| b == b'\n') else { return &[] };
    let start = request_line + 1;
    let mut at = start;
    while let Some(lf) = head[at..].iter().position(|&b| b == b'\n') {
        if lf == 0 || (lf == 1 && head[at] == b'\r') {
            return &head[start..at];
        }
        at += lf + 1;
    }
    &[]
}

/// The values of the `name` fields (`name` in lowercase) in `lines`, the
/// last line first, each trimmed: one scan back over the lines, since it
/// runs for every request a trusted proxy sends.
struct ValuesBack<'b> {
    lines: &'b [u8],
    name: &'static [u8],
}

impl<'b> Iterator for ValuesBack<'b> {
    type Item = &'b [u8];

    fn next(&mut self) -> Option<&'b [u8]> {
        while let Some((_, rest)) = self.lines.split_last() {
            let start = rest.iter().rposition(|&b| b == b'\n').map_or(0, |lf| lf + 1);
            let line = &rest[start..];
            self.lines = &rest[..start];
            let n = self.name.len();
            // httparse let no space in before the colon (RFC 9112 §5.1).
            if line.get(n) == Some(&b':') && eq_lowercase(&line[..n], self.name) {
                let value = &line[n + 1..];
                return Some(trim(value.strip_suffix(b"\r").unwrap_or(value)));
            }
        }
        None
    }
}

/// An IP address, alone or with a port: `192.0.2.1`, `192.0.2.1:80`,
/// `2001:db8::1`, `[2001:db8::1]`, `[2001:db8::1]:4711`.
fn node(text: &[u8]) -> Option<IpAddr> {
    let bare_v6 = usize::from(text.first() != Some(&b'[') && text.contains(&b':'));
    let addr = socket_addr(&[text]).or_else(|| socket_addr(&[&b"["[..bare_v6], text, &b"]"[..bare_v6], b":0"]))?;
    Some(addr.ip())
}

/// An IP address alone: `192.0.2.1`, `2001:db8::1`; brackets or a port
/// make it no address.
fn address(text: &[u8]) -> Option<IpAddr> {
    let v6 = usize::from(text.contains(&b':'));
    Some(socket_addr(&[&b"["[..v6], text, &b"]"[..v6], b":0"])?.ip())
}

/// `parts`, laid end to end, read as a socket address.
///
/// std's socket-address parser is the one address parser in the binary:
/// the flags bring it in, and a parser per address type would each add
/// their size. Addresses without brackets or port have them added to be
/// read by it. The longest socket address is 64 bytes, or more only with
/// zeros in front of its numbers.
#[inline(never)]
pub fn socket_addr(parts: &[&[u8]]) -> Option<SocketAddr> {
    let mut buffer = [0u8; 96];
    let mut len = 0;
    for part in parts {
        buffer.get_mut(len..len + part.len())?.copy_from_slice(part);
        len += part.len();
    }
    std::str::from_utf8(&buffer[..len]).ok()?.parse().ok()
}

/// RFC 7239 §4: the `for` parameter of one forwarded-element, its value a
/// token or a quoted-string; `unknown` and obfuscated identifiers (§6.2,
/// §6.3) name no address.
fn forwarded_for(element: &[u8]) -> Option<IpAddr> {
    let pair =
        element.split(|&b| b == b';').map(trim).find(|pair| pair.len() > 4 && eq_lowercase(&pair[..4], b"for="))?;
    let value = &pair[4..];
    let value = match value.strip_prefix(b"\"") {
        Some(quoted) => quoted.strip_suffix(b"\"")?,
        None => value,
    };
    node(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn proxies(header: ProxyHeader, trusted: &[&str]) -> Proxies {
        Proxies { trusted: trusted.iter().map(|text| Cidr::parse(text).unwrap()).collect(), header }
    }

    #[test]
    fn address_blocks() {
        let rows: &[(&str, &str, bool)] = &[
            ("10.0.0.0/8", "10.200.1.2", true),
            ("10.0.0.0/8", "11.0.0.1", false),
            ("10.0.0.1", "10.0.0.1", true),
            ("10.0.0.1", "10.0.0.2", false),
            ("10.1.2.3/8", "10.9.9.9", true), // host bits are ignored
            ("0.0.0.0/0", "203.0.113.9", true),
            ("0.0.0.0/0", "2001:db8::1", false),
            ("10.0.0.0/8", "::ffff:10.0.0.1", true), // IPv4-mapped peers compare as IPv4
            ("::ffff:10.0.0.0/104", "10.0.0.1", true),
            ("2001:db8::/32", "2001:db8:ffff::1", true),
            ("2001:db8::/32", "2001:db9::1", false),
            ("::1", "::1", true),
            ("::1", "127.0.0.1", false),
            ("::/0", "2001:db8::1", true),
        ];
        for (cidr, ip, want) in rows {
            let ip: IpAddr = ip.parse().unwrap();
            assert_eq!(Cidr::parse(cidr).unwrap().contains(ip), *want, "{cidr} {ip}");
        }
        for bad in ["", "10.0.0.0/33", "::/129", "10.0.0.0/", "10.0.0.0/+8", "10.0.0/8", "host", "10.0.0.0/8/8"] {
            assert_eq!(Cidr::parse(bad), None, "{bad:?}");
        }
    }

    fn client(proxies: &Proxies, fields: &str) -> Option<String> {
        let head = format!("GET / HTTP/1.1\r\nHost: a\r\n{fields}\r\n");
        proxies.client(head.as_bytes()).map(|ip| ip.to_string())
    }

    #[test]
    fn the_client_is_the_rightmost_untrusted_hop() {
        let xff = proxies(ProxyHeader::XForwardedFor, &["10.0.0.0/8"]);
        let rows: &[(&str, &str, Option<&str>)] = &[
            ("one hop", "X-Forwarded-For: 203.0.113.7\r\n", Some("203.0.113.7")),
            ("a chain", "X-Forwarded-For: 198.51.100.1, 203.0.113.7, 10.0.0.2\r\n", Some("203.0.113.7")),
            (
                "lines joined in order",
                "X-Forwarded-For: 198.51.100.1\r\nx-forwarded-for: 10.0.0.3\r\n",
                Some("198.51.100.1"),
            ),
            ("every hop trusted: the leftmost", "X-Forwarded-For: 10.0.0.9, 10.0.0.2\r\n", Some("10.0.0.9")),
            ("garbage left of the client", "X-Forwarded-For: evil, 203.0.113.7\r\n", Some("203.0.113.7")),
            (
                "garbage right of trusted hops",
                "X-Forwarded-For: 203.0.113.7, 10.0.0.9, nope, 10.0.0.2\r\n",
                Some("10.0.0.2"),
            ),
            ("garbage last", "X-Forwarded-For: 203.0.113.7, nope\r\n", None),
            ("empty entry", "X-Forwarded-For: 203.0.113.7,\r\n", None),
            ("no header", "X-Real-IP: 203.0.113.7\r\n", None),
            ("with a port", "X-Forwarded-For: 203.0.113.7:5555\r\n", Some("203.0.113.7")),
            ("IPv6", "X-Forwarded-For: 2001:db8::7\r\n", Some("2001:db8::7")),
            ("bracketed IPv6", "X-Forwarded-For: [2001:db8::7]\r\n", Some("2001:db8::7")),
        ];
        for (why, fields, want) in rows {
            assert_eq!(client(&xff, fields).as_deref(), *want, "{why}");
        }
    }

    #[test]
    fn forwarded_names_for_parameters() {
        let rfc = proxies(ProxyHeader::Forwarded, &["10.0.0.0/8"]);
        let rows: &[(&str, &str, Option<&str>)] = &[
            ("RFC 7239 §4 example", "Forwarded: for=192.0.2.60;proto=http;by=203.0.113.43\r\n", Some("192.0.2.60")),
            (
                "quoted IPv6 with port (§6)",
                "Forwarded: for=\"[2001:db8:cafe::17]:4711\"\r\n",
                Some("2001:db8:cafe::17"),
            ),
            ("case of the name", "Forwarded: For=192.0.2.43, for=10.0.0.1\r\n", Some("192.0.2.43")),
            ("for after other pairs", "Forwarded: proto=https;for=192.0.2.43\r\n", Some("192.0.2.43")),
            ("unknown (§6.2)", "Forwarded: for=192.0.2.43, for=unknown\r\n", None),
            ("obfuscated (§6.3)", "Forwarded: for=_hidden, for=192.0.2.43\r\n", Some("192.0.2.43")),
            ("no for", "Forwarded: proto=https\r\n", None),
            ("unclosed quote", "Forwarded: for=\"[2001:db8::1]\r\n", None),
            ("X-Forwarded-For is not read", "X-Forwarded-For: 192.0.2.1\r\n", None),
        ];
        for (why, fields, want) in rows {
            assert_eq!(client(&rfc, fields).as_deref(), *want, "{why}");
        }
        let real = proxies(ProxyHeader::XRealIp, &["10.0.0.0/8"]);
        assert_eq!(
            client(&real, "X-Real-IP: 192.0.2.5\r\nX-Forwarded-For: 192.0.2.6\r\n").as_deref(),
            Some("192.0.2.5")
        );
    }

    #[test]
    fn only_the_head_is_read() {
        let rows: &[(&str, &[u8], &[u8])] = &[
            ("whole", b"GET / HTTP/1.1\r\nA: 1\r\nB: 2\r\n\r\n", b"A: 1\r\nB: 2\r\n"),
            ("no fields", b"GET / HTTP/1.1\r\n\r\n", b""),
            ("bare LF (RFC 9112 §2.2)", b"GET / HTTP/1.1\nA: 1\n\n", b"A: 1\n"),
            ("blank lines first", b"\r\nGET / HTTP/1.1\r\nA: 1\r\n\r\n", b"A: 1\r\n"),
            ("the next head", b"GET / HTTP/1.1\r\nA: 1\r\n\r\nGET / HTTP/1.1\r\nB: 2\r\n\r\n", b"A: 1\r\n"),
            ("incomplete", b"GET / HTTP/1.1\r\nA: 1\r\nB: 2", b""),
            ("no line end", b"GET / HTTP/1.1", b""),
        ];
        for (why, input, want) in rows {
            assert_eq!(field_lines(input), *want, "{why}");
        }
        let xff = proxies(ProxyHeader::XForwardedFor, &["10.0.0.0/8"]);
        assert_eq!(xff.client(b"GET / HTTP/1.1\nX-Forwarded-For: 192.0.2.1\n\n"), Some("192.0.2.1".parse().unwrap()));
        assert_eq!(xff.client(b"X-Forwarded-For: 192.0.2.1\r\n\r\n"), None, "the request line is not a field");
        assert_eq!(xff.client(b""), None, "a rejected head");
    }

    #[test]
    fn forwarded_proto() {
        let rows: &[(&str, bool)] = &[
            ("X-Forwarded-Proto: https\r\n", true),
            ("x-forwarded-proto: HTTPS\r\n", true),
            ("X-Forwarded-Proto: http\r\n", false),
            ("X-Forwarded-Proto: http, https\r\n", true),
            ("X-Forwarded-Proto: https, http\r\n", false),
            ("X-Forwarded-Proto: https\r\nX-Forwarded-Proto: http\r\n", false),
            ("X-Forwarded-Protocol: https\r\n", false),
            ("", false),
        ];
        for (fields, want) in rows {
            let head = format!("GET / HTTP/1.1\r\nHost: a\r\n{fields}\r\n");
            assert_eq!(forwarded_https(head.as_bytes()), *want, "{fields:?}");
        }
    }
}
