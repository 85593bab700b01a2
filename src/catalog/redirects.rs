//! A site's `_redirects` file (Netlify's format): read, compiled into
//! tables, and matched against a request's path.
//!
//! Each line is `FROM TO [STATUS][!]`: FROM a path whose segments may be
//! `:name` placeholders and whose last segment may be `*` (the splat), TO a
//! path or a full URL in which `:name` and `:splat` are replaced. The first
//! rule that matches wins; `!` (forced) rules are tried before the site's
//! files, the others only for a path no file answers, and 404 rules last of
//! all (after `--spa`).
//!
//! Rules are compiled when the site is loaded, never interpreted per
//! request: each rule is filed under the literal segments its FROM starts
//! with, in a hash table, so a request costs one lookup per segment of its
//! path, and a match against each rule filed under the same start (rules
//! whose FROM begins with a placeholder share the empty one). A redirect whose
//! Location is fixed has its whole head built here, so a request without a
//! query is answered from shared bytes (and remembered by the memo, as a
//! file is).
//!
//! Syntax mote does not support (query and country, language, role or
//! cookie conditions, proxying to another origin, a full URL as FROM) and
//! malformed lines are reported with their line number and skipped, so a
//! generator's real file never takes a site down; `mote --check` lists them
//! and fails. Parsing is a pure function, tested by table below.
#![forbid(unsafe_code)]

use std::borrow::Cow;
use std::path::Path;
use std::sync::Arc;

use crate::catalog::{Body, Entry};
use crate::http::target;
use mote_site::representation::NOSNIFF;
use mote_site::walk::{error_text, REDIRECTS};

/// Larger files are refused (the message says 1024 KiB): 10,000 rules fit
/// in a few hundred KiB.
const MAX_FILE_BYTES: u64 = 1 << 20;
/// Longer lines are reported and skipped (the message says 4096): no
/// Location needs more.
const MAX_LINE_BYTES: usize = 4096;

/// How a matched rule is answered.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Status {
    /// 301, 302, 303, 307, 308: Location is TO.
    Redirect(u16),
    /// 200: TO's representation, served at FROM.
    Rewrite,
    /// 404: TO's body, with status 404.
    NotFound,
}

/// One compiled line.
pub struct Rule {
    /// Where it is in the file, from 1.
    pub line: usize,
    pub status: Status,
    pub force: bool,
    /// FROM decoded and normalised as a request's path is, without its
    /// trailing slash and splat: segments, `:name` ones matching any.
    from: Box<[u8]>,
    /// FROM ends in `/*`.
    splat: bool,
    /// TO, with the bytes a header must not carry percent-encoded.
    to: Box<[u8]>,
    /// The 3xx response for a request without a query, when TO has nothing
    /// to replace.
    fixed: Option<Arc<Entry>>,
    /// How much of FROM is its table key: the literal segments it starts
    /// with (`/a/b` for `/a/b/:x`).
    key_len: usize,
    /// The next rule in its table under the same key, in file order, + 1;
    /// 0 for none.
    next: u32,
}

/// A line that is not a rule mote follows.
#[derive(Debug, PartialEq)]
pub struct Skipped {
    pub line: usize,
    pub why: &'static str,
}

/// Rules by their key (a path without its trailing slash: `/a/b` for
/// `/a/b/:x/*`): a hash table with open addressing, since lookups only
/// ever ask for an exact key. Its rules under one key are chained through
/// `Rule::next`.
#[derive(Default)]
struct Table {
    /// The first rule under a key + 1, 0 for an empty slot; a power of
    /// two, at least twice as many slots as rules.
    slots: Vec<u32>,
    /// Bit n: some key has n segments (the last bit: 63 or more), so a
    /// path's starts no key can equal are not looked for. 0: no rules.
    depths: u64,
}

/// An `Arc`'s two counts, beside what it holds.
const ARC_COUNTS: u64 = 2 * std::mem::size_of::<usize>() as u64;

/// A site's rules, compiled.
#[derive(Default)]
pub struct Redirects {
    pub rules: Vec<Rule>,
    /// Forced rules; unforced rules but 404s (after the site's files);
    /// unforced 404 rules (after `--spa`).
    tables: [Table; 3],
    /// Memory held, for `--max-memory`.
    pub bytes: u64,
    /// Cache-Control of a 404 rule's response, as of the 404 page's.
    pub cache_control: Cow<'static, str>,
    /// The site's types (`--mime`), for a 404 rule's page.
    pub types: mote_site::mime::Types,
}

