//! The precomputed head of one file: status line and representation headers
//! (RFC 9110 §8), built once per file so serving it is copying bytes.
//!
//! Part of the `mote-site` crate, which `build.rs` shares: the embedded site's
//! heads are built at compile time by exactly this code, `--root` sites at
//! start-up. A head ends after its last header line; the per-response tail
//! (Date, Connection, the empty line) follows it in the same write.

use crate::date::format_imf_fixdate;

/// Quoted strong entity-tag: `"` + 16 hex digits + `"`.
pub type EntityTag = [u8; 18];

/// What the heads of one file are built from.
pub struct Representation<'a> {
    pub content_type: &'a str,
    /// `gzip` or `br` for a precompressed variant.
    pub content_encoding: Option<&'a str>,
    /// The resource has precompressed variants: every one of them, the
    /// identity one too, says the answer depends on Accept-Encoding.
    pub vary: bool,
    /// `--cors` names its origins: whether the answer carries
    /// Access-Control-Allow-Origin depends on the request's Origin, and a
    /// cache must not hand one origin's copy to another.
    pub vary_origin: bool,
    /// Empty for none.
    pub cache_control: &'a str,
    pub len: u64,
    pub last_modified: u64,
    pub etag: EntityTag,
}

/// The two heads a file is served with, and where the headers shared with a
/// 206 start inside `ok` (after the status line and Content-Length).
pub struct Heads {
    pub ok: Vec<u8>,
    pub shared_from: usize,
    pub not_modified: Vec<u8>,
}

pub const NOSNIFF: &str = "X-Content-Type-Options: nosniff\r\n";

impl Representation<'_> {
    pub fn heads(&self) -> Heads {
        let mut ok = b"HTTP/1.1 200 OK\r\nContent-Length: ".to_vec();
        ok.extend_from_slice(itoa::Buffer::new().format(self.len).as_bytes());
        ok.extend_from_slice(b"\r\n");
        let shared_from = ok.len();
        push_header(&mut ok, "Content-Type", self.content_type);
        if let Some(coding) = self.content_encoding {
            push_header(&mut ok, "Content-Encoding", coding);
        }
        ok.extend_from_slice(b"Accept-Ranges: bytes\r\n");
        let validators_from = ok.len();
        if !self.cache_control.is_empty() {
            push_header(&mut ok, "Cache-Control", self.cache_control);
        }
        // RFC 9110 §12.5.5: one Vary field listing both.
        ok.extend_from_slice(match (self.vary, self.vary_origin) {
            (true, true) => b"Vary: Accept-Encoding, Origin\r\n",
            (true, false) => b"Vary: Accept-Encoding\r\n",
            (false, true) => b"Vary: Origin\r\n",
            (false, false) => b"",
        });
        self.push_validators(&mut ok);
        let mut not_modified = b"HTTP/1.1 304 Not Modified\r\n".to_vec();
        not_modified.extend_from_slice(&ok[validators_from..]);
        Heads { ok, shared_from, not_modified }
    }

    /// RFC 9110 §15.4.5: a 304 carries the validators (and Cache-Control
    /// and Vary) a 200 would.
    fn push_validators(&self, head: &mut Vec<u8>) {
        head.extend_from_slice(b"Last-Modified: ");
        head.extend_from_slice(&format_imf_fixdate(self.last_modified));
        head.extend_from_slice(b"\r\nETag: ");
        head.extend_from_slice(&self.etag);
        head.extend_from_slice(b"\r\n");
        head.extend_from_slice(NOSNIFF.as_bytes());
    }
}

fn push_header(head: &mut Vec<u8>, name: &str, value: &str) {
    head.extend_from_slice(name.as_bytes());
    head.extend_from_slice(b": ");
    head.extend_from_slice(value.as_bytes());
    head.extend_from_slice(b"\r\n");
}

