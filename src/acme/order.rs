//! The ACME protocol (RFC 8555) as one certificate's order needs it: the
//! directory, nonces, the account, the order and its authorizations, one
//! challenge each, finalization with a CSR, and the chain's download; and
//! renewal information (RFC 9773) when the CA offers it.
//!
//! Every request is blocking with the transport's own timeouts, every poll
//! has a deadline, and every error comes back as a `Failure` whose text is one
//! log line: a CA's problem document gives its `type` and `detail`. The
//! thread in mod.rs decides what a failure means for the schedule.
#![forbid(unsafe_code)]

use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use rustls::sign::CertifiedKey;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

use super::challenge::Challenges;
use super::https::{Client, Response};
use super::json::{self, Value};
use super::jws::{self, AccountKey};
use super::renew::{self, Window};
use super::store::Pair;
use super::{base64, der, one_line};

/// RFC 8555 §6.5: a `badNonce` is retried with the nonce that came with it;
/// a CA that rejects this many in a row is broken, not unlucky.
const BAD_NONCE_RETRIES: usize = 8;
/// How long one order may wait on the CA's validation or issuance.
const POLL_LIMIT: Duration = Duration::from_secs(120);
/// The wait between polls when the CA gives no `Retry-After`, and the
/// bounds put on one it gives.
const POLL_DEFAULT: Duration = Duration::from_secs(1);
const POLL_MAX: Duration = Duration::from_secs(30);
/// Problem documents are logged in one line of at most this many bytes.
const MAX_DETAIL: usize = 300;
/// A status or a name from the CA is logged in at most this many bytes.
const MAX_WORD: usize = 80;
const JOSE: &str = "application/jose+json";
/// RFC 8555 §7.4.2: the certificate chain's media type.
const PEM_CHAIN: &str = "application/pem-certificate-chain";
/// Downloads of an issued certificate before the order is given up.
const DOWNLOAD_TRIES: u32 = 3;
const ERROR_PREFIX: &str = "urn:ietf:params:acme:error:";

/// Why an exchange failed, and what the CA asked of the schedule.
#[derive(Debug, Clone)]
pub struct Failure {
    /// One line for the log and the status page.
    pub text: String,
    /// Seconds the CA asked to wait (`Retry-After`), if it did.
    pub retry_after: Option<i64>,
    /// A challenge was tried and the CA could not validate it: `auto` may
    /// try the other type.
    pub validation: bool,
    /// The short name of the CA's problem type (`rateLimited`), if it sent one.
    pub problem: Option<String>,
}

impl Failure {
    fn new(text: impl Into<String>) -> Failure {
        Failure { text: text.into(), retry_after: None, validation: false, problem: None }
    }
}

impl From<String> for Failure {
    fn from(text: String) -> Failure {
        Failure::new(text)
    }
}

/// The challenge types mote answers itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// RFC 8555 §8.3: a token over plain HTTP on port 80.
    Http01,
    /// RFC 8737: a certificate for ALPN `acme-tls/1` on port 443.
    TlsAlpn01,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Http01 => "http-01",
            Kind::TlsAlpn01 => "tls-alpn-01",
        }
    }
}

/// The CA's directory (RFC 8555 §7.1.1), and renewalInfo (RFC 9773 §3).
#[derive(Debug, Clone, Default)]
pub struct Directory {
    new_nonce: String,
    new_account: String,
    new_order: String,
    pub renewal_info: Option<String>,
    pub terms: Option<String>,
    pub profiles: Vec<String>,
    pub external_account_required: bool,
}

impl Directory {
    pub fn parse(body: &[u8]) -> Result<Directory, String> {
        let value = json::parse(body).map_err(|e| format!("the directory is not JSON: {e}"))?;
        let url = |name: &str| value.get(name).and_then(Value::as_str).map(str::to_owned);
        let need = |name: &str| url(name).ok_or_else(|| format!("the directory has no {name}"));
        let meta = value.get("meta");
        let profiles = meta.and_then(|m| m.get("profiles"));
        Ok(Directory {
            new_nonce: need("newNonce")?,
            new_account: need("newAccount")?,
            new_order: need("newOrder")?,
            renewal_info: url("renewalInfo"),
            terms: meta.and_then(|m| m.get("termsOfService")).and_then(Value::as_str).map(str::to_owned),
            // RFC 8555 §7.1.1 draft-ietf-acme-profiles: meta.profiles is an
            // object of name -> description.
            profiles: match profiles {
                Some(Value::Object(members)) => members.iter().map(|(name, _)| name.clone()).collect(),
                _ => Vec::new(),
            },
            external_account_required: meta
                .and_then(|m| m.get("externalAccountRequired"))
                .and_then(Value::as_bool)
                .unwrap_or(false),
        })
    }
}

