//! bare-ref --listen ADDR --page FILE: answers every request head (anything up to
//! an empty line) on a keep-alive connection with FILE behind a fixed 200 head.
//! No parsing, no routing, no Date: the floor a real server's CPU per request is
//! compared with in bench/RESULTS.md.

use std::io::{ErrorKind, Read, Write};

use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll, Token};

const LISTENER: Token = Token(usize::MAX);

fn main() {
    let mut args = std::env::args().skip(1);
    let (mut listen, mut page) = (String::from("127.0.0.1:8080"), String::new());
    while let Some(flag) = args.next() {
        match flag.as_str() {
            "--listen" => listen = args.next().expect("--listen ADDR"),
            "--page" => page = args.next().expect("--page FILE"),
            _ => panic!("unknown flag {flag}"),
        }
    }
    let body = std::fs::read(&page).expect("--page FILE");
    let mut response =
        format!("HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: {}\r\n\r\n", body.len()).into_bytes();
    response.extend_from_slice(&body);

    let mut listener = TcpListener::bind(listen.parse().expect("--listen ADDR")).expect("bind");
    eprintln!("listening on http://{}", listener.local_addr().unwrap());
    let mut poll = Poll::new().unwrap();
    poll.registry().register(&mut listener, LISTENER, Interest::READABLE).unwrap();
    let mut conns: Vec<Option<TcpStream>> = Vec::new();
    let mut events = Events::with_capacity(1024);
    let mut buf = vec![0u8; 32 * 1024];
    loop {
        if let Err(e) = poll.poll(&mut events, None) {
            assert_eq!(e.kind(), ErrorKind::Interrupted);
            continue;
        }
        for event in events.iter() {
            if event.token() == LISTENER {
                while let Ok((mut stream, _)) = listener.accept() {
                    let _ = stream.set_nodelay(true);
                    let index = conns.iter().position(Option::is_none).unwrap_or_else(|| {
                        conns.push(None);
                        conns.len() - 1
                    });
                    poll.registry().register(&mut stream, Token(index), Interest::READABLE).unwrap();
                    conns[index] = Some(stream);
                }
                continue;
            }
            let index = event.token().0;
            let Some(stream) = conns[index].as_mut() else { continue };
            // A short read empties the socket (edge-triggered): no EAGAIN read.
            let keep = match stream.read(&mut buf) {
                Ok(0) => false,
                Ok(n) => {
                    let heads = buf[..n].windows(4).filter(|w| w == b"\r\n\r\n").count();
                    (0..heads).all(|_| stream.write_all(&response).is_ok())
                }
                Err(e) => e.kind() == ErrorKind::WouldBlock || e.kind() == ErrorKind::Interrupted,
            };
            if !keep {
                conns[index] = None;
            }
        }
    }
}
