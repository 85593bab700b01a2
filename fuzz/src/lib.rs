//! What the fuzz targets share: a parse outcome that can be compared across
//! buffers.

use mote::http::request::{self, Parse, Request};

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
