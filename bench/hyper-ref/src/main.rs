//! hyper-ref: the reference Rust server of `make bench`. One precomputed page
//! (`--page FILE`, or a built-in ~6 KB page) answered from memory to every
//! request, HTTP/1.1 keep-alive, one tokio current-thread runtime.
//!
//! Usage: hyper-ref [--listen ADDR] [--page FILE] [--tls-cert PEM --tls-key PEM]
//! Prints `listening on http://ADDR` (or `https://`) on stderr once bound. The
//! TLS flags need a build with `--features tls` (tokio-rustls, ring).

use std::convert::Infallible;
use std::net::SocketAddr;

use bytes::Bytes;
use http_body_util::Full;
use hyper::header::{HeaderValue, CONTENT_TYPE};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;

#[cfg(feature = "tls")]
mod tls;

fn default_page() -> Vec<u8> {
    let mut page = String::from("<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>bench</title></head><body>\n");
    let mut i = 0;
    while page.len() < 6000 {
        page.push_str(&format!("<p>Line {i:04}: the quick brown fox jumps over the lazy dog.</p>\n"));
        i += 1;
    }
    page.push_str("</body></html>\n");
    page.into_bytes()
}

fn main() {
    let mut listen: SocketAddr = "127.0.0.1:8080".parse().unwrap();
    let mut page: Option<Vec<u8>> = None;
    let (mut tls_cert, mut tls_key) = (None::<String>, None::<String>);
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args.next().unwrap_or_else(|| die(&format!("{flag}: missing value")));
        match flag.as_str() {
            "--listen" => listen = value.parse().unwrap_or_else(|_| die(&format!("--listen {value}: not IP:port"))),
            "--page" => page = Some(std::fs::read(&value).unwrap_or_else(|e| die(&format!("--page {value}: {e}")))),
            "--tls-cert" => tls_cert = Some(value),
            "--tls-key" => tls_key = Some(value),
            _ => die(&format!("unknown flag {flag}")),
        }
    }
    #[cfg(feature = "tls")]
    let acceptor = match (tls_cert, tls_key) {
        (Some(cert), Some(key)) => Some(tls::acceptor(&cert, &key).unwrap_or_else(|e| die(&e))),
        (None, None) => None,
        _ => die("--tls-cert and --tls-key go together"),
    };
    #[cfg(not(feature = "tls"))]
    if tls_cert.is_some() || tls_key.is_some() {
        die("built without TLS (cargo build --features tls)");
    }
    #[cfg(feature = "tls")]
    let scheme = if acceptor.is_some() { "https" } else { "http" };
    #[cfg(not(feature = "tls"))]
    let scheme = "http";
    let page = Bytes::from(page.unwrap_or_else(default_page));

    let rt = tokio::runtime::Builder::new_current_thread().enable_io().build().unwrap();
    rt.block_on(async move {
        let listener = TcpListener::bind(listen).await.unwrap_or_else(|e| die(&format!("--listen {listen}: {e}")));
        eprintln!("listening on {scheme}://{}", listener.local_addr().unwrap());
        loop {
            let (stream, _) = match listener.accept().await {
                Ok(s) => s,
                Err(_) => continue, // EMFILE and friends: try again
            };
            let _ = stream.set_nodelay(true);
            let page = page.clone();
            #[cfg(feature = "tls")]
            let acceptor = acceptor.clone();
            tokio::task::spawn(async move {
                #[cfg(feature = "tls")]
                if let Some(acceptor) = acceptor {
                    if let Ok(stream) = acceptor.accept(stream).await {
                        serve(stream, page).await;
                    }
                    return;
                }
                serve(stream, page).await;
            });
        }
    });
}

async fn serve<I: AsyncRead + AsyncWrite + Unpin + Send + 'static>(io: I, page: Bytes) {
    let service = service_fn(move |_req: Request<hyper::body::Incoming>| {
        let mut resp = Response::new(Full::new(page.clone()));
        resp.headers_mut()
            .insert(CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
        async move { Ok::<_, Infallible>(resp) }
    });
    let _ = http1::Builder::new()
        .keep_alive(true)
        .pipeline_flush(true)
        .serve_connection(TokioIo::new(io), service)
        .await;
}

fn die(msg: &str) -> ! {
    eprintln!("hyper-ref: {msg}");
    std::process::exit(2)
}
