//! Checks of the test harness itself (date formatting, response parsing),
//! so a harness bug is not mistaken for a server bug.

use crate::common::*;

#[test]
fn imf_fixdate_round_trips() {
    assert_eq!(imf_fixdate(FIXED_MTIME), FIXED_LM);
    assert_eq!(parse_imf_fixdate(FIXED_LM), Some(FIXED_MTIME));
    assert_eq!(imf_fixdate(784111777), "Sun, 06 Nov 1994 08:49:37 GMT");
    assert_eq!(parse_imf_fixdate("Mon, 06 Nov 1994 08:49:37 GMT"), None);
}

#[test]
fn parses_pipelined_responses() {
    let bytes = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhiHTTP/1.1 304 Not Modified\r\nETag: \"x\"\r\n\r\nHTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n";
    let rs = parse_all(bytes);
    assert_eq!(statuses(&rs), vec![200, 304, 404]);
    assert_eq!(rs[0].body, b"hi");
    assert_eq!(rs[1].header("etag"), Some("\"x\""));
}

#[test]
fn exchange_reads_every_response_until_close() {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let t = std::thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        let mut buf = [0u8; 1024];
        let _ = s.read(&mut buf).unwrap();
        s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc").unwrap();
        std::thread::sleep(std::time::Duration::from_millis(50));
        s.write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n").unwrap();
    });
    let rs = exchange(addr, get("/"));
    t.join().unwrap();
    assert_eq!(statuses(&rs), vec![200, 404]);
    assert_eq!(rs[0].body, b"abc");
    assert!(rs[1].connection_has("close"));
    assert!(!rs[0].connection_has("close"));
}

#[test]
fn temp_site_has_fixed_mtimes_and_links() {
    let site = Site::standard();
    let meta = std::fs::metadata(site.root().join("letters.txt")).unwrap();
    let secs = meta.modified().unwrap().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    assert_eq!(secs, FIXED_MTIME);
    assert_eq!(std::fs::read_to_string(site.root().join("link-secret.txt")).unwrap(), SECRET);
    assert!(site.root().join("outdir/file.txt").exists());
    let base = site.base.path().to_path_buf();
    drop(site);
    assert!(!base.exists(), "temp dir removed on drop");
}
