//! The CA's addresses: `/etc/hosts`, else a DNS query (RFC 1035) over UDP
//! to the name servers `/etc/resolv.conf` lists, as a libc stub resolver
//! does. The CA's host is the only name mote ever looks up, so this small
//! resolver stands in for libc's getaddrinfo, whose resolver (address
//! sorting, service names, locale-aware name checks) is several times its
//! size in the binary.
//!
//! Each server gets the A and the AAAA question from a socket connected to
//! it, so the kernel drops datagrams from anyone else; a reply counts only
//! with the question's id and the question itself echoed. The answers'
//! addresses are taken whatever name they are under (the CNAME chain of a
//! CDN-hosted CA), as libc does: the TLS handshake that follows verifies
//! the server, not this lookup. IPv4 addresses come first: a Pi's network
//! is more often without working IPv6 than without IPv4, and the caller
//! tries each address in turn.
#![forbid(unsafe_code)]

use std::io::{self, Read};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use crate::ops::address::socket;

const HOSTS: &str = "/etc/hosts";
const RESOLV_CONF: &str = "/etc/resolv.conf";
/// RFC 1035 §4.2.1: queries over UDP go to port 53.
const PORT: u16 = 53;
/// At most this many `nameserver` lines are used, as in libc (MAXNS).
const MAX_SERVERS: usize = 3;
/// Time each name server has to answer both questions.
const SERVER_TIMEOUT: Duration = Duration::from_secs(5);
/// RFC 1035 §2.3.4: a UDP message is at most 512 bytes unless EDNS
/// (which the query does not offer) raises it; read more in case.
const MAX_REPLY: usize = 2048;
/// Largest `/etc/hosts` or `/etc/resolv.conf` read.
const MAX_FILE: u64 = 1024 * 1024;
/// RFC 1035 §3.2.2: the record types asked for; §3.2.4: class IN.
const TYPE_A: u16 = 1;
const TYPE_AAAA: u16 = 28;
const CLASS_IN: u16 = 1;

/// The addresses of `host` (an IP literal, a name in `/etc/hosts`, or a
/// name in the DNS), each with `port`; asks no longer than `deadline`.
pub fn lookup(host: &str, port: u16, deadline: Instant) -> Result<Vec<SocketAddr>, String> {
    let ips = match host.parse::<IpAddr>() {
        Ok(ip) => vec![ip],
        Err(_) => {
            let hosts = from_hosts(&read(HOSTS), host);
            if hosts.is_empty() {
                query(host, &servers(&read(RESOLV_CONF)), deadline)?
            } else {
                hosts
            }
        }
    };
    Ok(ips.into_iter().map(|ip| SocketAddr::new(ip, port)).collect())
}

/// A configuration file's text; empty when it cannot be read, as libc
/// takes a missing file.
fn read(path: &str) -> String {
    let mut text = String::new();
    if let Ok(file) = std::fs::File::open(path) {
        let _ = file.take(MAX_FILE).read_to_string(&mut text);
    }
    text
}

/// The addresses `/etc/hosts` gives `host` (its names are matched without
/// regard to case, RFC 4343), IPv4 first.
fn from_hosts(hosts: &str, host: &str) -> Vec<IpAddr> {
    let mut found: Vec<IpAddr> = Vec::new();
    for line in hosts.lines() {
        let mut fields = line.split('#').next().unwrap_or_default().split_ascii_whitespace();
        let Some(Ok(ip)) = fields.next().map(str::parse::<IpAddr>) else { continue };
        if fields.any(|name| name.eq_ignore_ascii_case(host)) && !found.contains(&ip) {
            let at = if ip.is_ipv4() { found.iter().take_while(|ip| ip.is_ipv4()).count() } else { found.len() };
            found.insert(at, ip);
        }
    }
    found
}

