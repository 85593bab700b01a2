//! What the workers answer for the ACME client: HTTP-01 key authorizations
//! (RFC 8555 §8.3), TLS-ALPN-01 certificates (RFC 8737), and the
//! certificates the client got, chosen by the name a TLS client asks for.
//!
//! The client thread writes here and the workers read. A mutex each is
//! enough: the challenges are consulted only for a challenge's path or an
//! `acme-tls/1` handshake, and the certificates once per full handshake,
//! never on a request that the catalog or the memo answers.
#![forbid(unsafe_code)]

use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

use rustls::sign::CertifiedKey;

use crate::net::tls::{covers, Names};

/// TLS-ALPN-01's protocol name (RFC 8737 §6.2).
pub const ACME_TLS: &[u8] = b"acme-tls/1";

/// The challenges being validated now.
#[derive(Debug, Default)]
pub struct Challenges {
    /// HTTP-01: token -> key authorization.
    http: Mutex<Vec<(String, String)>>,
    /// TLS-ALPN-01: name -> the self-signed certificate that proves it.
    alpn: Mutex<Vec<(String, Arc<CertifiedKey>)>>,
    /// What `--https-redirect` asks before it sends a client to HTTPS (see
    /// `redirect_by`); unset: every name.
    https: OnceLock<Option<Arc<Certs>>>,
}

impl Challenges {
    pub fn new() -> Challenges {
        Challenges::default()
    }

    /// Answers `/.well-known/acme-challenge/TOKEN` with `key_authorization`.
    pub fn set_http(&self, token: &str, key_authorization: &str) {
        let mut http = locked(&self.http);
        http.retain(|(t, _)| t != token);
        http.push((token.to_string(), key_authorization.to_string()));
    }

    pub fn clear_http(&self, token: &str) {
        locked(&self.http).retain(|(t, _)| t != token);
    }

    /// The key authorization for `token`, while its challenge is on.
    pub fn http(&self, token: &str) -> Option<String> {
        locked(&self.http).iter().find(|(t, _)| t == token).map(|(_, k)| k.clone())
    }

    /// Answers an `acme-tls/1` handshake for `name` with `key`.
    pub fn set_alpn(&self, name: &str, key: Arc<CertifiedKey>) {
        let mut alpn = locked(&self.alpn);
        alpn.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
        alpn.push((name.to_ascii_lowercase(), key));
    }

    pub fn clear_alpn(&self, name: &str) {
        locked(&self.alpn).retain(|(n, _)| !n.eq_ignore_ascii_case(name));
    }

    /// The TLS-ALPN-01 certificate for `name`, while its challenge is on.
    pub fn alpn(&self, name: &str) -> Option<Arc<CertifiedKey>> {
        locked(&self.alpn).iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, key)| key.clone())
    }

    /// `--https-redirect` sends a client to HTTPS only for a name `certs`
    /// has a certificate for: before a name's first certificate, the TLS
    /// listener would fail its handshake. None: a `--tls-cert` pair answers
    /// the names no certificate of `certs` covers, so every name.
    pub fn redirect_by(&self, certs: Option<Arc<Certs>>) {
        let _ = self.https.set(certs);
    }

    /// Whether the TLS listener has a certificate for `host`.
    pub fn https_answers(&self, host: &str) -> bool {
        match self.https.get() {
            Some(Some(certs)) => certs.for_name(Some(host)).is_some(),
            _ => true,
        }
    }
}

/// The certificates the ACME client got, one per `--acme` flag, in the
/// order first installed.
#[derive(Debug, Default)]
pub struct Certs {
    installed: Mutex<Vec<Installed>>,
}

/// A certificate's id, its names, and the pair.
type Installed = (String, Names, Arc<CertifiedKey>);

/// An HTTP-01 answer's head (up to its blank line) and body.
pub type HttpResponse = (Box<[u8]>, Box<[u8]>);

impl Certs {
    pub fn new() -> Certs {
        Certs::default()
    }

    /// New handshakes for `names` get `key` from now on; connections made
    /// before keep the one they were made with.
    pub fn install(&self, cert_id: &str, names: &[String], key: Arc<CertifiedKey>) {
        let mut installed = locked(&self.installed);
        let entry = (cert_id.to_string(), names.iter().map(|n| n.to_ascii_lowercase()).collect(), key);
        match installed.iter_mut().find(|(id, _, _)| id == cert_id) {
            Some(slot) => *slot = entry,
            None => installed.push(entry),
        }
    }

    /// The certificate for the name a client asked for (SNI), or, from a
    /// client that named none, the first one installed.
    pub fn for_name(&self, name: Option<&str>) -> Option<Arc<CertifiedKey>> {
        let installed = locked(&self.installed);
        let found = match name {
            Some(name) => installed.iter().find(|(_, names, _)| covers(names, name.as_bytes())),
            None => installed.first(),
        };
        found.map(|(_, _, key)| key.clone())
    }

    /// The names of the certificate a client that asked for `name` gets,
    /// when one of these covers it.
    pub fn names(&self, name: &str) -> Option<Names> {
        let installed = locked(&self.installed);
        installed.iter().find(|(_, names, _)| covers(names, name.as_bytes())).map(|(_, names, _)| names.clone())
    }
}

/// The certificate a handshake gets. A client offering `acme-tls/1` is a
/// CA validating TLS-ALPN-01: it gets that name's challenge certificate or
/// nothing. Any other gets the `--acme` certificate for its name, else
/// `fallback` (the `--tls-cert` pair). None fails the handshake (rustls
/// sends the `access_denied` alert): a name whose first certificate is
/// not there yet gets no other's.
pub fn resolve(
    challenges: &Challenges,
    certs: &Certs,
    name: Option<&str>,
    offers_acme_tls: bool,
    fallback: impl FnOnce() -> Option<Arc<CertifiedKey>>,
) -> Option<Arc<CertifiedKey>> {
    if offers_acme_tls {
        return challenges.alpn(name?);
    }
    certs.for_name(name).or_else(fallback)
}