impl Redirects {
    /// The rules in `root/_redirects` (none when there is no such file), with
    /// the lines skipped; `Err` when the file is there but cannot be read.
    pub fn read(root: &Path) -> Result<(Redirects, Vec<Skipped>), String> {
        let path = root.join(REDIRECTS);
        let why = match std::fs::metadata(&path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok((Redirects::default(), Vec::new())),
            // A directory fails the read below, with its own reason.
            Ok(meta) if !meta.is_dir() && (!meta.is_file() || meta.len() > MAX_FILE_BYTES) => {
                "not a regular file of at most 1024 KiB".into()
            }
            _ => match crate::sys::read(&path) {
                Ok(text) => {
                    let (rules, skipped) = parse(&text);
                    return Ok((Redirects::compile(rules), skipped));
                }
                Err(e) => error_text(&e),
            },
        };
        Err(format!("{}: {why}", path.display()))
    }

    fn compile(mut rules: Vec<Rule>) -> Redirects {
        let mut tables: [Table; 3] = Default::default();
        let slots = (2 * rules.len()).next_power_of_two();
        // What `--max-memory` is charged: the rules, their bytes, the
        // heads built here and the tables' slots.
        let mut bytes = (rules.capacity() * std::mem::size_of::<Rule>()) as u64;
        // From the last rule up, each put first under its key: the chains
        // come out in file order.
        for index in (0..rules.len()).rev() {
            let rule = &rules[index];
            let table = &mut tables[rule.table()];
            if table.slots.is_empty() {
                table.slots = vec![0; slots];
            }
            let key = &rule.from[..rule.key_len];
            table.depths |= 1 << key.iter().filter(|&&b| b == b'/').count().min(63);
            let slot = table.slot(&rules, key);
            let next = std::mem::replace(&mut table.slots[slot], index as u32 + 1);
            let rule = &mut rules[index];
            rule.next = next;
            // A redirect whose TO has nothing to replace: its head, built now.
            if let Status::Redirect(code) = rule.status {
                let (head, replaced) = rule.head(code, b"", None);
                if !replaced {
                    // No precondition is ever evaluated against a redirect.
                    rule.fixed = Some(Arc::new(Entry {
                        shared_from: head.len(),
                        head_not_modified: Cow::Borrowed(b""),
                        head_ok: Cow::Owned(head),
                        etag: [0; 18],
                        last_modified: 0,
                        len: 0,
                        body: Body::Memory(Cow::Borrowed(b"")),
                    }));
                }
            }
            bytes += (rule.from.len() + rule.to.len()) as u64;
            bytes += rule.fixed.as_ref().map_or(0, |entry| entry.bytes() + ARC_COUNTS);
        }
        bytes += tables.iter().map(|table| table.slots.len() as u64 * 4).sum::<u64>();
        Redirects { rules, tables, bytes, cache_control: Cow::Borrowed(""), types: Default::default() }
    }

    /// Whether any rule comes before the site's files.
    pub fn has_forced(&self) -> bool {
        self.tables[0].depths != 0
    }

    /// The first forced rule `path` (decoded and normalised) matches.
    pub fn forced(&self, path: &[u8]) -> Option<&Rule> {
        self.find(0, path)
    }

    /// The first unforced rule but a 404 that `path` matches.
    pub fn normal(&self, path: &[u8]) -> Option<&Rule> {
        self.find(1, path)
    }

    /// The first unforced 404 rule `path` matches.
    pub fn missing(&self, path: &[u8]) -> Option<&Rule> {
        self.find(2, path)
    }

    /// The matching rule of a table that comes first in the file: only the
    /// rules filed under a start of `path` (``, `/a`, `/a/b` for `/a/b`)
    /// are tried.
    #[inline(never)]
    fn find(&self, table: usize, path: &[u8]) -> Option<&Rule> {
        let (table, rules) = (&self.tables[table], &self.rules[..]);
        if table.depths == 0 {
            return None;
        }
        let path = trimmed(path);
        let (mut best, mut depth, mut end) = (u32::MAX, 0, 0);
        loop {
            if table.depths & (1 << depth.min(63)) != 0 {
                let mut at = table.slots[table.slot(rules, &path[..end])];
                // Rules after the best one so far cannot win.
                while at != 0 && at <= best {
                    let rule = &rules[at as usize - 1];
                    if rule.matches(path) {
                        best = at;
                        break;
                    }
                    at = rule.next;
                }
            }
            if end == path.len() {
                break;
            }
            end += 1;
            while end < path.len() && path[end] != b'/' {
                end += 1;
            }
            depth += 1;
        }
        rules.get(best.wrapping_sub(1) as usize)
    }
}