/// What an order brought: the chain as PEM and its key, as rustls serves
/// them, the certificate's dates and names, and the challenge type used.
pub struct Issued {
    pub pair: Pair,
    pub certified: Arc<CertifiedKey>,
    pub info: der::CertInfo,
    pub kind: Option<Kind>,
}

/// What one order is for.
pub struct Request<'a> {
    pub names: &'a [String],
    pub profile: Option<&'a str>,
    /// RFC 9773 §5: the ARI identifier of the certificate this one replaces.
    pub replaces: Option<&'a str>,
    /// The challenge types to use, in order of preference.
    pub kinds: &'a [Kind],
}

/// A conversation with one CA, under one account.
pub struct Session<'c> {
    client: &'c mut Client,
    directory_url: String,
    pub directory: Directory,
    key: AccountKey,
    /// The account's URL, once known: requests are signed with it (`kid`).
    account: Option<String>,
    nonce: Option<String>,
}

impl<'c> Session<'c> {
    /// Reads the directory.
    pub fn open(client: &'c mut Client, directory_url: &str, key: AccountKey) -> Result<Session<'c>, Failure> {
        let response = client.request("GET", directory_url, None, b"").map_err(|e| format!("directory: {e}"))?;
        if response.status != 200 {
            return Err(failure("directory", &response));
        }
        let directory = Directory::parse(&response.body).map_err(|e| format!("{directory_url}: {e}"))?;
        Ok(Session { client, directory_url: directory_url.to_owned(), directory, key, account: None, nonce: None })
    }

    /// RFC 8555 §7.3: registers the account key, agreeing to the terms, or
    /// finds the account it already has; returns its URL.
    pub fn account(&mut self, email: Option<&str>) -> Result<String, Failure> {
        if self.directory.external_account_required {
            return Err(Failure {
                text: format!(
                    "the CA at {} requires external account binding, which mote does not support",
                    self.directory_url
                ),
                retry_after: Some(renew::DAY),
                validation: false,
                problem: None,
            });
        }
        let contact = email.map(|email| format!(",\"contact\":[{}]", json::quote(&format!("mailto:{email}"))));
        let payload = format!("{{\"termsOfServiceAgreed\":true{}}}", contact.unwrap_or_default());
        let url = self.directory.new_account.clone();
        let response = self.post(&url, Some(&payload))?;
        let account = response.header("location").ok_or_else(|| Failure::new("newAccount: no Location"))?;
        self.account = Some(account.to_owned());
        Ok(account.to_owned())
    }

    /// Orders a certificate for `request.names`, answering each authorization's
    /// challenge through `challenges`, and downloads it.
    pub fn order(&mut self, request: &Request, challenges: &Challenges) -> Result<Issued, Failure> {
        let identifiers: Vec<String> =
            request.names.iter().map(|name| format!("{{\"type\":\"dns\",\"value\":{}}}", json::quote(name))).collect();
        let mut payload = format!("{{\"identifiers\":[{}]", identifiers.join(","));
        if let Some(profile) = request.profile {
            payload += &format!(",\"profile\":{}", json::quote(profile));
        }
        if let Some(replaces) = request.replaces {
            payload += &format!(",\"replaces\":{}", json::quote(replaces));
        }
        payload.push('}');
        let url = self.directory.new_order.clone();
        let response = self.post(&url, Some(&payload))?;
        let order_url = response.header("location").ok_or_else(|| Failure::new("newOrder: no Location"))?.to_owned();
        let order = parse_json("newOrder", &response)?;
        let mut used = None;
        let authorizations: Vec<String> = order
            .get("authorizations")
            .and_then(Value::as_array)
            .map(|list| list.iter().filter_map(Value::as_str).map(str::to_owned).collect())
            .unwrap_or_default();
        // RFC 8555 §7.1.3: one authorization per identifier; more is a CA
        // asking this client to prove names it never asked for.
        if authorizations.len() > request.names.len() {
            return Err(Failure::new(format!(
                "newOrder: {} authorizations for {} names",
                authorizations.len(),
                request.names.len()
            )));
        }
        for authorization in &authorizations {
            if let Some(kind) = self.authorize(authorization, request, challenges)? {
                used = Some(kind);
            }
        }
        let order = self.poll(&order_url, "order", &["ready", "valid"])?;
        let (key, key_pkcs8) = der::generate_key()?;
        let order = if text(&order, "status") == Some("ready") {
            let csr = der::csr(request.names, &key)?;
            let finalize = text(&order, "finalize").ok_or_else(|| Failure::new("order: no finalize URL"))?.to_owned();
            let payload = format!("{{\"csr\":\"{}\"}}", base64::url(&csr));
            self.post(&finalize, Some(&payload))?;
            self.poll(&order_url, "order", &["valid"])?
        } else {
            order
        };
        let certificate =
            text(&order, "certificate").ok_or_else(|| Failure::new("order: no certificate URL"))?.to_owned();
        // The certificate is issued once the order is valid: a download cut
        // short is tried again, within the poll's time, rather than lost.
        let deadline = Instant::now() + POLL_LIMIT;
        let mut tries = 1;
        let response = loop {
            match self.post_accepting(&certificate, None, Some(PEM_CHAIN)) {
                Ok(response) => break response,
                Err(_) if tries < DOWNLOAD_TRIES && Instant::now() + POLL_DEFAULT * tries < deadline => {
                    thread::sleep(POLL_DEFAULT * tries);
                    tries += 1;
                }
                Err(failure) => return Err(failure),
            }
        };
        let pair = Pair { chain_pem: response.body, key_pkcs8 };
        let (certified, info) = check_chain(&pair, request.names)?;
        Ok(Issued { pair, certified, info, kind: used })
    }

    /// RFC 9773 §4: the CA's suggested window for a certificate, and the
    /// seconds until it should be asked again.
    pub fn renewal_info(&mut self, id: &str) -> Result<(Window, i64), Failure> {
        let base = self.directory.renewal_info.clone().ok_or_else(|| Failure::new("no renewalInfo"))?;
        let url = format!("{}/{id}", base.trim_end_matches('/'));
        let response = self.client.request("GET", &url, None, b"")?;
        if response.status != 200 {
            return Err(failure("renewalInfo", &response));
        }
        let value = parse_json("renewalInfo", &response)?;
        let window = value.get("suggestedWindow");
        let time = |name: &str| window.and_then(|w| w.get(name)).and_then(Value::as_str).and_then(renew::rfc3339);
        let (Some(start), Some(end)) = (time("start"), time("end")) else {
            return Err(Failure::new("renewalInfo: no suggestedWindow with start and end"));
        };
        if end < start {
            return Err(Failure::new("renewalInfo: the window ends before it starts"));
        }
        Ok((Window { start, end }, renew::ari_retry(retry_after(&response))))
    }

    /// Takes one authorization to `valid`, by the first of `kinds` it offers;
    /// returns the kind used (None: it was valid already).
    fn authorize(&mut self, url: &str, request: &Request, challenges: &Challenges) -> Result<Option<Kind>, Failure> {
        let kinds = request.kinds;
        let response = self.post(url, None)?;
        let authorization = parse_json("authorization", &response)?;
        let name = asked_name(&authorization, request.names)?;
        // The log line names the certificate's names already: one name
        // more only where there are several.
        let who = if request.names.len() > 1 { format!("{name}: ") } else { String::new() };
        match text(&authorization, "status") {
            Some("valid") => return Ok(None),
            Some("pending") => {}
            other => {
                let status = other.map_or("without status".to_owned(), |status| one_line(status, MAX_WORD));
                return Err(Failure::new(format!("{who}the authorization is {status}")));
            }
        }
        let offered = authorization.get("challenges").and_then(Value::as_array);
        let offered: Vec<&Value> = offered.map(|list| list.iter().collect()).unwrap_or_default();
        let chosen = kinds.iter().find_map(|&kind| {
            let challenge = offered.iter().find(|c| text(c, "type") == Some(kind.name()))?;
            Some((kind, text(challenge, "url")?.to_owned(), text(challenge, "token")?.to_owned()))
        });
        let Some((kind, challenge_url, token)) = chosen else {
            let wanted: Vec<&str> = kinds.iter().map(|k| k.name()).collect();
            return Err(Failure::new(format!("{who}the CA offers no {} challenge", wanted.join(" or "))));
        };
        let key_authorization = self.key.key_authorization(&token);
        // Published before the CA is told to look, withdrawn whatever the outcome.
        match kind {
            Kind::Http01 => challenges.set_http(&token, &key_authorization),
            Kind::TlsAlpn01 => challenges.set_alpn(name, alpn_certificate(name, &key_authorization)?),
        }
        let outcome = self.post(&challenge_url, Some("{}")).and_then(|_| self.poll(url, "authorization", &["valid"]));
        match kind {
            Kind::Http01 => challenges.clear_http(&token),
            Kind::TlsAlpn01 => challenges.clear_alpn(name),
        }
        outcome.map(|_| Some(kind)).map_err(|mut failure| {
            failure.text = format!("{who}{} {}", kind.name(), failure.text);
            failure
        })
    }

    /// POST-as-GET `url` until its status is one of `done`, honouring
    /// `Retry-After`; `invalid` (or any status not on the way) fails with
    /// the problem the object carries.
    fn poll(&mut self, url: &str, what: &str, done: &[&str]) -> Result<Value, Failure> {
        let deadline = Instant::now() + POLL_LIMIT;
        loop {
            let response = self.post(url, None)?;
            let value = parse_json(what, &response)?;
            let status = text(&value, "status").unwrap_or("");
            if done.contains(&status) {
                return Ok(value);
            }
            let status = one_line(status, MAX_WORD);
            if !matches!(status.as_str(), "pending" | "processing" | "ready") {
                let problem = value
                    .get("error")
                    .or_else(|| {
                        // An authorization's problem is on its failed challenge.
                        let challenges = value.get("challenges").and_then(Value::as_array)?;
                        challenges.iter().find_map(|c| c.get("error"))
                    })
                    .map(problem_text);
                let mut failure = Failure::new(format!(
                    "{what} is {status}{}",
                    problem.map(|p| format!(": {p}")).unwrap_or_default()
                ));
                failure.validation = what == "authorization";
                return Err(failure);
            }
            let wait = retry_after(&response)
                .map_or(POLL_DEFAULT, |secs| Duration::from_secs(secs.max(1) as u64))
                .min(POLL_MAX);
            if Instant::now() + wait > deadline {
                return Err(Failure::new(format!("{what} still {status} after {} s", POLL_LIMIT.as_secs())));
            }
            thread::sleep(wait);
        }
    }

    /// A signed POST (RFC 8555 §6.2), POST-as-GET when `payload` is None;
    /// a `badNonce` is sent again with the fresh nonce (§6.5).
    fn post(&mut self, url: &str, payload: Option<&str>) -> Result<Response, Failure> {
        self.post_accepting(url, payload, None)
    }

    /// `post`, asking for the media type `accept`.
    fn post_accepting(&mut self, url: &str, payload: Option<&str>, accept: Option<&str>) -> Result<Response, Failure> {
        for _ in 0..BAD_NONCE_RETRIES {
            let nonce = match self.nonce.take() {
                Some(nonce) => nonce,
                None => self.fresh_nonce()?,
            };
            let protected = match &self.account {
                Some(kid) => jws::protected_kid(url, &nonce, kid),
                None => jws::protected_jwk(url, &nonce, &self.key),
            };
            let body = self.key.sign(&protected, payload.unwrap_or("").as_bytes())?;
            let response = self.client.request_accepting("POST", url, Some(JOSE), accept, body.as_bytes())?;
            self.nonce = response.header("replay-nonce").map(str::to_owned);
            if response.status < 400 {
                return Ok(response);
            }
            if problem_type(&response).as_deref() == Some("badNonce") {
                continue;
            }
            return Err(failure(endpoint(url, &self.directory), &response));
        }
        Err(Failure::new(format!("{}: badNonce {BAD_NONCE_RETRIES} times in a row", endpoint(url, &self.directory))))
    }

    /// RFC 8555 §7.2: a nonce from newNonce.
    fn fresh_nonce(&mut self) -> Result<String, Failure> {
        let url = self.directory.new_nonce.clone();
        let response = self.client.request("HEAD", &url, None, b"")?;
        match response.header("replay-nonce") {
            Some(nonce) if response.status < 400 => Ok(nonce.to_owned()),
            _ => Err(failure("newNonce", &response)),
        }
    }
}

/// The name in `names` an authorization is for (RFC 8555 §7.1.4: its
/// `dns` identifier): the log then says this client's text, not the CA's,
/// and no challenge is answered for a name the CA chose.
fn asked_name<'n>(authorization: &Value, names: &'n [String]) -> Result<&'n str, Failure> {
    let identifier = authorization.get("identifier").filter(|id| text(id, "type") == Some("dns"));
    let value = identifier.and_then(|id| text(id, "value"));
    let asked = value.and_then(|value| names.iter().find(|name| name.eq_ignore_ascii_case(value)));
    asked.map(String::as_str).ok_or_else(|| {
        let what = value.map_or("no DNS name".to_owned(), |value| one_line(value, MAX_WORD));
        Failure::new(format!("the CA sent an authorization for {what}, which was not asked for"))
    })
}

