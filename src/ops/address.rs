//! IP and socket addresses as the logs write them: the access log's client,
//! and the `listening on` line.
//!
//! The text is std's `Display` (for IPv6 RFC 5952's: lowercase hex without
//! leading zeros, the first longest run of two or more zero groups as `::`,
//! an IPv4-mapped address as `::ffff:a.b.c.d`), written straight into the
//! line's bytes. std's own goes through the formatter for each group and
//! brings a padding path and a buffer type per address type with it; a log
//! line needs none of that.

use std::net::{IpAddr, SocketAddr};

const HEX: &[u8; 16] = b"0123456789abcdef";

/// Appends `ip` as std's `Display` writes it.
pub fn push_ip(out: &mut Vec<u8>, ip: IpAddr) {
    let v6 = match ip {
        IpAddr::V4(v4) => return push_v4(out, v4.octets()),
        IpAddr::V6(v6) => v6,
    };
    if let Some(v4) = v6.to_ipv4_mapped() {
        out.extend_from_slice(b"::ffff:");
        return push_v4(out, v4.octets());
    }
    let groups = v6.segments();
    // The first longest run of zero groups: RFC 5952 §4.2.
    let (mut start, mut len, mut run) = (groups.len(), 0, 0);
    for (i, &group) in groups.iter().enumerate() {
        run = if group == 0 { run + 1 } else { 0 };
        if run > len {
            (start, len) = (i + 1 - run, run);
        }
    }
    if len < 2 {
        start = groups.len(); // §4.2.2: a lone zero group stays "0"
    }
    let mut i = 0;
    while i < groups.len() {
        if i == start {
            out.extend_from_slice(b"::");
            i += len;
            continue;
        }
        if i > 0 && i != start + len {
            out.push(b':');
        }
        let group = groups[i];
        let mut shift = 12;
        while shift > 0 && group >> shift == 0 {
            shift -= 4;
        }
        loop {
            out.push(HEX[usize::from(group >> shift & 0xf)]);
            if shift == 0 {
                break;
            }
            shift -= 4;
        }
        i += 1;
    }
}

/// `addr` as std's `Display` writes it: `a.b.c.d:port`, `[v6]:port`, or
/// `[v6%scope]:port`.
pub fn socket(addr: SocketAddr) -> String {
    let mut out = Vec::with_capacity(48);
    match addr {
        SocketAddr::V4(v4) => push_ip(&mut out, IpAddr::V4(*v4.ip())),
        SocketAddr::V6(v6) => {
            out.push(b'[');
            push_ip(&mut out, IpAddr::V6(*v6.ip()));
            if v6.scope_id() != 0 {
                out.push(b'%');
                out.extend_from_slice(itoa::Buffer::new().format(v6.scope_id()).as_bytes());
            }
            out.push(b']');
        }
    }
    out.push(b':');
    out.extend_from_slice(itoa::Buffer::new().format(addr.port()).as_bytes());
    String::from_utf8(out).unwrap_or_default()
}

fn push_v4(out: &mut Vec<u8>, octets: [u8; 4]) {
    for (i, octet) in octets.into_iter().enumerate() {
        if i > 0 {
            out.push(b'.');
        }
        out.extend_from_slice(itoa::Buffer::new().format(octet).as_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{Ipv6Addr, SocketAddrV6};

    fn shown(ip: IpAddr) -> String {
        let mut out = Vec::new();
        push_ip(&mut out, ip);
        String::from_utf8(out).unwrap()
    }

    /// The cases RFC 5952 §4 names, and std's own choices, against std.
    #[test]
    fn addresses_read_as_std_writes_them() {
        let rows = [
            "0.0.0.0",
            "127.0.0.1",
            "255.255.255.255",
            "10.0.20.3",
            "::",
            "::1",
            "1::",
            "2001:db8::1",                         // §4.2.1: the longest run
            "2001:db8:0:1:1:1:1:1",                // §4.2.2: one zero group stays
            "2001:0:0:1:0:0:0:1",                  // §4.2.3: the longest of two runs
            "2001:db8:0:0:1:0:0:1",                // §4.2.3: the first of equal runs
            "2001:DB8:AAAA:BBBB:CCCC:DDDD:EEEE:1", // §4.3: lowercase
            "::ffff:192.0.2.1",                    // mapped IPv4
            "::192.0.2.1",                         // compatible IPv4: plain hex
            "::ffff:0:0",
            "fe80::1:0:0:0",
            "0:1:0:1:0:1:0:1",
            "1:0:1:0:1:0:1:0",
            "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
        ];
        for row in rows {
            let ip: IpAddr = row.parse().unwrap();
            assert_eq!(shown(ip), ip.to_string(), "{row}");
        }
        // Every pattern of zero and non-zero groups, with varied digits.
        for pattern in 0u32..256 {
            let mut groups = [0u16; 8];
            for (i, group) in groups.iter_mut().enumerate() {
                if pattern >> i & 1 == 1 {
                    *group = (0x1234u32.wrapping_mul(pattern + i as u32 + 1) >> (i % 4 * 3)) as u16 | 1;
                }
            }
            let ip = IpAddr::V6(Ipv6Addr::from(groups));
            assert_eq!(shown(ip), ip.to_string(), "{groups:x?}");
        }
    }

    #[test]
    fn sockets_read_as_std_writes_them() {
        let rows: Vec<SocketAddr> = vec![
            "0.0.0.0:8080".parse().unwrap(),
            "127.0.0.1:0".parse().unwrap(),
            "[::]:80".parse().unwrap(),
            "[::ffff:10.0.0.1]:65535".parse().unwrap(),
            SocketAddr::V6(SocketAddrV6::new("fe80::1".parse().unwrap(), 443, 0, 3)),
        ];
        for addr in rows {
            assert_eq!(socket(addr), addr.to_string());
        }
    }
}