impl Table {
    /// The slot that holds `key`'s first rule, or the empty one it would go in.
    fn slot(&self, rules: &[Rule], key: &[u8]) -> usize {
        // FNV-1a: a few instructions a byte, 32-bit for the Pi.
        let mut hash = 0x811c_9dc5_u32;
        for &b in key {
            hash = (hash ^ u32::from(b)).wrapping_mul(0x0100_0193);
        }
        let mask = self.slots.len() - 1;
        let mut slot = hash as usize & mask;
        while let Some(rule) = rules.get(self.slots[slot].wrapping_sub(1) as usize) {
            if rule.from[..rule.key_len] == *key {
                break;
            }
            slot = (slot + 1) & mask;
        }
        slot
    }
}

/// A path without its trailing slash (`/` is empty): Netlify matches `/a`
/// and `/a/` alike.
fn trimmed(path: &[u8]) -> &[u8] {
    path.strip_suffix(b"/").unwrap_or(path)
}

/// The segments of a trimmed path (none for the root).
fn segments(path: &[u8]) -> impl Iterator<Item = &[u8]> {
    path.split(|&b| b == b'/').skip(1)
}

impl Rule {
    /// Which of the tables it is in: forced, unforced, unforced 404.
    fn table(&self) -> usize {
        match (self.force, self.status) {
            (true, _) => 0,
            (false, Status::NotFound) => 2,
            (false, _) => 1,
        }
    }

    /// Whether a trimmed path matches FROM. A splat matches the rest, even
    /// nothing: `/news/*` matches `/news` too.
    fn matches(&self, path: &[u8]) -> bool {
        let (mut want, mut got) = (segments(&self.from), segments(path));
        loop {
            match (want.next(), got.next()) {
                (None, None) => return true,
                (None, Some(_)) => return self.splat,
                (Some(want), Some(got)) if want.first() == Some(&b':') || want == got => {}
                _ => return false,
            }
        }
    }

