//! The built-in ACME client (RFC 8555), compiled with the `acme` feature:
//! `--acme NAME[,NAME...]` gets each flag's certificate from the CA, serves
//! it by SNI and renews it, with no other program and no cron job.
//!
//! It runs on one thread of its own with blocking sockets, so the event
//! loops never wait on a CA: the thread sleeps until the next certificate is
//! due, orders it (`order`), writes it to `--acme-dir` (`store`) and hands
//! it to the workers the way a SIGHUP reload does (`challenge::Certs`): new
//! handshakes get it, connections in flight keep theirs. When to act is
//! `renew`'s; what it speaks is written here by hand as pure functions with
//! no I/O: JSON (`json`), base64 (`base64`), signed requests (`jws`) and the
//! DER of certificates and requests (`der`), so the feature adds no crate
//! beyond ring and webpki, which TLS already brings.
//!
//! Each flag is one certificate with its own schedule, backoff and state,
//! so a name that cannot validate never holds up another's renewal. The
//! thread sleeps at most `TICK` at a time and reads the wall clock again on
//! every wake: a clock stepped by NTP (a Pi boots at 1970) is noticed within
//! that, without a timer tied to the wall clock and the unsafe code it
//! would need, for one wake-up a minute.
#![forbid(unsafe_code)]

pub mod base64;
pub mod challenge;
pub mod der;
pub mod dns;
pub mod https;
pub mod json;
pub mod jws;
pub mod order;
pub mod renew;
pub mod store;

use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use self::challenge::{Certs, Challenges};
use self::https::Client;
use self::jws::AccountKey;
use self::order::{Failure, Issued, Kind, Request, Session};
use self::renew::{Alarm, Validity};
use self::store::{CertState, Store};
use crate::ops::config::{AcmeChallenge, Config};
use crate::ops::log;

/// The longest sleep between two readings of the wall clock.
#[cfg(not(feature = "test-clock"))]
const TICK: Duration = Duration::from_secs(60);
/// Tests step the clock and want the step seen at once.
#[cfg(feature = "test-clock")]
const TICK: Duration = Duration::from_secs(1);

/// What the rest of mote sees of the client: a way to wake it (SIGHUP) and
/// each certificate's state for the status page and the metrics.
pub struct Acme {
    woken: Mutex<bool>,
    bell: Condvar,
    reports: Mutex<Vec<Report>>,
}

/// One certificate as the status page and the metrics show it.
#[derive(Debug, Clone, Default)]
pub struct Report {
    /// The flag's names, comma-separated.
    pub names: String,
    /// The served certificate's notAfter, unix seconds.
    pub not_after: Option<i64>,
    /// When it is due for renewal (or the next attempt), unix seconds.
    pub next_renewal: Option<i64>,
    /// Failed attempts in a row.
    pub failures: u32,
    /// The last failure, one line; empty after a success.
    pub last_error: String,
}

impl Acme {
    /// Re-checks every certificate now (SIGHUP): reads the clock, asks the
    /// CA for renewal information again, and orders what is due.
    pub fn wake(&self) {
        *self.woken.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) = true;
        self.bell.notify_one();
    }

    pub fn reports(&self) -> Vec<Report> {
        self.reports.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).clone()
    }

    /// Sleeps `for_` at most, or until woken; true when woken.
    fn sleep(&self, for_: Duration) -> bool {
        let woken = self.woken.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let (mut woken, _) =
            self.bell.wait_timeout_while(woken, for_, |woken| !*woken).unwrap_or_else(|poisoned| poisoned.into_inner());
        std::mem::take(&mut *woken)
    }

    fn report(&self, index: usize, report: Report) {
        if let Some(slot) = self.reports.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).get_mut(index) {
            *slot = report;
        }
    }
}

/// What start-up prepares before privileges drop: the transport, with the
/// roots it trusts read while their file is still reachable.
pub struct Prepared {
    client: Client,
}

/// Reads `--acme-ca-file` (or the system bundle) before any chroot.
pub fn prepare(config: &Config) -> Result<Prepared, String> {
    let roots = https::load_roots(config.acme_ca_file.as_deref())?;
    Ok(Prepared { client: Client::new(roots)? })
}