/// Which resource a URL is, for the log: the directory's names, else the
/// kind of object.
fn endpoint<'a>(url: &str, directory: &'a Directory) -> &'a str {
    if url == directory.new_account {
        "newAccount"
    } else if url == directory.new_order {
        "newOrder"
    } else {
        "request"
    }
}

/// RFC 8737 §3: the self-signed certificate that answers `acme-tls/1` for
/// `name`, on a key made for it alone.
fn alpn_certificate(name: &str, key_authorization: &str) -> Result<Arc<CertifiedKey>, Failure> {
    let (key, pkcs8) = der::generate_key()?;
    let digest: [u8; 32] = ring::digest::digest(&ring::digest::SHA256, key_authorization.as_bytes())
        .as_ref()
        .try_into()
        .map_err(|_| Failure::new("SHA-256 is not 32 bytes"))?;
    let cert = der::alpn_challenge_cert(name, &digest, &key)?;
    // Not checked with keys_match: webpki refuses to parse a certificate
    // with a critical extension it does not know, as id-pe-acmeIdentifier
    // is by design; the certificate was just made from this very key.
    Ok(Arc::new(CertifiedKey::new(vec![CertificateDer::from(cert)], signer(&pkcs8)?)))
}

fn signer(key_pkcs8: &[u8]) -> Result<Arc<dyn rustls::sign::SigningKey>, String> {
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key_pkcs8.to_vec()));
    rustls::crypto::ring::sign::any_ecdsa_type(&key).map_err(|_| "not an ECDSA key".to_owned())
}