    /// What placeholder `:name` stands for in a trimmed path that matched:
    /// the splat, or the segment FROM names `:name`; None when FROM has no
    /// such placeholder.
    fn capture<'p>(&self, name: &[u8], path: &'p [u8]) -> Option<&'p [u8]> {
        if name == b"splat" && self.splat {
            // What follows as many segments as FROM has.
            let mut rest = path;
            for _ in segments(&self.from) {
                let after_slash = rest.get(1..).unwrap_or(b"");
                rest = after_slash.iter().position(|&b| b == b'/').map_or(b"", |at| &after_slash[at..]);
            }
            return Some(rest.get(1..).unwrap_or(b""));
        }
        if name.is_empty() {
            return None;
        }
        let index = segments(&self.from).position(|want| want.strip_prefix(b":") == Some(name))?;
        Some(segments(path).nth(index).unwrap_or(b""))
    }

    /// TO with the placeholders replaced from `path` (percent-encoded), and
    /// the request's query passed on (before any fragment, after any query
    /// TO has): bytes fit for a Location header. A `:word` FROM does not
    /// name stays as written (a port, say). True when TO has a placeholder.
    pub fn location(&self, path: &[u8], query: Option<&[u8]>, out: &mut Vec<u8>) -> bool {
        let (path, start) = (trimmed(path), out.len());
        let mut replaced = false;
        let mut rest = &self.to[..];
        while let Some(at) = rest.iter().position(|&b| b == b':') {
            let mut end = at + 1;
            while end < rest.len() && is_name_byte(rest[end]) {
                end += 1;
            }
            match self.capture(&rest[at + 1..end], path) {
                Some(capture) => {
                    out.extend_from_slice(&rest[..at]);
                    target::encode_path(capture, out);
                    replaced = true;
                }
                None => out.extend_from_slice(&rest[..end]),
            }
            rest = &rest[end..];
        }
        out.extend_from_slice(rest);
        if let Some(query) = query {
            let fragment = out[start..].iter().position(|&b| b == b'#').map_or(out.len(), |at| start + at);
            let joiner = if out[start..fragment].contains(&b'?') { b'&' } else { b'?' };
            let tail = out.split_off(fragment);
            out.push(joiner);
            out.extend_from_slice(query); // the request layer let only visible ASCII through
            out.extend_from_slice(&tail);
        }
        replaced
    }

    /// The 3xx response for a request without a query, built at load,
    /// when TO has nothing to replace.
    pub fn fixed(&self) -> Option<&Arc<Entry>> {
        self.fixed.as_ref()
    }

    /// The 3xx head for this request: Location built from its path and query.
    pub fn redirect_head(&self, code: u16, path: &[u8], query: Option<&[u8]>) -> Box<[u8]> {
        self.head(code, path, query).0.into_boxed_slice()
    }

    /// `HTTP/1.1 3xx`, Location (as `location` writes it), an empty body;
    /// and whether TO has a placeholder.
    fn head(&self, code: u16, path: &[u8], query: Option<&[u8]>) -> (Vec<u8>, bool) {
        let status: &[u8] = match code {
            301 => b"301 Moved Permanently",
            302 => b"302 Found",
            303 => b"303 See Other",
            307 => b"307 Temporary Redirect",
            _ => b"308 Permanent Redirect",
        };
        let mut head = Vec::with_capacity(self.to.len() + path.len() + query.map_or(0, <[u8]>::len) + 128);
        head.extend_from_slice(b"HTTP/1.1 ");
        head.extend_from_slice(status);
        head.extend_from_slice(b"\r\nLocation: ");
        let replaced = self.location(path, query, &mut head);
        head.extend_from_slice(b"\r\nContent-Length: 0\r\n");
        head.extend_from_slice(NOSNIFF.as_bytes());
        (head, replaced)
    }

    /// TO as a path to look up (200 and 404 rules): placeholders replaced,
    /// any query or fragment left out.
    pub fn destination(&self, path: &[u8], out: &mut Vec<u8>) {
        let _ = self.location(path, None, out);
        if let Some(end) = out.iter().position(|&b| b == b'?' || b == b'#') {
            out.truncate(end);
        }
    }

    /// The line as `--check` lists it: FROM as matched, TO as sent.
    pub fn describe(&self) -> String {
        let status = match self.status {
            Status::Redirect(code) => usize::from(code),
            Status::Rewrite => 200,
            Status::NotFound => 404,
        };
        let root = self.from.is_empty() && !self.splat;
        let from = String::from_utf8_lossy(if root { b"/" } else { &self.from });
        let (splat, to) = (if self.splat { "/*" } else { "" }, String::from_utf8_lossy(&self.to));
        let force = if self.force { "!" } else { "" };
        format!("{REDIRECTS}:{}: {from}{splat} -> {to} {status}{force}", self.line)
    }
}

/// The rules of a `_redirects` file, and the lines skipped.
pub fn parse(text: &[u8]) -> (Vec<Rule>, Vec<Skipped>) {
    // Editors on Windows may start the file with a byte-order mark.
    let text = text.strip_prefix("\u{feff}".as_bytes()).unwrap_or(text);
    let (mut rules, mut skipped) = (Vec::new(), Vec::new());
    for (at, line) in text.split(|&b| b == b'\n').enumerate() {
        match parse_line(line) {
            Ok(Some(mut rule)) => {
                rule.line = at + 1;
                rules.push(rule);
            }
            Ok(None) => {}
            Err(why) => skipped.push(Skipped { line: at + 1, why }),
        }
    }
    (rules, skipped)
}

fn is_url(field: &[u8]) -> bool {
    field.starts_with(b"http://") || field.starts_with(b"https://")
}

