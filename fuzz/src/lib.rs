//! mote's pure parsing modules, compiled from ../src as they are, for the
//! fuzz targets in fuzz_targets/. mote is a binary crate, so they are
//! included by path; each needs only std, httparse and `crate::request`.
#![allow(dead_code)]
// target::normalize returns Result<_, ()> in mote, which is clippy-clean under its own settings.
#![allow(clippy::result_unit_err)]

#[path = "../../src/range.rs"]
pub mod range;
#[path = "../../src/request.rs"]
pub mod request;
#[path = "../../src/target.rs"]
pub mod target;

use request::{Parse, Request};

/// A parse outcome flattened to something comparable across buffers: a
/// `Request` borrows from its buffer, so it is compared by its Debug text
/// (every field is bytes of the buffer or a plain value).
#[derive(Debug, PartialEq)]
pub enum Outcome {
    Partial,
    Complete(String, usize),
    Rejected(request::Rejection),
}

pub fn outcome(buf: &[u8]) -> Outcome {
    match request::parse(buf) {
        Parse::Partial => Outcome::Partial,
        Parse::Complete(req, len) => Outcome::Complete(describe(&req), len),
        Parse::Rejected(why) => Outcome::Rejected(why),
    }
}

fn describe(req: &Request) -> String {
    format!("{req:?}")
}