/// The chain the CA sent (or the store kept), judged before it is used:
/// PEM certificates, the first for the key, naming every name in `names`.
pub fn check_chain(pair: &Pair, names: &[String]) -> Result<(Arc<CertifiedKey>, der::CertInfo), String> {
    let certified = pair.certified_key()?;
    let leaf = certified.cert.first().ok_or("the certificate chain is empty")?;
    let info = der::cert_info(leaf).map_err(|e| format!("the certificate: {e}"))?;
    if let Some(missing) = names.iter().find(|name| !info.names.iter().any(|held| held.eq_ignore_ascii_case(name))) {
        return Err(format!("the certificate does not name {missing}"));
    }
    Ok((certified, info))
}

fn text<'a>(value: &'a Value, name: &str) -> Option<&'a str> {
    value.get(name).and_then(Value::as_str)
}

fn parse_json(what: &str, response: &Response) -> Result<Value, Failure> {
    json::parse(&response.body).map_err(|e| Failure::new(format!("{what}: the CA's answer is not JSON: {e}")))
}

/// RFC 9110 §10.2.3: seconds, or an HTTP date (counted from now).
fn retry_after(response: &Response) -> Option<i64> {
    let value = response.header("retry-after")?.trim();
    if let Some(secs) = super::seconds(value) {
        return Some(secs);
    }
    let at = mote_site::date::parse_http_date(value.as_bytes())? as i64;
    Some((at - renew::now()).max(0))
}