/// The name servers of `/etc/resolv.conf`; the local one when it lists
/// none, as libc does.
fn servers(resolv_conf: &str) -> Vec<SocketAddr> {
    let mut servers: Vec<SocketAddr> = resolv_conf
        .lines()
        .filter_map(|line| {
            let mut fields = line.split_ascii_whitespace();
            if fields.next() != Some("nameserver") {
                return None;
            }
            fields.next()?.parse::<IpAddr>().ok()
        })
        .map(|ip| SocketAddr::new(ip, PORT))
        .take(MAX_SERVERS)
        .collect();
    if servers.is_empty() {
        servers.push(SocketAddr::new(Ipv4Addr::LOCALHOST.into(), PORT));
    }
    servers
}

/// Asks each server in turn for `name`'s A and AAAA records, until one
/// answers both.
fn query(name: &str, servers: &[SocketAddr], deadline: Instant) -> Result<Vec<IpAddr>, String> {
    let mut id = [0; 2];
    crate::sys::fill_random(&mut id).map_err(|e| format!("cannot resolve: {e}"))?;
    let id = u16::from_be_bytes(id);
    let questions = [question(id, name, TYPE_A)?, question(id ^ 1, name, TYPE_AAAA)?];
    let mut why = "no name server answered".to_string();
    for &server in servers {
        match ask(server, &questions, deadline) {
            Ok(Answer::Addresses(ips)) if !ips.is_empty() => return Ok(ips),
            Ok(Answer::Addresses(_)) => why = "the name has no address".into(),
            Ok(Answer::NoSuchName) => {
                return Err(format!("cannot resolve: no such name (name server {})", socket(server)))
            }
            Ok(Answer::Refused) => why = format!("name server {}: failed or refused the query", socket(server)),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock || e.kind() == io::ErrorKind::TimedOut => {
                why = format!("no answer from the name server {}", socket(server));
            }
            Err(e) => why = format!("name server {}: {e}", socket(server)),
        }
        if Instant::now() >= deadline {
            break;
        }
    }
    Err(format!("cannot resolve: {why}"))
}

/// What one server says of both questions.
enum Answer {
    Addresses(Vec<IpAddr>),
    NoSuchName,
    Refused,
}

/// Both questions to one server.
fn ask(server: SocketAddr, questions: &[Vec<u8>; 2], deadline: Instant) -> io::Result<Answer> {
    let socket = crate::sys::connect_udp(server)?;
    for question in questions {
        socket.send(question)?;
    }
    let until = deadline.min(Instant::now() + SERVER_TIMEOUT);
    let mut answers: [Option<Vec<IpAddr>>; 2] = [None, None];
    let mut reply = [0; MAX_REPLY];
    while answers.iter().any(Option::is_none) {
        let wait = until.checked_duration_since(Instant::now()).filter(|wait| !wait.is_zero());
        crate::sys::set_timeouts(&socket, wait.ok_or(io::ErrorKind::TimedOut)?)?;
        let len = socket.recv(&mut reply)?;
        for (question, answer) in questions.iter().zip(&mut answers) {
            match read_reply(question, &reply[..len]) {
                Reply::Addresses(ips) => *answer = Some(ips),
                Reply::NoSuchName => return Ok(Answer::NoSuchName),
                Reply::Failed => return Ok(Answer::Refused),
                Reply::Other => {}
            }
        }
    }
    Ok(Answer::Addresses(answers.into_iter().flatten().flatten().collect()))
}

/// A query (RFC 1035 §4.1): the header with recursion desired, and one
/// question for `name`'s records of type `kind`.
fn question(id: u16, name: &str, kind: u16) -> Result<Vec<u8>, String> {
    let name = name.strip_suffix('.').unwrap_or(name);
    let mut message = Vec::with_capacity(18 + name.len());
    message.extend_from_slice(&id.to_be_bytes());
    message.extend_from_slice(&[1, 0, 0, 1, 0, 0, 0, 0, 0, 0]);
    for label in name.split('.') {
        // §2.3.4: labels of 1 to 63 bytes, names of at most 255.
        if label.is_empty() || label.len() > 63 {
            return Err(format!("cannot resolve: '{name}' is not a host name"));
        }
        message.push(label.len() as u8);
        message.extend_from_slice(label.as_bytes());
    }
    if message.len() - 12 > 254 {
        return Err(format!("cannot resolve: '{name}' is not a host name"));
    }
    message.push(0);
    message.extend_from_slice(&kind.to_be_bytes());
    message.extend_from_slice(&CLASS_IN.to_be_bytes());
    Ok(message)
}