/// One `--acme` flag's certificate.
struct Cert {
    index: usize,
    /// Its directory in the store (`store::cert_id`).
    id: String,
    names: Vec<String>,
    state: CertState,
    /// The certificate served now, if any.
    held: Option<(Validity, der::CertInfo)>,
    /// When renewal information was last asked for (unix seconds; 0: not
    /// since the start).
    ari_polled: i64,
    /// The certificate held was ordered for other names or another
    /// profile: it is served until a new one is issued, which is due now.
    stale: bool,
    /// The loudest alarm said for the certificate held.
    said: Alarm,
}

/// What the client needs of the flags.
struct Settings {
    directory: String,
    email: Option<String>,
    profile: Option<String>,
}

/// The client thread's state.
struct Renewals {
    settings: Settings,
    store: Store,
    challenges: Arc<Challenges>,
    certs: Arc<Certs>,
    acme: Arc<Acme>,
    list: Vec<Cert>,
    /// Challenge types the listeners allow, in `--acme-challenge`'s order.
    kinds: Vec<Kind>,
    /// Whether the CA's directory lists renewalInfo; None until read.
    ari_offered: Option<bool>,
    said_clock: bool,
    said_profile: bool,
}

/// The client, opened and not yet running: `spawn` starts it.
pub struct Opened {
    renewals: Renewals,
    transport: Client,
}

/// Opens `--acme-dir` (after `--user` and `--chroot`, so it is checked as
/// the user that will write it) and installs each stored certificate that
/// still fits its flag, so the listeners serve it from their first
/// handshake. Nothing is sent to the CA until `spawn`.
pub fn open(
    prepared: Prepared,
    config: &Config,
    challenges: Arc<Challenges>,
    certs: Arc<Certs>,
) -> Result<(Arc<Acme>, Opened), String> {
    let store = Store::open(&config.acme_dir, &config.acme_directory)?;
    log::notice(&format!(
        "acme: using the CA at {}; using --acme means agreeing to its terms{}",
        config.acme_directory,
        store.terms().map(|terms| format!(": {terms}")).unwrap_or_default()
    ));
    let acme = Arc::new(Acme {
        woken: Mutex::new(false),
        bell: Condvar::new(),
        reports: Mutex::new(vec![Report::default(); config.acme.len()]),
    });
    let kinds = kinds(config);
    let mut list = Vec::new();
    for (index, names) in config.acme.iter().enumerate() {
        let id = store::cert_id(names);
        let state = store.state(&id).unwrap_or_else(|why| {
            log::error(&format!("acme: {}: {why}", names.join(",")));
            CertState::default()
        });
        let mut cert =
            Cert { index, id, names: names.clone(), state, held: None, ari_polled: 0, stale: false, said: Alarm::None };
        load_stored(&store, &certs, config, &mut cert);
        if cert.held.is_none() {
            cert.state.ari = None;
        }
        clamp(&mut cert, renew::now());
        if cert.state.failures > 0 {
            log::notice(&format!(
                "acme: {}: backing off after {} failed attempt(s): the next not before {}",
                names.join(","),
                cert.state.failures,
                date(cert.state.next_attempt)
            ));
        }
        list.push(cert);
    }
    let settings = Settings {
        directory: config.acme_directory.clone(),
        email: config.acme_email.clone(),
        profile: config.acme_profile.clone(),
    };
    let client = Renewals {
        settings,
        store,
        challenges,
        certs,
        acme: acme.clone(),
        list,
        kinds,
        ari_offered: None,
        said_clock: false,
        said_profile: false,
    };
    client.publish_all();
    Ok((acme, Opened { renewals: client, transport: prepared.client }))
}

/// Starts the client thread, once nothing else at start-up can fail: a
/// start that ends in an error (and init's respawn) never reaches the CA.
pub fn spawn(opened: Opened) -> Result<(), String> {
    let Opened { renewals, transport } = opened;
    let thread = crate::sys::spawn(c"acme", Box::new(move || renewals.run(transport)))
        .map_err(|e| format!("cannot start the ACME thread: {e}"))?;
    thread.detach();
    Ok(())
}

