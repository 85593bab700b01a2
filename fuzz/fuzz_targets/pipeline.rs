//! Many requests in one buffer, consumed the way `net/conn.rs` does it: parse
//! a head, skip its Content-Length body, go on. Consumption strictly advances,
//! so the loop always ends, and never runs past the buffer.
#![no_main]
use libfuzzer_sys::fuzz_target;
use mote::http::request::{self, Parse};

fuzz_target!(|data: &[u8]| {
    let mut used = 0usize;
    let mut rounds = 0usize;
    loop {
        rounds += 1;
        assert!(rounds <= data.len() + 1, "more rounds than bytes: no progress");
        match request::parse(&data[used..]) {
            Parse::Complete(req, head_len) => {
                assert!(head_len > 0 && used + head_len <= data.len());
                let before = used;
                used += head_len;
                let body = req.body_len.min((data.len() - used) as u64) as usize;
                used += body;
                assert!(used > before && used <= data.len());
            }
            Parse::Partial | Parse::Rejected(_) => break,
        }
    }
});