/// One line: a rule, nothing (blank or a comment), or why it is skipped.
fn parse_line(line: &[u8]) -> Result<Option<Rule>, &'static str> {
    if line.len() > MAX_LINE_BYTES {
        return Err("longer than 4096 bytes");
    }
    // FROM, TO, STATUS and one more to tell a condition from nothing.
    let mut fields: [&[u8]; 4] = [b""; 4];
    let mut count = 0;
    for field in line.split(|b| b.is_ascii_whitespace()).filter(|f| !f.is_empty()) {
        if field[0] == b'#' || count == fields.len() {
            break;
        }
        fields[count] = field;
        count += 1;
    }
    let [from, to, status, rest] = fields;
    let condition = |field: &[u8]| field.contains(&b'=') && field[0] != b'/' && !is_url(field);
    match count {
        0 => return Ok(None),
        _ if is_url(from) => return Err("a full URL as FROM is not supported: mote matches paths"),
        _ if from[0] != b'/' => return Err("FROM must be a path starting with /"),
        _ if condition(to) => return Err("query conditions are not supported"),
        1 => return Err("no TO after FROM"),
        _ if to[0] != b'/' && !is_url(to) => return Err("TO must be a path starting with / or an http(s) URL"),
        _ if condition(status) || condition(rest) => {
            return Err("country, language, role and cookie conditions are not supported")
        }
        4 => return Err("more after the status"),
        _ => {}
    }
    let (digits, force) = status.strip_suffix(b"!").map_or((status, false), |digits| (digits, true));
    let status = match digits {
        b"" if count == 2 => Status::Redirect(301),
        b"200" => Status::Rewrite,
        b"404" => Status::NotFound,
        b"301" | b"302" | b"303" | b"307" | b"308" => {
            Status::Redirect(digits.iter().fold(0, |n, &d| n * 10 + u16::from(d - b'0')))
        }
        _ => return Err("a status other than 200, 301, 302, 303, 307, 308 or 404"),
    };
    if !matches!(status, Status::Redirect(_)) && is_url(to) {
        return Err("serving another origin's content (proxying) is not supported");
    }
    let (from, splat) = pattern(from)?;
    // Bytes a header must not carry: controls, DEL, anything not ASCII.
    let mut sent = Vec::with_capacity(to.len());
    for &byte in to {
        match byte {
            0x21..=0x7e => sent.push(byte),
            _ => target::encode_path(&[byte], &mut sent),
        }
    }
    let key_len = from.windows(2).position(|pair| pair == b"/:").unwrap_or(from.len());
    Ok(Some(Rule { line: 0, status, force, from, splat, to: sent.into(), fixed: None, key_len, next: 0 }))
}

/// FROM decoded and normalised as a request's path is, without its
/// trailing slash and splat, and whether it ends in a splat.
fn pattern(from: &[u8]) -> Result<(Box<[u8]>, bool), &'static str> {
    let mut normal = Vec::new();
    if target::normalize(from, &mut normal).is_err() {
        return Err("FROM is not a path a request can have (a bad escape, a control byte)");
    }
    let mut path = trimmed(&normal);
    let splat = path.ends_with(b"/*");
    if splat {
        path = &path[..path.len() - 2];
    }
    for segment in segments(path) {
        if segment.contains(&b'*') {
            return Err(match segment {
                b"*" => "a splat (*) only at the end of FROM",
                _ => "a splat (*) is a whole segment: /path/*",
            });
        }
        if segment.first() == Some(&b':') && (segment.len() == 1 || !segment[1..].iter().all(|&b| is_name_byte(b))) {
            return Err("a placeholder is a colon and a name of letters, digits or _");
        }
    }
    Ok((path.into(), splat))
}

