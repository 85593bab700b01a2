//! Arbitrary bytes -> request::parse: never panics; a Complete head lies
//! inside the input and within MAX_HEAD.
#![no_main]
use libfuzzer_sys::fuzz_target;
use mote::http::request::{self, Parse, MAX_HEAD};

fuzz_target!(|data: &[u8]| {
    if let Parse::Complete(req, len) = request::parse(data) {
        assert!(len <= data.len(), "head length {len} > input {}", data.len());
        assert!(len <= MAX_HEAD, "head length {len} > MAX_HEAD");
        assert!(len > 0);
        assert!(req.body_len <= request::MAX_DISCARDED_BODY);
    }
});