/// What one datagram says to one question.
#[derive(Debug, PartialEq)]
enum Reply {
    /// An answer: the addresses of the type asked for (maybe none).
    Addresses(Vec<IpAddr>),
    /// RFC 1035 §4.1.1 RCODE 3: the name does not exist.
    NoSuchName,
    /// The server failed or refused: ask the next.
    Failed,
    /// Not a reply to this question.
    Other,
}

/// Reads `reply` as the answer to `question` (RFC 1035 §4.1).
fn read_reply(question: &[u8], reply: &[u8]) -> Reply {
    let asked = &question[12..];
    // §4.1.1: the same id, QR set (a response), one question, which must
    // be ours (servers may change the case of the name).
    if reply.len() < question.len()
        || reply[..2] != question[..2]
        || reply[2] & 0x80 == 0
        || reply[4..6] != [0, 1]
        || !reply[12..question.len()].eq_ignore_ascii_case(asked)
    {
        return Reply::Other;
    }
    match reply[3] & 0x0f {
        0 => {}
        3 => return Reply::NoSuchName,
        _ => return Reply::Failed,
    }
    let kind = u16::from_be_bytes([asked[asked.len() - 4], asked[asked.len() - 3]]);
    let answers = u16::from_be_bytes([reply[6], reply[7]]);
    let mut at = question.len();
    let mut ips = Vec::new();
    for _ in 0..answers {
        // §4.1.3: a name (§4.1.4: maybe ending in a pointer), then type,
        // class, TTL, the data's length, and the data.
        let Some(end) = skip_name(reply, at) else { break };
        let Some(fixed) = reply.get(end..end + 10) else { break };
        let (rtype, class) = (u16::from_be_bytes([fixed[0], fixed[1]]), u16::from_be_bytes([fixed[2], fixed[3]]));
        let data_len = usize::from(u16::from_be_bytes([fixed[8], fixed[9]]));
        let Some(data) = reply.get(end + 10..end + 10 + data_len) else { break };
        if class == CLASS_IN && rtype == kind {
            match (kind, <[u8; 4]>::try_from(data), <[u8; 16]>::try_from(data)) {
                (TYPE_A, Ok(v4), _) => ips.push(IpAddr::from(v4)),
                (TYPE_AAAA, _, Ok(v6)) => ips.push(IpAddr::from(v6)),
                _ => {}
            }
        }
        at = end + 10 + data_len;
    }
    Reply::Addresses(ips)
}