/// A strong entity-tag from a content hash (64-bit FNV-1a over the bytes,
/// folded with their length): the same bytes always give the same tag, so
/// revalidation survives restarts, rebuilds and a Pi's clock jumping.
pub fn entity_tag(content: &[u8]) -> EntityTag {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for &byte in content {
        hash = (hash ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3);
    }
    quoted_hex(hash ^ (content.len() as u64).rotate_left(32))
}

pub fn quoted_hex(value: u64) -> EntityTag {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut tag = [b'"'; 18];
    for (i, slot) in tag[1..17].iter_mut().enumerate() {
        *slot = HEX[(value >> (60 - 4 * i) & 0xf) as usize];
    }
    tag
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_ok_and_not_modified_heads() {
        let rep = Representation {
            content_type: "text/css; charset=utf-8",
            content_encoding: None,
            vary: false,
            vary_origin: false,
            cache_control: "",
            len: 12,
            last_modified: 784_111_777,
            etag: quoted_hex(0xab),
        };
        let heads = rep.heads();
        assert_eq!(
            String::from_utf8(heads.ok.clone()).unwrap(),
            "HTTP/1.1 200 OK\r\nContent-Length: 12\r\nContent-Type: text/css; charset=utf-8\r\n\
             Accept-Ranges: bytes\r\nLast-Modified: Sun, 06 Nov 1994 08:49:37 GMT\r\n\
             ETag: \"00000000000000ab\"\r\nX-Content-Type-Options: nosniff\r\n"
        );
        assert!(heads.ok[heads.shared_from..].starts_with(b"Content-Type: "));
        assert_eq!(
            String::from_utf8(heads.not_modified).unwrap(),
            "HTTP/1.1 304 Not Modified\r\nLast-Modified: Sun, 06 Nov 1994 08:49:37 GMT\r\n\
             ETag: \"00000000000000ab\"\r\nX-Content-Type-Options: nosniff\r\n"
        );
    }

    #[test]
    fn variants_say_their_coding_and_vary() {
        let rep = Representation {
            content_type: "text/css; charset=utf-8",
            content_encoding: Some("br"),
            vary: true,
            vary_origin: false,
            cache_control: "no-cache",
            len: 3,
            last_modified: 0,
            etag: quoted_hex(1),
        };
        let heads = rep.heads();
        let ok = String::from_utf8(heads.ok).unwrap();
        assert!(ok.contains("Content-Encoding: br\r\n") && ok.contains("Vary: Accept-Encoding\r\n"), "{ok}");
        let not_modified = String::from_utf8(heads.not_modified).unwrap();
        assert!(not_modified
            .starts_with("HTTP/1.1 304 Not Modified\r\nCache-Control: no-cache\r\nVary: Accept-Encoding\r\n"));
        assert!(!not_modified.contains("Content-Encoding"));
    }

    #[test]
    fn vary_is_one_field() {
        let rows = [
            (true, true, "Vary: Accept-Encoding, Origin\r\n"),
            (true, false, "Vary: Accept-Encoding\r\n"),
            (false, true, "Vary: Origin\r\n"),
            (false, false, ""),
        ];
        for (vary, vary_origin, line) in rows {
            let rep = Representation {
                content_type: "text/plain",
                content_encoding: None,
                vary,
                vary_origin,
                cache_control: "",
                len: 0,
                last_modified: 0,
                etag: quoted_hex(0),
            };
            let heads = rep.heads();
            for head in [heads.ok, heads.not_modified] {
                let head = String::from_utf8(head).unwrap();
                assert_eq!(head.matches("Vary").count(), usize::from(!line.is_empty()), "{head}");
                assert!(head.contains(line), "{head}");
            }
        }
    }

    #[test]
    fn entity_tags_follow_content() {
        assert_eq!(entity_tag(b"hello"), entity_tag(b"hello"));
        assert_ne!(entity_tag(b"hello"), entity_tag(b"hellp"));
        assert_ne!(entity_tag(b""), entity_tag(b"\0"));
        assert_eq!(&quoted_hex(u64::MAX), b"\"ffffffffffffffff\"");
    }
}
