//! A head at the front of a connection's input, answered: recalled from the
//! memo when the same bytes were answered before, otherwise parsed
//! (`http::request`) and routed (`router`). Beside the answer it says how
//! long the head was, what it asked of the connection, and where the answer
//! came from, which the access log and the memo need.
#![forbid(unsafe_code)]

use crate::answer::memo::Memo;
use crate::answer::reply::Answer;
use crate::answer::router::{self, Router};
use crate::http::request::{self, Parse, Request};

/// What a head said about the connection it came on.
#[derive(Clone, Copy)]
pub struct Persistence {
    /// Another request may follow this one.
    pub keep_alive: bool,
    /// The client asked to close and sent no body, so it sends nothing after
    /// this request (RFC 9112 §9.6): a plain close loses nothing.
    pub quiet: bool,
    /// HTTP/1.0: keep-alive must be confirmed in the reply.
    pub http10: bool,
}

/// A head at the front of the input, answered.
pub struct Answered<'b> {
    pub answer: Answer,
    /// Bytes of input the head took (none for a rejected one: the
    /// connection closes after it).
    pub head_len: usize,
    /// Bytes of body that follow the head, to be read and thrown away.
    pub body_len: u64,
    pub persistence: Persistence,
    pub source: Source<'b>,
}

/// Where an answer came from, for the access log and the memo.
#[allow(clippy::large_enum_variant)] // lives on the stack for one request, never stored
pub enum Source<'b> {
    /// The head in this memo slot, which keeps its access-line part too.
    Recalled(usize),
    /// A head that could not be accepted.
    Rejected,
    /// A parsed head; `remember` is a share of its answer when the memo may
    /// keep it.
    Parsed { request: Request<'b>, remember: Option<Answer> },
}

impl<'b> Source<'b> {
    pub fn request(&self) -> Option<&Request<'b>> {
        match self {
            Source::Parsed { request, .. } => Some(request),
            Source::Recalled(_) | Source::Rejected => None,
        }
    }
}

/// The answer to the head at the front of `input`: recalled from the memo's
/// `slot`, or parsed and routed; None while the head is incomplete. Out of
/// line: parsing costs far more than the call, and the connection's loop for
/// a head the memo holds whole stays small.
#[inline(never)]
pub fn answer<'b>(
    input: &'b [u8],
    slot: Option<usize>,
    memo: &Memo,
    router: &Router,
    path: &mut Vec<u8>,
) -> Option<Answered<'b>> {
    if let Some((at, seen)) = slot.and_then(|at| memo.recall(at).map(|seen| (at, seen))) {
        // Only heads without a body are remembered.
        let persistence = Persistence { keep_alive: seen.keep_alive, quiet: !seen.keep_alive, http10: seen.http10 };
        let source = Source::Recalled(at);
        return Some(Answered { answer: seen.answer, head_len: seen.head_len, body_len: 0, persistence, source });
    }
    match request::parse(input) {
        Parse::Partial => None,
        Parse::Rejected(rejection) => {
            let head_only = request::trim_blank_lines(input).starts_with(b"HEAD ");
            let answer = router::reject(rejection, router.catalog, head_only);
            let persistence = Persistence { keep_alive: false, quiet: false, http10: false };
            Some(Answered { answer, head_len: 0, body_len: 0, persistence, source: Source::Rejected })
        }
        Parse::Complete(request, head_len) => {
            let answer = router::answer(&request, &input[..head_len], router, path);
            let persistence = Persistence {
                // A client waiting for 100-continue may never send the body
                // it announced: close rather than wait for it.
                keep_alive: request.keep_alive && !request.expects_continue,
                quiet: !request.keep_alive && request.body_len == 0,
                http10: request.http10,
            };
            let remember = if request.body_len == 0 { answer.share() } else { None };
            let body_len = request.body_len;
            Some(Answered { answer, head_len, body_len, persistence, source: Source::Parsed { request, remember } })
        }
    }
}