/// `--acme-challenge` and the listeners: HTTP-01 needs a plain listener
/// (the CA comes to port 80), TLS-ALPN-01 a TLS one (port 443). `auto`
/// prefers HTTP-01 where both are possible, and switches after a failed
/// validation.
fn kinds(config: &Config) -> Vec<Kind> {
    let http = !config.listen.is_empty();
    let tls = !config.listen_tls.is_empty();
    match config.acme_challenge {
        AcmeChallenge::Http01 => vec![Kind::Http01],
        AcmeChallenge::TlsAlpn01 => vec![Kind::TlsAlpn01],
        AcmeChallenge::Auto => [(http, Kind::Http01), (tls, Kind::TlsAlpn01)]
            .into_iter()
            .filter_map(|(ok, kind)| ok.then_some(kind))
            .collect(),
    }
}

/// Installs the stored certificate when it can be used; says why not
/// otherwise, and whether it still fits the flag.
fn load_stored(store: &Store, certs: &Certs, config: &Config, cert: &mut Cert) {
    let label = cert.names.join(",");
    let pair = match store.load_pair(&cert.id) {
        None => return,
        Some(Err(why)) => {
            log::error(&format!("acme: {label}: the stored certificate cannot be used ({why}); ordering a new one"));
            return;
        }
        Some(Ok(pair)) => pair,
    };
    let (certified, info) = match order::check_chain(&pair, &[]) {
        Ok(checked) => checked,
        Err(why) => {
            log::error(&format!("acme: {label}: the stored certificate cannot be used ({why}); ordering a new one"));
            return;
        }
    };
    let covered: Vec<String> = cert
        .names
        .iter()
        .filter(|name| info.names.iter().any(|held| held.eq_ignore_ascii_case(name)))
        .cloned()
        .collect();
    if covered.is_empty() {
        log::error(&format!("acme: {label}: the stored certificate names none of these; ordering a new one"));
        return;
    }
    certs.install(&cert.id, &covered, certified);
    let validity = Validity { not_before: info.not_before, not_after: info.not_after };
    log::notice(&format!(
        "acme: {label}: serving the stored certificate, serial {}, valid until {}",
        hex(&info.serial),
        date(info.not_after)
    ));
    // Without its state (lost, or corrupt) the certificate's own names
    // judge it; the profile then cannot be told and is taken as the same.
    let profile = config.acme_profile.clone().unwrap_or_default();
    let known = !cert.state.names.is_empty();
    if covered.len() < cert.names.len() || (known && (cert.state.names != cert.names || cert.state.profile != profile))
    {
        log::notice(&format!(
            "acme: {label}: the stored certificate was ordered for other names or another profile; ordering anew"
        ));
        cert.stale = true;
    }
    cert.held = Some((validity, info));
}

impl Renewals {
    fn run(mut self, mut client: Client) {
        let mut woken = false;
        loop {
            let now = renew::now();
            if !renew::plausible(now) {
                if !self.said_clock {
                    self.said_clock = true;
                    log::error(&format!(
                        "acme: the clock reads {}, earlier than this build: serving the stored certificates and \
                         not contacting the CA until the clock is set",
                        date(now)
                    ));
                }
                woken = self.acme.sleep(TICK);
                continue;
            }
            if std::mem::take(&mut self.said_clock) {
                log::notice(&format!("acme: the clock reads {} now; checking the certificates", date(now)));
            }
            self.list.iter_mut().for_each(|cert| clamp(cert, now));
            if woken {
                for cert in &mut self.list {
                    cert.state.ari_retry = renew::ari_on_wake(cert.state.ari_retry, cert.ari_polled);
                }
            }
            if self.list.iter().any(|cert| self.wants_ca(cert, now)) {
                self.visit_ca(&mut client, now);
            }
            self.alarms(renew::now());
            if woken {
                self.say_plans();
            }
            self.publish_all();
            let next = self.list.iter().map(|cert| self.next_time(cert)).min().unwrap_or(i64::MAX);
            let wait = next.saturating_sub(renew::now()).max(1);
            woken = self.acme.sleep(TICK.min(Duration::from_secs(wait as u64)));
        }
    }