/// The answer's parts to an HTTP-01 request for `token` while its
/// challenge is on: the head (up to its blank line's start) and the body.
pub fn http_response(challenges: &Challenges, token: &str) -> Option<HttpResponse> {
    let body = challenges.http(token)?;
    let mut head = b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nCache-Control: no-store\r\n\
                     Content-Length: "
        .to_vec();
    head.extend_from_slice(itoa::Buffer::new().format(body.len()).as_bytes());
    head.extend_from_slice(b"\r\n");
    head.extend_from_slice(mote_site::representation::NOSNIFF.as_bytes());
    Some((head.into_boxed_slice(), body.into_bytes().into_boxed_slice()))
}

/// A poisoned lock still holds whole entries: each change is one push or
/// one retain.
fn locked<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustls::pki_types::CertificateDer;
    use rustls::sign::SigningKey;

    /// A CertifiedKey told apart by its (fake) certificate bytes; the key is
    /// never used to sign here.
    fn key(tag: &str) -> Arc<CertifiedKey> {
        #[derive(Debug)]
        struct NoKey;
        impl SigningKey for NoKey {
            fn choose_scheme(&self, _: &[rustls::SignatureScheme]) -> Option<Box<dyn rustls::sign::Signer>> {
                None
            }
            fn algorithm(&self) -> rustls::SignatureAlgorithm {
                rustls::SignatureAlgorithm::ECDSA
            }
        }
        Arc::new(CertifiedKey::new(vec![CertificateDer::from(tag.as_bytes().to_vec())], Arc::new(NoKey)))
    }

    fn tag(key: Option<Arc<CertifiedKey>>) -> Option<String> {
        key.map(|key| String::from_utf8(key.cert[0].to_vec()).unwrap())
    }

    #[test]
    fn http_tokens_come_and_go() {
        let challenges = Challenges::new();
        assert_eq!(challenges.http("tok"), None);
        challenges.set_http("tok", "tok.thumb");
        challenges.set_http("other", "other.thumb");
        challenges.set_http("tok", "tok.thumb2");
        assert_eq!(challenges.http("tok").as_deref(), Some("tok.thumb2"));
        assert_eq!(challenges.http("TOK"), None, "tokens are case-sensitive");
        let (head, body) = http_response(&challenges, "other").unwrap();
        assert_eq!(&*body, b"other.thumb");
        let head = String::from_utf8(head.into_vec()).unwrap();
        assert!(head.starts_with("HTTP/1.1 200 OK\r\n") && head.contains("\r\nContent-Length: 11\r\n"), "{head}");
        assert!(head.contains("Cache-Control: no-store\r\n") && head.ends_with("\r\n"), "{head}");
        challenges.clear_http("tok");
        assert_eq!(challenges.http("tok"), None);
        assert!(http_response(&challenges, "tok").is_none());
    }

    #[test]
    fn handshakes_get_the_certificate_for_their_name() {
        let challenges = Challenges::new();
        let certs = Certs::new();
        // (row, SNI, offers acme-tls/1, with a --tls-cert pair, wanted)
        type Row = (&'static str, Option<&'static str>, bool, bool, Option<&'static str>);
        let check = |challenges: &Challenges, certs: &Certs, rows: &[Row]| {
            for &(row, name, acme_tls, pair, want) in rows {
                let got = resolve(challenges, certs, name, acme_tls, || pair.then(|| key("tls-cert")));
                assert_eq!(tag(got).as_deref(), want, "{row}");
            }
        };
        check(
            &challenges,
            &certs,
            &[
                ("no certificate yet: the handshake fails", Some("a.example"), false, false, None),
                ("no certificate yet, a --tls-cert pair", Some("a.example"), false, true, Some("tls-cert")),
                ("RFC 8737: acme-tls/1 without a challenge on", Some("a.example"), true, true, None),
            ],
        );
        certs.install("a.example", &["a.example".into(), "www.a.example".into()], key("a1"));
        certs.install("b.example", &["b.example".into()], key("b1"));
        challenges.set_alpn("c.example", key("alpn-c"));
        check(
            &challenges,
            &certs,
            &[
                ("by SNI", Some("a.example"), false, false, Some("a1")),
                ("another name on it", Some("www.a.example"), false, true, Some("a1")),
                ("SNI compared without case", Some("B.Example"), false, false, Some("b1")),
                ("no SNI: the first certificate", None, false, true, Some("a1")),
                ("a name no --acme covers: the pair", Some("other.example"), false, true, Some("tls-cert")),
                ("a name no --acme covers, no pair", Some("other.example"), false, false, None),
                ("RFC 8737 §3: the challenge certificate", Some("c.example"), true, false, Some("alpn-c")),
                ("acme-tls/1 never gets a served certificate", Some("a.example"), true, true, None),
                ("acme-tls/1 without SNI", None, true, true, None),
                ("the challenge's name over plain ALPN", Some("c.example"), false, false, None),
            ],
        );
        // A renewal swaps the pair in place; the challenge goes when done.
        certs.install("a.example", &["a.example".into()], key("a2"));
        assert_eq!(tag(certs.for_name(Some("a.example"))).as_deref(), Some("a2"));
        assert_eq!(tag(certs.for_name(None)).as_deref(), Some("a2"), "still the first");
        assert!(certs.for_name(Some("www.a.example")).is_none(), "a name dropped from the flag");
        challenges.clear_alpn("C.example");
        assert!(challenges.alpn("c.example").is_none());
    }
}
