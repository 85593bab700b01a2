//! The same bytes fed as a growing prefix, as reads deliver them: the first
//! prefix that parses to anything but Partial decides the outcome, and it
//! must be what parsing the whole buffer at once gives. So where a head is
//! split across reads never changes what the server does with it.
#![no_main]
use libfuzzer_sys::fuzz_target;
use mote::http::request::Rejection::{self, *};
use mote_fuzz::{outcome, Outcome};

/// Rejections that may legitimately be decided earlier than the whole:
/// a limit reached before a later error is seen.
fn limit(why: &Rejection) -> bool {
    matches!(why, HeadTooLarge | UriTooLong)
}

fuzz_target!(|data: &[u8]| {
    let data = &data[..data.len().min(20 * 1024)];
    let whole = outcome(data);
    for end in 0..data.len() {
        match outcome(&data[..end]) {
            Outcome::Partial => {}
            Outcome::Rejected(why) if limit(&why) && matches!(whole, Outcome::Rejected(_)) => return,
            early => {
                assert_eq!(early, whole, "prefix of {end} bytes decided differently from the whole {}", data.len());
                return;
            }
        }
    }
});