    /// When this certificate next needs the CA: its due time, or its next
    /// renewal-information poll.
    fn next_time(&self, cert: &Cert) -> i64 {
        let due = self.due(cert);
        if self.ari_applies(cert) {
            due.min(cert.state.ari_retry)
        } else {
            due
        }
    }

    fn due(&self, cert: &Cert) -> i64 {
        let retry = cert.state.next_attempt;
        if cert.stale {
            return retry;
        }
        renew::due(cert.held.as_ref().map(|(v, _)| *v), cert.state.ari.map(|(at, _)| at), retry)
    }

    /// Whether to ask for renewal information about the certificate held:
    /// it names its issuer's key, and the CA offers renewalInfo (or has not
    /// been asked yet: its directory says, at the first visit).
    fn ari_applies(&self, cert: &Cert) -> bool {
        self.ari_offered != Some(false) && cert.held.as_ref().is_some_and(|(_, info)| info.authority_key_id.is_some())
    }

    fn wants_ca(&self, cert: &Cert, now: i64) -> bool {
        self.due(cert) <= now || (self.ari_applies(cert) && cert.state.ari_retry <= now)
    }

    /// One session with the CA for everything due now.
    fn visit_ca(&mut self, client: &mut Client, now: i64) {
        let mut session = match self.session(client) {
            Ok(session) => session,
            Err(failure) => {
                // Renewal information can wait: the certificates' own dates
                // still hold, and an unreachable CA is not asked every tick.
                for i in 0..self.list.len() {
                    let cert = &mut self.list[i];
                    cert.state.ari_retry = cert.state.ari_retry.max(now + renew::HOUR);
                    self.save_state(i);
                }
                return self.all_failed(&failure, now);
            }
        };
        self.ari_offered = Some(session.directory.renewal_info.is_some());
        let mut signed_in = false;
        for i in 0..self.list.len() {
            if self.ari_applies(&self.list[i]) {
                if self.list[i].state.ari_retry <= now {
                    self.poll_ari(&mut session, i, now);
                }
            } else {
                self.list[i].state.ari = None;
            }
            if self.due(&self.list[i]) > renew::now() {
                continue;
            }
            if !signed_in {
                if let Err(failure) = self.sign_in(&mut session) {
                    return self.all_failed(&failure, now);
                }
                signed_in = true;
            }
            self.renew(&mut session, i);
        }
    }

    /// Nothing could be asked: every certificate due backs off.
    fn all_failed(&mut self, failure: &Failure, now: i64) {
        for i in 0..self.list.len() {
            if self.due(&self.list[i]) <= now {
                let cert = &mut self.list[i];
                cert.state.failures = cert.state.failures.saturating_add(1);
                self.failed(i, failure);
            }
        }
    }

