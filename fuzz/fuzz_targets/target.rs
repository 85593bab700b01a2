//! target::split + target::normalize: an accepted path starts with '/', has
//! no `.` or `..` segment and no empty one, and is UTF-8 without control
//! bytes; the `hidden` flag says exactly whether a segment starts with '.',
//! `/.well-known` at the root (RFC 8615) excepted.
//! normalize is also fed the raw bytes, past split's character checks, behind
//! the '/' that split guarantees (normalize writes in place and relies on it).
#![no_main]
use libfuzzer_sys::fuzz_target;
use mote::http::target::{self, Target};

fuzz_target!(|data: &[u8]| {
    let mut out = Vec::new();
    if let Some(Target::Path { path, query }) = target::split(data) {
        assert!(!path.is_empty());
        assert!(query.is_none_or(|q| !q.contains(&b'#')));
        check(path, &mut out);
    }
    let mut raw = Vec::with_capacity(data.len() + 1);
    raw.push(b'/');
    raw.extend_from_slice(data);
    check(&raw, &mut out);
});

fn check(path: &[u8], out: &mut Vec<u8>) {
    let Ok(normalized) = target::normalize(path, out) else {
        return;
    };
    let text = std::str::from_utf8(out).expect("normalised path is not UTF-8");
    assert!(text.starts_with('/'), "{text:?} does not start with /");
    assert!(!text.contains("//"), "{text:?} has an empty segment");
    assert!(!text.bytes().any(|b| b < 0x20 || b == 0x7f), "{text:?} has a control byte");
    let inner = text.strip_suffix('/').unwrap_or(text);
    for segment in inner.split('/').skip(1) {
        assert!(segment != "." && segment != "..", "{text:?} has a dot segment");
        assert!(!segment.is_empty() || text == "/", "{text:?} has an empty segment");
    }
    assert!(!text.contains("/../") && !text.contains("/./") && !text.ends_with("/..") && !text.ends_with("/."));
    let below = text.strip_prefix("/.well-known").filter(|rest| rest.is_empty() || rest.starts_with('/'));
    assert_eq!(normalized.hidden, below.unwrap_or(text).contains("/."), "{text:?}: hidden flag");
}
