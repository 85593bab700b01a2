//! Writing a connection's replies with as few system calls as possible: a
//! lone reply the worker holds whole goes in one `send`, a pipelined burst is
//! gathered into one `sendmsg`, and a body held as a file goes by `sendfile`.
//! A write the socket takes only part of is carried on from the same byte
//! next time, so replies can be written across many wake-ups.
#![forbid(unsafe_code)]

use std::io::{self, IoSlice};

use mio::net::TcpStream;

use crate::answer::reply::{BodyRef, Reply};
use crate::answer::whole::Whole;
use crate::sys;

/// Slices handed to one `sendmsg`.
const MAX_IOVECS: usize = 64;
/// Slices of one reply: head, `--header` lines, tail, body.
const REPLY_PARTS: usize = 4;
/// Largest single `sendfile` (fits a 32-bit size_t on the Pi).
const MAX_SENDFILE: usize = 1 << 30;

/// Writes `queue` from `*written` bytes into its first reply until it is
/// empty (Ok(true)) or the socket is full (Ok(false)). A lone reply the
/// worker holds whole goes in one `send`; a burst is gathered instead.
pub fn write_queue(
    stream: &TcpStream,
    queue: &mut Vec<Reply>,
    written: &mut u64,
    whole: &mut Whole,
) -> io::Result<bool> {
    while !queue.is_empty() {
        let whole_reply = match queue.as_slice() {
            [only] if *written == 0 => only.copied().or_else(|| whole.bytes(only)),
            _ => None,
        };
        // Only as many slices as the queue can use are set up: filling all
        // MAX_IOVECS for a lone reply, which uses four, is a measurable share
        // of a request's own work.
        let result = match whole_reply {
            Some(bytes) => sys::send(stream, bytes.as_slice()),
            None if queue.len() == 1 => gather(stream, queue, *written, &mut [IoSlice::new(&[]); REPLY_PARTS]),
            None => gather(stream, queue, *written, &mut [IoSlice::new(&[]); MAX_IOVECS]),
        };
        match result {
            // A file that shrank since it was loaded cannot fill its Content-Length.
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => advance(queue, written, n),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(true)
}

/// Counts `n` more bytes of the queue written, dropping the replies that
/// are now written whole.
#[inline(always)]
pub fn advance(queue: &mut Vec<Reply>, written: &mut u64, n: usize) {
    *written += n as u64;
    let mut done = 0;
    while done < queue.len() && queue[done].total_len() <= *written {
        *written -= queue[done].total_len();
        done += 1;
    }
    queue.drain(..done);
}

/// One write of the queue's next bytes, gathered into `slices`.
fn gather<'a>(stream: &TcpStream, queue: &'a [Reply], written: u64, slices: &mut [IoSlice<'a>]) -> io::Result<usize> {
    match next_write(queue, written, slices) {
        NextWrite::Slices(count) => sys::send_vectored(stream, &slices[..count]),
        NextWrite::File { file, offset, len } => {
            sys::sendfile(stream, file, offset, len.min(MAX_SENDFILE as u64) as usize)
        }
    }
}

enum NextWrite<'a> {
    /// This many of the slices are filled.
    Slices(usize),
    File {
        file: &'a std::fs::File,
        offset: u64,
        len: u64,
    },
}

/// The next system call's worth of output: memory parts gathered for one
/// `sendmsg`, up to the first file body, which goes alone to `sendfile`.
fn next_write<'a>(queue: &'a [Reply], written: u64, slices: &mut [IoSlice<'a>]) -> NextWrite<'a> {
    let mut count = 0;
    let mut skip = written;
    for reply in queue {
        for part in [reply.head(), reply.extra(), reply.tail()] {
            if skip >= part.len() as u64 {
                skip -= part.len() as u64; // written, or empty
            } else if count < slices.len() {
                slices[count] = IoSlice::new(&part[skip as usize..]);
                skip = 0;
                count += 1;
            }
        }
        match reply.body() {
            BodyRef::Memory(bytes) => {
                if skip >= bytes.len() as u64 {
                    skip -= bytes.len() as u64;
                } else if count < slices.len() {
                    slices[count] = IoSlice::new(&bytes[skip as usize..]);
                    skip = 0;
                    count += 1;
                }
            }
            BodyRef::File { file, start, end } => {
                if count == 0 && skip < end - start {
                    return NextWrite::File { file, offset: start + skip, len: end - start - skip };
                }
                if skip < end - start {
                    break;
                }
                skip -= end - start;
            }
        }
        if count + REPLY_PARTS > slices.len() {
            break;
        }
    }
    NextWrite::Slices(count)
}