    /// Reads the directory: all that renewal information needs.
    fn session<'c>(&mut self, client: &'c mut Client) -> Result<Session<'c>, Failure> {
        let key = self.account_key()?;
        let session = Session::open(client, &self.settings.directory, key)?;
        // Said at the first visit and whenever the CA names other terms;
        // kept, so that every start can name them before any visit.
        let terms = session.directory.terms.as_deref().map(|terms| one_line(terms, 300));
        if let Some(terms) = terms.filter(|terms| self.store.terms().as_ref() != Some(terms)) {
            if let Err(why) = self.store.save_terms(&terms) {
                log::error(&format!("acme: {why}"));
            }
            log::notice(&format!(
                "acme: the CA at {} names its terms: {terms}; using --acme means agreeing to them",
                self.settings.directory
            ));
        }
        Ok(session)
    }

    /// Finds (or registers) the account, before the first order of a session.
    fn sign_in(&mut self, session: &mut Session) -> Result<(), Failure> {
        let url = session.account(self.settings.email.as_deref())?;
        if self.store.account_url().ok().flatten().as_deref() != Some(url.as_str()) {
            if let Err(why) = self.store.save_account_url(&url) {
                log::error(&format!("acme: {why}"));
            }
            log::notice(&format!("acme: account {}", one_line(&url, 300)));
        }
        Ok(())
    }

    /// The account key from the store, made and saved the first time.
    fn account_key(&mut self) -> Result<AccountKey, Failure> {
        if let Some(pkcs8) = self.store.account_key()? {
            return Ok(AccountKey::from_pkcs8(&pkcs8)?);
        }
        let (key, pkcs8) = AccountKey::generate()?;
        self.store.save_account_key(&pkcs8)?;
        Ok(key)
    }

    fn poll_ari(&mut self, session: &mut Session, i: usize, now: i64) {
        let Some(id) = self.list[i].held.as_ref().and_then(|(_, info)| info.renewal_id()) else { return };
        match session.renewal_info(&id) {
            Ok((window, retry)) => {
                let cert = &mut self.list[i];
                cert.state.ari_retry = now + retry;
                if cert.state.ari.map(|(_, old)| old) != Some(window) {
                    let at = window.pick(random(), now);
                    cert.state.ari = Some((at, window));
                    log::notice(&format!(
                        "acme: {}: the CA suggests renewing between {} and {}; renewing at {}",
                        cert.names.join(","),
                        date(window.start),
                        date(window.end),
                        date(at)
                    ));
                }
            }
            Err(failure) => {
                let cert = &mut self.list[i];
                cert.state.ari_retry = now + renew::ari_retry(failure.retry_after);
                log::error(&format!("acme: {}: renewal information: {}", cert.names.join(","), failure.text));
            }
        }
        self.list[i].ari_polled = now;
        self.save_state(i);
    }

    /// Orders the certificate: by the preferred challenge type, then, under
    /// `--acme-challenge auto`, by the other one if the CA could not
    /// validate the first.
    fn renew(&mut self, session: &mut Session, i: usize) {
        // The type that failed last goes last; the rest keep their order.
        let mut kinds = self.kinds.clone();
        if let Some(at) = kinds.iter().position(|kind| kind.name() == self.list[i].state.failed_challenge) {
            let failed = kinds.remove(at);
            kinds.push(failed);
        }
        let wanted = self.settings.profile.clone();
        let profile = wanted.as_deref().filter(|profile| {
            let listed = session.directory.profiles.iter().any(|p| p == profile);
            if !listed && !self.said_profile {
                self.said_profile = true;
                log::error(&format!("acme: the CA lists no profile {profile}; ordering without one"));
            }
            listed
        });
        self.begin(i);
        let cert = &self.list[i];
        // RFC 9773 §5: where the CA offers renewal information, an order
        // that renews a certificate names the one it replaces.
        let mut replaces = match &cert.held {
            Some((_, info)) if session.directory.renewal_info.is_some() => info.renewal_id(),
            _ => None,
        };
        let label = cert.names.join(",");
        let mut failed_kind = None;
        let mut outcome = Err(Failure::from("no challenge type is possible".to_owned()));
        for (n, kind) in kinds.iter().enumerate() {
            let request = Request { names: &cert.names, profile, replaces: replaces.as_deref(), kinds: &[*kind] };
            outcome = session.order(&request, &self.challenges);
            // RFC 9773 §5: the certificate was replaced already (by an order
            // whose outcome was lost): order at once without naming it.
            if replaces.is_some()
                && outcome.as_ref().err().and_then(|f| f.problem.as_deref()) == Some("alreadyReplaced")
            {
                log::notice(&format!("acme: {label}: the CA says the certificate was replaced already; ordering anew"));
                outcome = session.order(&Request { replaces: None, ..request }, &self.challenges);
                replaces = None;
            }
            match &outcome {
                Err(failure) if failure.validation => {
                    failed_kind = Some(*kind);
                    let Some(next) = kinds.get(n + 1) else { break };
                    log::error(&format!("acme: {label}: {}; trying {} next", failure.text, next.name()));
                }
                _ => break,
            }
        }
        if let Some(kind) = failed_kind {
            self.list[i].state.failed_challenge = kind.name().to_owned();
        }
        match outcome {
            Ok(issued) => self.issued(i, issued),
            Err(failure) => self.failed(i, &failure),
        }
    }

    fn issued(&mut self, i: usize, issued: Issued) {
        let cert = &mut self.list[i];
        let label = cert.names.join(",");
        if let Err(why) = self.store.save_pair(&cert.id, &issued.pair.chain_pem, &issued.pair.key_pkcs8) {
            // Served anyway: a restart orders again, which is the lesser harm.
            log::error(&format!("acme: {label}: {why}"));
        }
        self.certs.install(&cert.id, &cert.names, issued.certified);
        let info = issued.info;
        log::notice(&format!(
            "acme: {label}: certificate issued{}, serial {}, valid until {}",
            issued.kind.map(|kind| format!(" by {}", kind.name())).unwrap_or_default(),
            hex(&info.serial),
            date(info.not_after)
        ));
        let now = renew::now();
        let validity = Validity { not_before: info.not_before, not_after: info.not_after };
        cert.held = Some((validity, info));
        cert.state.ari = None;
        cert.stale = false;
        cert.said = Alarm::None;
        if validity.renewal_time() <= now {
            // Due on arrival (a clock ahead of the CA's, a very short
            // lifetime): ordering again at once would repeat until the CA's
            // rate limit, so the attempt stays counted and backs off.
            let why = "the new certificate is already due for renewal: is the clock ahead of the CA's?";
            cert.state.next_attempt = now + renew::backoff(cert.state.failures, None, false, 0);
            log::error(&format!(
                "acme: {label}: {why} (valid from {}, the clock reads {}); next attempt in {}",
                date(validity.not_before),
                date(now),
                renew::span(cert.state.next_attempt - now)
            ));
            cert.state.last_error = why.to_owned();
        } else {
            cert.state.failures = 0;
            cert.state.next_attempt = 0;
            cert.state.last_error.clear();
        }
        // The new certificate's renewal information can wait as long as
        // the CA would ask between polls.
        cert.state.ari_retry = now + renew::ari_retry(None);
        if issued.kind.is_some_and(|kind| kind.name() == cert.state.failed_challenge) {
            cert.state.failed_challenge.clear();
        }
        cert.state.names = cert.names.clone();
        // The profile asked for, used or not (a CA that lists none gets
        // none): a restart with the same flags then finds nothing changed.
        cert.state.profile = self.settings.profile.clone().unwrap_or_default();
        self.save_state(i);
    }

    /// Records the attempt before it is made, as a failure until it ends:
    /// a process that dies during an order (an abort, the OOM killer, init's
    /// SIGKILL) comes back into the backoff instead of ordering again at
    /// once. `issued` clears it; `failed` sets the wait the failure asks.
    fn begin(&mut self, i: usize) {
        let cert = &mut self.list[i];
        cert.state.failures = cert.state.failures.saturating_add(1);
        cert.state.next_attempt = renew::now() + renew::backoff(cert.state.failures, None, false, 0);
        self.save_state(i);
    }

    /// An attempt failed; `failures` already counts it.
    fn failed(&mut self, i: usize, failure: &Failure) {
        let now = renew::now();
        let cert = &mut self.list[i];
        // A CA's long Retry-After is honoured while the certificate held
        // can wait: until its last day.
        let limit = wait_limit(cert, now);
        let rate_limited = failure.problem.as_deref() == Some("rateLimited");
        let wait = renew::backoff(cert.state.failures, failure.retry_after, rate_limited, limit);
        cert.state.next_attempt = now + wait;
        cert.state.last_error = failure.text.clone();
        log::error(&format!(
            "acme: {}: {}; attempt {} failed, next in {}",
            cert.names.join(","),
            failure.text,
            cert.state.failures,
            renew::span(wait)
        ));
        self.save_state(i);
    }

    fn save_state(&mut self, i: usize) {
        let cert = &self.list[i];
        if let Err(why) = self.store.save_state(&cert.id, &cert.state) {
            log::error(&format!("acme: {}: {why}", cert.names.join(",")));
        }
    }

    /// The log's warnings for a certificate still served past its renewal
    /// time, in its last day, or expired: each said once.
    fn alarms(&mut self, now: i64) {
        for cert in &mut self.list {
            let Some((validity, _)) = &cert.held else { continue };
            let alarm = match renew::alarm(*validity, now) {
                // Renewing at the renewal time is not news; failing to is.
                Alarm::Overdue if cert.state.failures == 0 => Alarm::None,
                alarm => alarm,
            };
            if alarm <= cert.said {
                continue;
            }
            cert.said = alarm;
            let left = renew::span(validity.not_after - now);
            let what = match alarm {
                Alarm::None => continue,
                Alarm::Overdue => format!("renewal is overdue; the certificate expires in {left}"),
                Alarm::LastDay => format!("the certificate expires in {left}, and it is not renewed yet"),
                Alarm::Expired => "the certificate has expired, and it is not renewed yet".to_owned(),
            };
            let last = if cert.state.last_error.is_empty() {
                String::new()
            } else {
                format!(" (last error: {})", cert.state.last_error)
            };
            log::error(&format!("acme: {}: warning: {what}{last}", cert.names.join(",")));
        }
    }

    /// After a SIGHUP, one line per certificate: what is served, and when
    /// the client acts next.
    fn say_plans(&self) {
        for cert in &self.list {
            let held = match &cert.held {
                Some((validity, _)) => format!("valid until {}", date(validity.not_after)),
                None => "no certificate yet".to_owned(),
            };
            log::notice(&format!(
                "acme: {}: {held}; next renewal {}",
                cert.names.join(","),
                date(self.due(cert).max(renew::now()))
            ));
        }
    }

    fn publish_all(&self) {
        for cert in &self.list {
            let next = self.due(cert);
            let report = Report {
                names: cert.names.join(","),
                not_after: cert.held.as_ref().map(|(validity, _)| validity.not_after),
                next_renewal: Some(next.max(renew::now())),
                failures: cert.state.failures,
                last_error: cert.state.last_error.clone(),
            };
            self.acme.report(cert.index, report);
        }
    }
}