/// The short name of a problem document's type (`badNonce`), if the body is one.
fn problem_type(response: &Response) -> Option<String> {
    let value = json::parse(&response.body).ok()?;
    let kind = text(&value, "type")?;
    Some(kind.strip_prefix(ERROR_PREFIX).unwrap_or(kind).to_owned())
}

/// A failed response as one line: `newOrder: 429 rateLimited: detail`.
fn failure(what: &str, response: &Response) -> Failure {
    let problem = json::parse(&response.body).ok().filter(|v| v.get("type").is_some());
    let text = match &problem {
        Some(problem) => format!("{what}: {} {}", response.status, problem_text(problem)),
        None => format!("{what}: HTTP {}", response.status),
    };
    Failure { text, retry_after: retry_after(response), validation: false, problem: problem_type(response) }
}

/// RFC 8555 §6.7: a problem document's type and detail (and its
/// subproblems' details), in one line with no control characters.
pub fn problem_text(problem: &Value) -> String {
    let kind = text(problem, "type").unwrap_or("problem");
    let mut line = kind.strip_prefix(ERROR_PREFIX).unwrap_or(kind).to_owned();
    if let Some(detail) = text(problem, "detail") {
        line += ": ";
        line += detail;
    }
    for sub in problem.get("subproblems").and_then(Value::as_array).into_iter().flatten() {
        if let Some(detail) = text(sub, "detail") {
            line += "; ";
            line += detail;
        }
    }
    one_line(&line, MAX_DETAIL)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_directory() {
        // RFC 8555 §7.1.1's example, with renewalInfo (RFC 9773 §3) and profiles.
        let body = br#"{
            "newNonce": "https://example.com/acme/new-nonce",
            "newAccount": "https://example.com/acme/new-account",
            "newOrder": "https://example.com/acme/new-order",
            "newAuthz": "https://example.com/acme/new-authz",
            "revokeCert": "https://example.com/acme/revoke-cert",
            "keyChange": "https://example.com/acme/key-change",
            "renewalInfo": "https://example.com/acme/renewal-info",
            "meta": {
                "termsOfService": "https://example.com/acme/terms/2017-5-30",
                "website": "https://www.example.com/",
                "caaIdentities": ["example.com"],
                "externalAccountRequired": false,
                "profiles": {"classic": "The same profile you're accustomed to", "shortlived": "6 days"}
            }
        }"#;
        let directory = Directory::parse(body).unwrap();
        assert_eq!(directory.new_nonce, "https://example.com/acme/new-nonce");
        assert_eq!(directory.new_order, "https://example.com/acme/new-order");
        assert_eq!(directory.renewal_info.as_deref(), Some("https://example.com/acme/renewal-info"));
        assert_eq!(directory.terms.as_deref(), Some("https://example.com/acme/terms/2017-5-30"));
        assert_eq!(directory.profiles, ["classic", "shortlived"]);
        assert!(!directory.external_account_required);

        let eab = br#"{"newNonce":"n","newAccount":"a","newOrder":"o","meta":{"externalAccountRequired":true}}"#;
        let directory = Directory::parse(eab).unwrap();
        assert!(directory.external_account_required);
        assert_eq!((directory.renewal_info, directory.terms), (None, None));

        for (name, body) in [
            ("not JSON", &b"<html>"[..]),
            ("no newOrder", br#"{"newNonce":"n","newAccount":"a"}"#),
            ("newNonce not a string", br#"{"newNonce":1,"newAccount":"a","newOrder":"o"}"#),
        ] {
            assert!(Directory::parse(body).is_err(), "{name}");
        }
    }

    #[test]
    fn a_failure_carries_the_problem_type() {
        let response = |status, body: &str| Response {
            status,
            headers: vec![("Retry-After".into(), "120".into())],
            body: body.as_bytes().to_vec(),
        };
        for (name, status, body, want) in [
            (
                "RFC 9773 §5: a certificate replaced already",
                409,
                r#"{"type":"urn:ietf:params:acme:error:alreadyReplaced","detail":"replaced"}"#,
                Some("alreadyReplaced"),
            ),
            (
                "RFC 8555 §6.6: rate limited",
                429,
                r#"{"type":"urn:ietf:params:acme:error:rateLimited"}"#,
                Some("rateLimited"),
            ),
            ("not a problem document", 502, "<html>bad gateway</html>", None),
        ] {
            let failure = failure("newOrder", &response(status, body));
            assert_eq!(failure.problem.as_deref(), want, "{name}");
            assert_eq!(failure.retry_after, Some(120), "{name}");
        }
    }

    #[test]
    fn an_authorization_is_only_for_a_name_asked_for() {
        let names = ["a.example".to_owned(), "www.a.example".to_owned()];
        for (name, body, want) in [
            (
                "RFC 8555 §7.1.4 a dns identifier",
                r#"{"identifier":{"type":"dns","value":"www.a.example"}}"#,
                Ok("www.a.example"),
            ),
            ("names are case-insensitive", r#"{"identifier":{"type":"dns","value":"A.Example"}}"#, Ok("a.example")),
            (
                "a name not asked for",
                r#"{"identifier":{"type":"dns","value":"evil.example"}}"#,
                Err("the CA sent an authorization for evil.example, which was not asked for"),
            ),
            (
                "control characters never reach the log",
                r#"{"identifier":{"type":"dns","value":"x\n\u001b[31m"}}"#,
                Err("the CA sent an authorization for x  [31m, which was not asked for"),
            ),
            (
                "an IP identifier (RFC 8738) is not asked for",
                r#"{"identifier":{"type":"ip","value":"a.example"}}"#,
                Err("the CA sent an authorization for no DNS name, which was not asked for"),
            ),
            (
                "no identifier",
                r#"{"status":"pending"}"#,
                Err("the CA sent an authorization for no DNS name, which was not asked for"),
            ),
        ] {
            let authorization = json::parse(body.as_bytes()).unwrap();
            let got = asked_name(&authorization, &names).map_err(|failure| failure.text);
            assert_eq!(got, want.map_err(str::to_owned), "{name}");
        }
    }

    #[test]
    fn problems_in_one_line() {
        for (name, body, want) in [
            (
                "RFC 8555 §6.7 type and detail",
                r#"{"type":"urn:ietf:params:acme:error:badNonce","detail":"JWS has an invalid anti-replay nonce"}"#,
                "badNonce: JWS has an invalid anti-replay nonce",
            ),
            (
                "RFC 8555 §6.7.1 subproblems",
                r#"{"type":"urn:ietf:params:acme:error:malformed","detail":"Some of the identifiers requested were rejected",
                    "subproblems":[{"type":"urn:ietf:params:acme:error:malformed","detail":"Invalid underscore in DNS name \"_example.org\""},
                    {"type":"urn:ietf:params:acme:error:rejectedIdentifier","detail":"This CA will not issue for \"example.net\""}]}"#,
                "malformed: Some of the identifiers requested were rejected; Invalid underscore in DNS name \"_example.org\"; \
                 This CA will not issue for \"example.net\"",
            ),
            ("a type outside ACME's", r#"{"type":"about:blank","detail":"x"}"#, "about:blank: x"),
            ("no detail", r#"{"type":"urn:ietf:params:acme:error:rateLimited"}"#, "rateLimited"),
            ("newlines never reach the log", r#"{"type":"t","detail":"a\nb\r\u0000c"}"#, "t: a b  c"),
        ] {
            assert_eq!(problem_text(&json::parse(body.as_bytes()).unwrap()), want, "{name}");
        }
        let long = format!(r#"{{"type":"t","detail":"{}"}}"#, "é".repeat(400));
        let line = problem_text(&json::parse(long.as_bytes()).unwrap());
        assert!(line.len() <= MAX_DETAIL + 3 && line.ends_with("..."), "{}", line.len());
    }
}
