//! range::parse(value, len): a Partial range lies inside the representation.
#![no_main]
use libfuzzer_sys::fuzz_target;
use mote::http::range::{self, ByteRange};

fuzz_target!(|data: &[u8]| {
    if data.len() < 8 {
        return;
    }
    let (len, value) = data.split_at(8);
    let raw = u64::from_le_bytes(len.try_into().unwrap());
    // Small lengths half the time: they are where off-by-ones live.
    let len = if raw & 1 == 0 { (raw >> 1) % 64 } else { raw >> 1 };
    match range::parse(value, len) {
        ByteRange::Partial { first, last } => {
            assert!(first <= last, "first {first} > last {last}");
            assert!(last < len, "last {last} outside a file of {len}");
        }
        ByteRange::Unsatisfiable | ByteRange::Whole => {}
    }
});