/// How long the certificate held can wait for a CA that asks for longer
/// than the backoff: until its last day (`renew::backoff`).
fn wait_limit(cert: &Cert, now: i64) -> i64 {
    cert.held.as_ref().map_or(0, |(validity, _)| validity.not_after - renew::DAY - now)
}

/// Holds the certificate's stored times to the longest waits, once the
/// clock can be believed (`renew::clamp`).
fn clamp(cert: &mut Cert, now: i64) {
    if renew::plausible(now) {
        let limit = wait_limit(cert, now);
        (cert.state.next_attempt, cert.state.ari_retry) =
            renew::clamp(cert.state.next_attempt, cert.state.ari_retry, now, limit);
    }
}

/// 64 random bits for a time in the CA's window.
fn random() -> u64 {
    let mut bytes = [0; 8];
    let _ = ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut bytes);
    u64::from_le_bytes(bytes)
}

/// Seconds (a time or a span) as a decimal number, never negative.
pub fn seconds(text: &str) -> Option<i64> {
    text.parse::<u64>().ok().and_then(|n| i64::try_from(n).ok())
}

/// Control characters as `?`, so an error quoting what a server or a file
/// said stays one line (by hand: `escape_debug` pulls Unicode tables into
/// the binary).
pub fn printable(text: &str) -> String {
    text.chars().map(|c| if c.is_control() { '?' } else { c }).collect()
}

/// Text from the CA made safe for a log line (or a line of a state file):
/// control characters become spaces, and it is cut at `max` bytes on a
/// character boundary, with `...` to say so.
pub fn one_line(text: &str, max: usize) -> String {
    let mut line: String = text.chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
    if line.len() > max {
        let mut cut = max;
        while !line.is_char_boundary(cut) {
            cut -= 1;
        }
        line.truncate(cut);
        line.push_str("...");
    }
    line
}

/// A serial number as the log writes it: lowercase hex.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    bytes.iter().flat_map(|b| [DIGITS[usize::from(b >> 4)], DIGITS[usize::from(b & 0xf)]]).map(char::from).collect()
}

/// A time as the log writes it: an HTTP date.
pub fn date(unix: i64) -> String {
    String::from_utf8_lossy(&mote_site::date::format_imf_fixdate(unix.max(0) as u64)).into_owned()
}