/// The offset after the name at `at`: labels up to the root label or a
/// compression pointer (RFC 1035 §4.1.4), which is not followed.
fn skip_name(message: &[u8], mut at: usize) -> Option<usize> {
    loop {
        let len = *message.get(at)?;
        match len {
            0 => return Some(at + 1),
            0xc0.. => return (at + 2 <= message.len()).then_some(at + 2),
            64.. => return None,
            _ => at += 1 + usize::from(len),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{Ipv6Addr, UdpSocket};
    use std::thread;

    /// A reply to `question`: its header with QR and `rcode` set, the
    /// question, and `answers` (each name, type, data).
    fn reply(question: &[u8], rcode: u8, answers: &[(&[u8], u16, &[u8])]) -> Vec<u8> {
        let mut out = question.to_vec();
        out[2] |= 0x80;
        out[3] = 0x80 | rcode;
        out[7] = answers.len() as u8;
        for (name, rtype, data) in answers {
            out.extend_from_slice(name);
            out.extend_from_slice(&rtype.to_be_bytes());
            out.extend_from_slice(&[0, 1, 0, 0, 0x0e, 0x10]);
            out.extend_from_slice(&(data.len() as u16).to_be_bytes());
            out.extend_from_slice(data);
        }
        out
    }

    /// The question's name as a pointer (§4.1.4) to offset 12.
    const POINTER: &[u8] = &[0xc0, 12];

    #[test]
    fn writes_queries_per_rfc_1035() {
        let query = question(0x1234, "ca.example.", TYPE_AAAA).unwrap();
        let mut expected = vec![0x12, 0x34, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0];
        expected.extend_from_slice(b"\x02ca\x07example\x00\x00\x1c\x00\x01");
        assert_eq!(query, expected);
        // (name, why refused)
        let long = format!("{}.example", "a".repeat(64));
        let longest = vec!["a".repeat(63); 4].join(".");
        for name in ["", "a..b", ".a", long.as_str(), longest.as_str()] {
            assert!(question(1, name, TYPE_A).is_err(), "{name}");
        }
        assert!(question(1, &longest[..longest.len() - 2], TYPE_A).is_ok(), "§2.3.4: 253 characters fit");
    }

    #[test]
    fn reads_replies_per_rfc_1035() {
        let a = question(7, "ca.example", TYPE_A).unwrap();
        let aaaa = question(7 ^ 1, "ca.example", TYPE_AAAA).unwrap();
        let v4 = IpAddr::from([192, 0, 2, 1]);
        let v6: IpAddr = "2001:db8::1".parse().unwrap();
        let cname = b"\x03cdn\x07example\x00";
        let mut upper = reply(&a, 0, &[(POINTER, TYPE_A, &[192, 0, 2, 1])]);
        upper[13..15].copy_from_slice(b"CA");
        // (name, question, reply, what it says)
        let rows: Vec<(&str, &[u8], Vec<u8>, Reply)> = vec![
            (
                "§4.1.4: an answer named by a pointer",
                &a,
                reply(&a, 0, &[(POINTER, TYPE_A, &[192, 0, 2, 1])]),
                Reply::Addresses(vec![v4]),
            ),
            (
                "AAAA",
                &aaaa,
                reply(&aaaa, 0, &[(POINTER, TYPE_AAAA, &v6.to_string().parse::<Ipv6Addr>().unwrap().octets())]),
                Reply::Addresses(vec![v6]),
            ),
            (
                "a CNAME, then the address under the alias",
                &a,
                reply(&a, 0, &[(POINTER, 5, cname), (cname, TYPE_A, &[192, 0, 2, 1])]),
                Reply::Addresses(vec![v4]),
            ),
            ("RFC 4343: the name's case changed", &a, upper, Reply::Addresses(vec![v4])),
            ("no address of this type", &aaaa, reply(&aaaa, 0, &[]), Reply::Addresses(vec![])),
            (
                "an A record of the wrong length",
                &a,
                reply(&a, 0, &[(POINTER, TYPE_A, &[1, 2, 3])]),
                Reply::Addresses(vec![]),
            ),
            ("§4.1.1 RCODE 3: no such name", &a, reply(&a, 3, &[]), Reply::NoSuchName),
            ("§4.1.1 RCODE 2: server failure", &a, reply(&a, 2, &[]), Reply::Failed),
            ("another id", &aaaa, reply(&a, 0, &[]), Reply::Other),
            ("another question", &a, reply(&question(7, "cb.example", TYPE_A).unwrap(), 0, &[]), Reply::Other),
            ("a query, not a response", &a, a.clone(), Reply::Other),
            ("cut inside the header", &a, a[..8].to_vec(), Reply::Other),
        ];
        for (name, question, reply, expected) in rows {
            assert_eq!(read_reply(question, &reply), expected, "{name}");
        }
    }

    #[test]
    fn never_panics_on_broken_replies() {
        let a = question(7, "ca.example", TYPE_A).unwrap();
        let whole =
            reply(&a, 0, &[(POINTER, 5, b"\x03cdn\x07example\x00"), (b"\x03cdn\xc0\x0f", TYPE_A, &[192, 0, 2, 1])]);
        for len in 0..=whole.len() {
            let _ = read_reply(&a, &whole[..len]);
        }
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        for _ in 0..2000 {
            let mut message = whole.clone();
            for _ in 0..4 {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                let at = (state >> 8) as usize % message.len();
                message[at] = state as u8;
            }
            let _ = read_reply(&a, &message);
        }
    }

    #[test]
    fn reads_hosts_and_resolv_conf() {
        let hosts = "127.0.0.1 localhost\n# 192.0.2.9 ca.example\n::1 ca.example  # v6\n192.0.2.1\tother CA.Example\nbad ca.example\n";
        let ips = from_hosts(hosts, "ca.example");
        assert_eq!(ips, ["192.0.2.1".parse::<IpAddr>().unwrap(), "::1".parse().unwrap()], "IPv4 first");
        assert!(from_hosts(hosts, "example").is_empty());
        let conf =
            "search lan\nnameserver 192.0.2.53\n#nameserver 192.0.2.54\nnameserver 2001:db8::53 \nnameserver bad\n\
                    nameserver 192.0.2.55\nnameserver 192.0.2.56\n";
        let expected =
            ["192.0.2.53:53", "[2001:db8::53]:53", "192.0.2.55:53"].map(|s| s.parse::<SocketAddr>().unwrap());
        assert_eq!(servers(conf), expected, "at most three");
        assert_eq!(servers("search lan\n"), ["127.0.0.1:53".parse::<SocketAddr>().unwrap()], "none: the local one");
    }

    /// A name server on loopback answering each query with the datagrams
    /// `answer` makes of it.
    fn server(answer: fn(&[u8]) -> Vec<Vec<u8>>) -> SocketAddr {
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        let addr = socket.local_addr().unwrap();
        thread::spawn(move || {
            let mut buf = [0; 512];
            while let Ok((len, from)) = socket.recv_from(&mut buf) {
                for reply in answer(&buf[..len]) {
                    let _ = socket.send_to(&reply, from);
                }
            }
        });
        addr
    }

    fn kind_of(query: &[u8]) -> u16 {
        u16::from_be_bytes([query[query.len() - 4], query[query.len() - 3]])
    }

    #[test]
    fn asks_the_servers_in_turn() {
        let deadline = || Instant::now() + Duration::from_secs(10);
        let answering = server(|query| {
            let data: &[u8] = if kind_of(query) == TYPE_A {
                &[192, 0, 2, 1]
            } else {
                &[0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]
            };
            // A datagram with another id first: it answers nothing.
            let mut stray = reply(query, 0, &[(POINTER, kind_of(query), &data[..4])]);
            stray[0] ^= 0x80;
            vec![stray, reply(query, 0, &[(POINTER, kind_of(query), data)])]
        });
        let ips = query("ca.example", &[answering], deadline()).unwrap();
        assert_eq!(ips, ["192.0.2.1".parse::<IpAddr>().unwrap(), "2001:db8::1".parse().unwrap()]);
        let refusing = server(|query| vec![reply(query, 5, &[])]);
        let ips = query("ca.example", &[refusing, answering], deadline()).unwrap();
        assert_eq!(ips.len(), 2, "a refusing server is passed over");
        let missing = server(|query| vec![reply(query, 3, &[])]);
        let why = query("ca.example", &[missing, answering], deadline()).unwrap_err();
        assert!(why.contains("no such name"), "{why}");
        let silent = server(|_| Vec::new());
        let why = query("ca.example", &[silent], Instant::now() + Duration::from_millis(300)).unwrap_err();
        assert!(why.contains("no answer from the name server"), "{why}");
    }

    #[test]
    fn literals_need_no_lookup() {
        let deadline = Instant::now();
        assert_eq!(lookup("192.0.2.1", 443, deadline).unwrap(), ["192.0.2.1:443".parse().unwrap()]);
        assert_eq!(lookup("::1", 14000, deadline).unwrap(), ["[::1]:14000".parse().unwrap()]);
    }
}