fn is_name_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(text: &str) -> Redirects {
        let (rules, skipped) = parse(text.as_bytes());
        assert!(skipped.is_empty(), "{skipped:?}");
        Redirects::compile(rules)
    }

    /// Where `path?query` goes: "3xx LOCATION", "200 PATH", "404 PATH", or
    /// "-" for no rule; forced rules first, then the others, then 404s.
    fn route(redirects: &Redirects, target: &str) -> String {
        let (path, query) = target.split_once('?').map_or((target, None), |(p, q)| (p, Some(q.as_bytes())));
        let rule = redirects.forced(path.as_bytes()).or(redirects.normal(path.as_bytes()));
        let Some(rule) = rule.or(redirects.missing(path.as_bytes())) else { return "-".into() };
        let mut out = Vec::new();
        let code = match rule.status {
            Status::Redirect(code) => {
                let head = match (rule.fixed(), query) {
                    (Some(entry), None) => entry.head_ok.to_vec(),
                    _ => rule.redirect_head(code, path.as_bytes(), query).to_vec(),
                };
                let at = head.windows(10).position(|w| w == b"Location: ").unwrap() + 10;
                let end = head[at..].iter().position(|&b| b == b'\r').unwrap() + at;
                out.extend_from_slice(&head[at..end]);
                code
            }
            Status::Rewrite => {
                rule.destination(path.as_bytes(), &mut out);
                200
            }
            Status::NotFound => {
                rule.destination(path.as_bytes(), &mut out);
                404
            }
        };
        format!("{code} {}", String::from_utf8(out).unwrap())
    }

    #[test]
    fn requests_meet_the_first_rule_that_matches() {
        let file = "\
# Netlify's examples, and mote's own
/home              /
/blog/my-post.php  /blog/my-post   # a comment after a rule
/news/*            /blog/:splat
/cuties            https://www.petsofnetlify.com
/articles/:year/:month/:slug /posts/:year-:month/:slug.html 302
/old/*             /new/:splat 307
/a                 /a 200
/app/*             /app/index.html 200
/en/*              /en/404.html 404
/shop/:id          /store?item=:id 308
/docs              /guide#top 303
/forced            /elsewhere 301!
/first             /one
/first             /two
/port              https://example.com:8443/:port
/spaces/*          /s/:splat
";
        let redirects = rules(file);
        let rows: &[(&str, &str)] = &[
            ("/home", "301 /"),
            ("/home/", "301 /"), // Netlify: a trailing slash matches alike
            ("/blog/my-post.php", "301 /blog/my-post"),
            ("/news/2004/02/12/title", "301 /blog/2004/02/12/title"),
            ("/news", "301 /blog/"), // a splat matches nothing too
            ("/news?x=1", "301 /blog/?x=1"),
            ("/newsy", "-"),
            ("/cuties", "301 https://www.petsofnetlify.com"),
            ("/cuties?a=b&c", "301 https://www.petsofnetlify.com?a=b&c"),
            ("/articles/2024/05/hello", "302 /posts/2024-05/hello.html"),
            ("/articles/2024/05", "-"),
            ("/articles/2024/05/hello/more", "-"),
            ("/old/a/b", "307 /new/a/b"),
            ("/a", "200 /a"),
            ("/app/deep/route", "200 /app/index.html"),
            ("/en/missing", "404 /en/404.html"),
            ("/shop/42", "308 /store?item=42"),
            ("/shop/42?ref=x", "308 /store?item=42&ref=x"), // the request's query joins TO's
            ("/docs?q=1", "303 /guide?q=1#top"),            // before the fragment
            ("/forced", "301 /elsewhere"),
            ("/first", "301 /one"), // the first of two rules for one path
            ("/port", "301 https://example.com:8443/:port"),
            ("/spaces/a b/%", "301 /s/a%20b/%25"), // captures are percent-encoded
            ("/", "-"),
        ];
        for &(target, want) in rows {
            assert_eq!(route(&redirects, target), want, "{target}");
        }
        assert!(redirects.forced(b"/forced").is_some() && redirects.forced(b"/home").is_none());
        assert!(redirects.normal(b"/en/x").is_none(), "404 rules wait for --spa");
    }

    #[test]
    fn check_lists_rules_as_they_match() {
        let (rules, _) = parse(b"/ /home 302!\n/* /all 200\n/a/:b/* https://x.example/:b/:splat\n/c%20d/ /e\n");
        let lines: Vec<String> = rules.iter().map(Rule::describe).collect();
        let want = [
            "_redirects:1: / -> /home 302!",
            "_redirects:2: /* -> /all 200",
            "_redirects:3: /a/:b/* -> https://x.example/:b/:splat 301",
            "_redirects:4: /c d -> /e 301",
        ];
        assert_eq!(lines, want);
    }

    #[test]
    fn a_byte_order_mark_and_crlf_lines_are_read() {
        let redirects = rules("\u{feff}/a /b\r\n/c /d 302\r\n");
        assert_eq!((route(&redirects, "/a"), route(&redirects, "/c")), ("301 /b".into(), "302 /d".into()));
    }

    #[test]
    fn the_root_splat_and_order_across_keys() {
        let redirects = rules("/a/b/* /deep\n/* /all 302\n/a/* /shallow\n/:x/b /named\n");
        let rows: &[(&str, &str)] = &[
            ("/", "302 /all"),
            ("/a/b/c", "301 /deep"),
            ("/a/c", "302 /all"), // /* comes before /a/* in the file
            ("/z/b", "302 /all"),
        ];
        for &(target, want) in rows {
            assert_eq!(route(&redirects, target), want, "{target}");
        }
        let redirects = rules("/:x/b /named\n/a/* /shallow\n");
        assert_eq!(route(&redirects, "/a/b"), "301 /named");
        assert_eq!(route(&redirects, "/a/c"), "301 /shallow");
    }

    #[test]
    fn lines_mote_does_not_follow_are_named() {
        let rows: &[(&str, &str)] = &[
            ("/a /b 500", "a status other than 200, 301, 302, 303, 307, 308 or 404"),
            ("/a /b 30x!", "a status other than 200, 301, 302, 303, 307, 308 or 404"),
            ("/a /b !", "a status other than 200, 301, 302, 303, 307, 308 or 404"),
            ("/a/*/b /c", "a splat (*) only at the end of FROM"),
            ("/a* /c", "a splat (*) is a whole segment: /path/*"),
            ("/a/:/b /c", "a placeholder is a colon and a name of letters, digits or _"),
            ("/store id=:id /blog/:id 301", "query conditions are not supported"),
            ("/ /anz 302 Country=au,nz", "country, language, role and cookie conditions are not supported"),
            ("/admin/* /admin 200! Role=admin", "country, language, role and cookie conditions are not supported"),
            (
                "/api/* https://api.example.com/:splat 200",
                "serving another origin's content (proxying) is not supported",
            ),
            (
                "https://old.example/* https://new.example/:splat 301!",
                "a full URL as FROM is not supported: mote matches paths",
            ),
            ("/a", "no TO after FROM"),
            ("a /b", "FROM must be a path starting with /"),
            ("/a b", "TO must be a path starting with / or an http(s) URL"),
            ("/a /b 301 extra", "more after the status"),
            ("/%zz /b", "FROM is not a path a request can have (a bad escape, a control byte)"),
        ];
        for &(line, why) in rows {
            let text = format!("# first\n\n{line}\n/ok /fine\n");
            let (rules, skipped) = parse(text.as_bytes());
            assert_eq!(skipped, [Skipped { line: 3, why }], "{line}");
            assert_eq!((rules.len(), rules[0].line), (1, 4), "{line}");
        }
        let long = format!("/a /{}\n", "b".repeat(MAX_LINE_BYTES));
        assert_eq!(parse(long.as_bytes()).1[0].why, "longer than 4096 bytes");
    }

    #[test]
    fn locations_carry_no_bytes_a_header_must_not() {
        let (rules, _) = parse("/a /caf\u{e9}\x7f?\n/b/* https://x.example/:splat\n".as_bytes());
        let redirects = Redirects::compile(rules);
        assert_eq!(route(&redirects, "/a"), "301 /caf%C3%A9%7F?");
        assert_eq!(route(&redirects, "/b/\r\n"), "301 https://x.example/%0D%0A");
    }

    #[test]
    fn every_rule_meets_every_odd_path_without_a_panic() {
        let file = "/* /a/:splat\n/:x /b/:x\n/:x/* /c/:x/:splat\n/d/:y/:z /e/:z/:y?q=:y#:z\n/ /f\n/g/* /h 200\n";
        let redirects = rules(file);
        let paths = ["/", "", "//", "/d", "/d/", "/d/1", "/d/1/2", "/d/1/2/3", "/g", "/:x", "/%", "/a b/c d/"];
        for path in paths {
            for query in [None, Some(&b"a=1"[..]), Some(b"")] {
                for rule in &redirects.rules {
                    let mut out = Vec::new();
                    rule.location(path.as_bytes(), query, &mut out);
                    assert!(out.iter().all(|&b| (0x21..0x7f).contains(&b)), "{path}: {out:?}");
                }
            }
            assert!(redirects.normal(path.as_bytes()).is_some(), "{path}: /* matches every path");
        }
    }

    #[test]
    fn many_rules_load_and_match() {
        let mut file = String::new();
        for n in 0..10_000 {
            file.push_str(&format!("/old/{n} /new/{n}\n/prefix{n}/* /to/{n}/:splat 302\n"));
        }
        let redirects = rules(&file);
        assert_eq!(route(&redirects, "/old/9999"), "301 /new/9999");
        assert_eq!(route(&redirects, "/prefix5000/x/y"), "302 /to/5000/x/y");
        assert_eq!(route(&redirects, "/old/10000"), "-");
    }
}
