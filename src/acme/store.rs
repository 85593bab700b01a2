//! The `--acme-dir`: the account key, each certificate with its key, and
//! each certificate's renewal state, kept so that a restart (or an init
//! respawn) serves what it has and orders nothing it does not need.
//!
//! Layout, below the directory (created 0700; files 0600, as they hold
//! private keys):
//!
//! ```text
//! <hash of the directory URL>/   one CA's state: a staging certificate is
//!   directory.url                never served after --acme-staging is dropped
//!   account.key  account.url
//!   terms.url                    the CA's terms, as its directory last named them
//!   <cert id>                    symlink to the pair now served: <cert id>.a or .b
//!   <cert id>.a/ chain.pem key.der
//!   <cert id>.state              renewal state, a few `key value` lines
//! ```
//!
//! A new pair is written into the directory not linked, each file and the
//! directory fsynced, and then one rename swaps the link: a power cut at
//! any moment leaves the old pair or the new one, never a certificate with
//! another's key. Single files are written beside their name and renamed
//! over it, for the same reason. A file that is corrupt anyway (a disk
//! error, a hand edit) is reported in one line and treated as absent.
#![forbid(unsafe_code)]

use std::fs::{self, DirBuilder, File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::sign::CertifiedKey;

use super::renew::Window;

/// The first line of a state file; a new layout gets a new number.
const STATE_MAGIC: &str = "mote-acme-state 1";
/// Largest file the store reads: its files are a few KiB.
const MAX_FILE: u64 = 1024 * 1024;
/// Longest `last_error` kept.
const MAX_ERROR: usize = 1000;

/// One CA's state in the `--acme-dir`.
#[derive(Debug)]
pub struct Store {
    /// The `--acme-dir` as given, for messages.
    root: PathBuf,
    /// This directory URL's subdirectory.
    dir: PathBuf,
    in_memory: bool,
    /// Held open, locked, while the store is in use: two processes on one
    /// directory (a respawn overlapping a slow exit, two instances given the
    /// same `--acme-dir`) would interleave their writes.
    _lock: File,
}

/// A certificate chain and its key, as stored.
#[derive(Debug, PartialEq)]
pub struct Pair {
    pub chain_pem: Vec<u8>,
    pub key_pkcs8: Vec<u8>,
}

/// What the client remembers about one certificate between runs.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct CertState {
    /// Failed attempts in a row: the backoff's exponent.
    pub failures: u32,
    /// Unix seconds before which nothing is ordered (backoff, Retry-After).
    pub next_attempt: i64,
    /// The last failure, one line.
    pub last_error: String,
    /// The profile the stored certificate was ordered with ("" for none).
    pub profile: String,
    /// The names the stored certificate was ordered for.
    pub names: Vec<String>,
    /// Unix seconds when ACME Renewal Information is asked again (0: now).
    pub ari_retry: i64,
    /// RFC 9773: the time picked in the CA's window for the certificate
    /// stored, and the window it was picked in; kept so that a restart
    /// neither asks again at once nor picks another time.
    pub ari: Option<(i64, Window)>,
    /// The challenge type that last failed ("" for none), so `auto` tries
    /// the other.
    pub failed_challenge: String,
}

/// The id a certificate is stored under: its flag's first name, which
/// the flags made a plain lowercase DNS name.
pub fn cert_id(names: &[String]) -> String {
    let first = names.first().map_or("", String::as_str);
    let mut id: String = first
        .bytes()
        .map(|b| if b.is_ascii_alphanumeric() || b == b'-' || b == b'.' { b as char } else { '_' })
        .collect();
    // Never `.`, `..` or a hidden name beside the store's own files.
    if id.is_empty() || id.starts_with('.') {
        id.insert(0, '_');
    }
    id
}

impl Store {
    /// Opens (creating) `dir` and the subdirectory for `directory_url`;
    /// checks that both can be written. An error is one line naming the
    /// directory.
    pub fn open(dir: &Path, directory_url: &str) -> Result<Store, String> {
        let named = |path: &Path, e: &io::Error| format!("--acme-dir {}: {}", path.display(), error_text(e));
        // The directory the user named keeps its mode when it exists (it may
        // be shared); the subdirectories mote makes hold the keys, 0700.
        make_dir(dir).map_err(|e| named(dir, &e))?;
        let sub = dir.join(url_hash(directory_url));
        make_private_dir(&sub).map_err(|e| named(&sub, &e))?;
        let lock = File::open(&sub).map_err(|e| named(&sub, &e))?;
        if !crate::sys::try_lock(&lock).map_err(|e| named(&sub, &e))? {
            return Err(format!("--acme-dir {}: in use by another mote process", sub.display()));
        }
        let in_memory = crate::sys::in_memory(dir).unwrap_or(false);
        let store = Store { root: dir.to_path_buf(), dir: sub, in_memory, _lock: lock };
        // Written each time: it says which CA the hash stands for, and
        // proves the directory writable now (after --user).
        store.write("directory.url", format!("{directory_url}\n").as_bytes())?;
        if store.in_memory {
            crate::ops::log::error(&format!(
                "warning: --acme-dir {} is on tmpfs: every reboot loses the certificates and orders them again \
                 (Let's Encrypt allows 5 duplicate certificates a week)",
                dir.display()
            ));
        }
        Ok(store)
    }

    /// Whether the directory is on a file system held in memory.
    #[cfg(test)]
    pub fn in_memory(&self) -> bool {
        self.in_memory
    }

    /// The account key (PKCS#8), when one is stored.
    pub fn account_key(&self) -> Result<Option<Vec<u8>>, String> {
        self.read("account.key")
    }

    pub fn save_account_key(&self, pkcs8: &[u8]) -> Result<(), String> {
        self.write("account.key", pkcs8)
    }

    /// The account's URL (its `kid`), when one is stored.
    pub fn account_url(&self) -> Result<Option<String>, String> {
        let Some(bytes) = self.read("account.url")? else {
            return Ok(None);
        };
        let url = String::from_utf8(bytes).ok().map(|text| text.trim().to_string());
        match url {
            Some(url) if url.starts_with("https://") && !url.contains(char::is_whitespace) => Ok(Some(url)),
            _ => Err(format!("{}: not an account URL", self.path("account.url").display())),
        }
    }

    pub fn save_account_url(&self, url: &str) -> Result<(), String> {
        self.write("account.url", format!("{url}\n").as_bytes())
    }

    /// The URL of the CA's terms of service, as its directory last named it.
    pub fn terms(&self) -> Option<String> {
        let text = String::from_utf8(self.read("terms.url").ok()??).ok()?;
        Some(text.trim().to_owned()).filter(|terms| !terms.is_empty())
    }

    pub fn save_terms(&self, url: &str) -> Result<(), String> {
        self.write("terms.url", format!("{url}\n").as_bytes())
    }

    /// The pair now stored for `cert_id`: None when there is none, an error
    /// naming the file when it cannot be read whole.
    pub fn load_pair(&self, cert_id: &str) -> Option<Result<Pair, String>> {
        let link = self.dir.join(cert_id);
        let target = match fs::read_link(&link) {
            Ok(target) => target,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return None,
            Err(e) => return Some(Err(format!("{}: {}", link.display(), error_text(&e)))),
        };
        // Only the two names the store writes: a link put there by hand (to
        // another client's files, say) is neither read nor, on the next
        // renewal, deleted.
        if slot(cert_id, &target).is_none() {
            return Some(Err(format!("{}: not a link this store made", link.display())));
        }
        let pair_dir = self.dir.join(target);
        let read = |name: &str| -> Result<Vec<u8>, String> {
            let path = pair_dir.join(name);
            match read_limited(&path) {
                Ok(bytes) if !bytes.is_empty() => Ok(bytes),
                Ok(_) => Err(format!("{}: empty", path.display())),
                Err(e) => Err(format!("{}: {}", path.display(), error_text(&e))),
            }
        };
        Some(read("chain.pem").and_then(|chain_pem| Ok(Pair { chain_pem, key_pkcs8: read("key.der")? })))
    }

    /// Stores a new pair for `cert_id` and makes it the one `load_pair`
    /// returns, in one rename (see the module's comment).
    pub fn save_pair(&self, cert_id: &str, chain_pem: &[u8], key_pkcs8: &[u8]) -> Result<(), String> {
        let named = |path: &Path, e: io::Error| format!("{}: {}", path.display(), error_text(&e));
        let link = self.dir.join(cert_id);
        let current = match fs::read_link(&link) {
            Ok(target) if slot(cert_id, &target).is_some() => Some(target),
            Ok(_) => return Err(format!("{}: not a link this store made; move it away", link.display())),
            Err(e) if e.kind() == io::ErrorKind::NotFound => None,
            Err(e) => return Err(named(&link, e)),
        };
        let next = if current.as_deref().and_then(|target| slot(cert_id, target)) == Some("a") { "b" } else { "a" };
        let next_name = format!("{cert_id}.{next}");
        let next_dir = self.dir.join(&next_name);
        // A leftover from a write cut short: never linked, so never served.
        if next_dir.exists() {
            remove_pair(&next_dir).map_err(|e| named(&next_dir, e))?;
        }
        make_private_dir(&next_dir).map_err(|e| named(&next_dir, e))?;
        write_synced(&next_dir.join("chain.pem"), chain_pem).map_err(|e| named(&next_dir, e))?;
        write_synced(&next_dir.join("key.der"), key_pkcs8).map_err(|e| named(&next_dir, e))?;
        sync_dir(&next_dir).map_err(|e| named(&next_dir, e))?;
        let new_link = self.dir.join(format!("{cert_id}.link"));
        let _ = fs::remove_file(&new_link);
        std::os::unix::fs::symlink(&next_name, &new_link).map_err(|e| named(&new_link, e))?;
        // The new directory's name is on the disk before the link names it.
        sync_dir(&self.dir).map_err(|e| named(&self.dir, e))?;
        fs::rename(&new_link, &link).map_err(|e| named(&link, e))?;
        sync_dir(&self.dir).map_err(|e| named(&self.dir, e))?;
        if let Some(old) = current.filter(|old| old.as_os_str() != next_name.as_str()) {
            let _ = remove_pair(&self.dir.join(old));
        }
        Ok(())
    }

    /// The renewal state of `cert_id`: the default when none is stored; an
    /// error (one line naming the file) when it is corrupt, which the
    /// caller reports and then treats as absent.
    pub fn state(&self, cert_id: &str) -> Result<CertState, String> {
        let name = format!("{cert_id}.state");
        let Some(bytes) = self.read(&name)? else {
            return Ok(CertState::default());
        };
        CertState::parse(&bytes).map_err(|why| {
            format!("{}: {why}; starting from no state (the certificate is checked anew)", self.path(&name).display())
        })
    }

    pub fn save_state(&self, cert_id: &str, state: &CertState) -> Result<(), String> {
        self.write(&format!("{cert_id}.state"), state.render().as_bytes())
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// A file's bytes; None when it does not exist.
    fn read(&self, name: &str) -> Result<Option<Vec<u8>>, String> {
        let path = self.path(name);
        match read_limited(&path) {
            Ok(bytes) => Ok(Some(bytes)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(format!("{}: {}", path.display(), error_text(&e))),
        }
    }

    /// Replaces a file whole: written beside it, synced, renamed over it,
    /// and the directory synced.
    fn write(&self, name: &str, bytes: &[u8]) -> Result<(), String> {
        let path = self.path(name);
        let temporary = self.path(&format!("{name}.new"));
        let result = write_synced(&temporary, bytes)
            .and_then(|()| fs::rename(&temporary, &path))
            .and_then(|()| sync_dir(&self.dir));
        result.map_err(|e| {
            let _ = fs::remove_file(&temporary);
            format!("--acme-dir {}: cannot write {name}: {}", self.root.display(), error_text(&e))
        })
    }
}

impl Pair {
    /// The pair as rustls serves it: the chain parsed, the key loaded, and
    /// the two checked to belong together.
    pub fn certified_key(&self) -> Result<Arc<CertifiedKey>, String> {
        let chain = CertificateDer::pem_slice_iter(&self.chain_pem)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|_| "not a PEM certificate chain".to_string())?;
        if chain.is_empty() {
            return Err("no certificate in the chain".into());
        }
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(self.key_pkcs8.clone()));
        let signer = rustls::crypto::ring::sign::any_ecdsa_type(&key).map_err(|_| "not an ECDSA key".to_string())?;
        let certified = CertifiedKey::new(chain, signer);
        certified.keys_match().map_err(|_| "the key is not the certificate's".to_string())?;
        Ok(Arc::new(certified))
    }
}

impl CertState {
    /// The state file's text: a header line, `key value` lines, `end`.
    fn render(&self) -> String {
        // One line each: no control characters survive into the file.
        let line = |text: &str| super::one_line(text, usize::MAX);
        let ari = self.ari.map(|(at, window)| format!("ari_window {at} {} {}\n", window.start, window.end));
        format!(
            "{STATE_MAGIC}\nfailures {}\nnext_attempt {}\nari_retry {}\n{}profile {}\nnames {}\n\
             failed_challenge {}\nlast_error {}\nend\n",
            self.failures,
            self.next_attempt,
            self.ari_retry,
            ari.unwrap_or_default(),
            line(&self.profile),
            line(&self.names.join(" ")),
            line(&self.failed_challenge),
            super::one_line(&self.last_error, MAX_ERROR)
        )
    }

    /// Reads a state file; why not, for a corrupt or truncated one (the
    /// last line must be `end`). Unknown keys are skipped, for files a
    /// later version wrote.
    fn parse(bytes: &[u8]) -> Result<CertState, String> {
        let text = std::str::from_utf8(bytes).map_err(|_| "not text".to_string())?;
        let mut lines = text.lines();
        if lines.next() != Some(STATE_MAGIC) {
            return Err(format!("not a state file (its first line is not '{STATE_MAGIC}')"));
        }
        if !text.ends_with("\nend\n") {
            return Err("cut short (no 'end' line)".into());
        }
        let mut state = CertState::default();
        for (number, line) in lines.enumerate() {
            if line == "end" {
                break;
            }
            let (key, value) = line.split_once(' ').unwrap_or((line, ""));
            let bad = || format!("line {}: bad {key} '{}'", number + 2, super::printable(value));
            match key {
                "failures" => state.failures = value.parse().map_err(|_| bad())?,
                "next_attempt" => state.next_attempt = super::seconds(value).ok_or_else(bad)?,
                "ari_retry" => state.ari_retry = super::seconds(value).ok_or_else(bad)?,
                "ari_window" => {
                    let times: Vec<i64> =
                        value.split(' ').map(super::seconds).collect::<Option<_>>().ok_or_else(bad)?;
                    let [at, start, end] = times[..] else { return Err(bad()) };
                    state.ari = Some((at, Window { start, end }));
                }
                "profile" => state.profile = value.to_string(),
                "names" => state.names = value.split_whitespace().map(String::from).collect(),
                "failed_challenge" => state.failed_challenge = value.to_string(),
                "last_error" => state.last_error = value.to_string(),
                _ => {}
            }
        }
        Ok(state)
    }
}

/// A short hex name for a directory URL: SHA-256's first 8 bytes.
fn url_hash(url: &str) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, url.as_bytes());
    super::hex(&digest.as_ref()[..8])
}

/// The pair directory a link of `cert_id` names, "a" or "b"; None for any
/// other target.
fn slot(cert_id: &str, target: &Path) -> Option<&'static str> {
    ["a", "b"].into_iter().find(|slot| target == Path::new(&format!("{cert_id}.{slot}")))
}

/// Creates `dir` (and its parents) 0700 when it is missing.
fn make_dir(dir: &Path) -> io::Result<fs::Metadata> {
    match DirBuilder::new().recursive(true).mode(0o700).create(dir) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => return Err(io::ErrorKind::NotADirectory.into()),
        Err(e) => return Err(e),
    }
    let meta = fs::metadata(dir)?;
    if !meta.is_dir() {
        return Err(io::ErrorKind::NotADirectory.into());
    }
    Ok(meta)
}

/// Creates `dir` 0700, or makes an existing one 0700.
fn make_private_dir(dir: &Path) -> io::Result<()> {
    if make_dir(dir)?.permissions().mode() & 0o077 != 0 {
        fs::set_permissions(dir, fs::Permissions::from_mode(0o700))?;
    }
    Ok(())
}

/// Removes a pair's directory: the files the store writes in it, then the
/// directory, which fails if it holds anything else (nothing the store did
/// not write is deleted).
fn remove_pair(dir: &Path) -> io::Result<()> {
    for name in ["chain.pem", "key.der"] {
        match fs::remove_file(dir.join(name)) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
            _ => {}
        }
    }
    fs::remove_dir(dir)
}

/// Writes a new file, 0600, and syncs it to the disk.
fn write_synced(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut file = OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

/// Syncs a directory, so the names made or renamed in it last.
fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

fn read_limited(path: &Path) -> io::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    File::open(path)?.take(MAX_FILE + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > MAX_FILE {
        // "file too large": larger than any file the store writes.
        return Err(io::ErrorKind::FileTooLarge.into());
    }
    Ok(bytes)
}

fn error_text(e: &io::Error) -> String {
    mote_site::walk::error_text(e).to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    /// A fresh directory under the system's temporary one, removed on drop.
    struct Temp(PathBuf);

    impl Temp {
        fn new(name: &str) -> Temp {
            static COUNT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
            let n = COUNT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let base = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target");
            let dir = base.join(format!("store-{name}-{}-{n}", std::process::id()));
            let _ = fs::remove_dir_all(&dir);
            Temp(dir)
        }
    }

    impl Drop for Temp {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    const URL: &str = "https://acme.example/directory";

    fn mode(path: &Path) -> u32 {
        fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn keeps_each_ca_apart_private() {
        let temp = Temp::new("open");
        let dir = temp.0.join("acme");
        let store = Store::open(&dir, URL).unwrap();
        assert_eq!(mode(&dir), 0o700);
        assert_eq!(mode(&store.dir), 0o700);
        assert!(!store.in_memory());
        store.save_account_key(b"key").unwrap();
        store.save_account_url("https://acme.example/acct/1").unwrap();
        assert_eq!(mode(&store.path("account.key")), 0o600);
        assert_eq!(store.account_key().unwrap().as_deref(), Some(&b"key"[..]));
        assert_eq!(store.account_url().unwrap().as_deref(), Some("https://acme.example/acct/1"));
        assert_eq!(store.terms(), None);
        store.save_terms("https://acme.example/terms").unwrap();
        assert_eq!(store.terms().as_deref(), Some("https://acme.example/terms"));
        // Another directory URL (staging) has nothing of this one's.
        let staging = Store::open(&dir, "https://staging.example/directory").unwrap();
        assert_ne!(staging.dir, store.dir);
        assert_eq!(staging.account_key().unwrap(), None);
        assert_eq!(staging.account_url().unwrap(), None);
        fs::write(store.path("account.url"), "garbage").unwrap();
        assert!(store.account_url().unwrap_err().contains("account.url"));
        // One process at a time per CA.
        let err = Store::open(&dir, URL).unwrap_err();
        assert!(err.contains("in use by another mote process"), "{err}");
        // An existing directory keeps its mode (it may be shared); the CA's
        // own subdirectory is made private again.
        let sub = store.dir.clone();
        drop(store);
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o755)).unwrap();
        fs::set_permissions(&sub, fs::Permissions::from_mode(0o755)).unwrap();
        Store::open(&dir, URL).unwrap();
        assert_eq!(mode(&dir), 0o755);
        assert_eq!(mode(&sub), 0o700);
    }

    #[test]
    fn a_link_the_store_did_not_make_is_never_followed_or_deleted() {
        let temp = Temp::new("foreign");
        let outside = temp.0.join("outside");
        fs::create_dir_all(&outside).unwrap();
        fs::write(outside.join("chain.pem"), "keep").unwrap();
        fs::write(outside.join("key.der"), "keep").unwrap();
        let store = Store::open(&temp.0.join("acme"), URL).unwrap();
        std::os::unix::fs::symlink(&outside, store.path("example.org")).unwrap();
        let err = store.load_pair("example.org").unwrap().unwrap_err();
        assert!(err.contains("not a link this store made"), "{err}");
        let err = store.save_pair("example.org", b"chain", b"key").unwrap_err();
        assert!(err.contains("not a link this store made"), "{err}");
        assert_eq!(fs::read(outside.join("chain.pem")).unwrap(), b"keep");
    }

    #[test]
    fn an_unusable_directory_is_one_line_naming_it() {
        let temp = Temp::new("unusable");
        fs::create_dir_all(&temp.0).unwrap();
        let file = temp.0.join("file");
        fs::write(&file, "").unwrap();
        for dir in [file.clone(), file.join("acme"), PathBuf::from("/proc/mote-acme")] {
            let err = Store::open(&dir, URL).unwrap_err();
            assert!(err.starts_with(&format!("--acme-dir {}", dir.display())), "{err}");
            assert!(!err.contains('\n'), "{err}");
        }
    }

    #[test]
    fn warns_on_tmpfs() {
        let shm = Path::new("/dev/shm");
        if !crate::sys::in_memory(shm).unwrap_or(false) {
            return; // no tmpfs here to try
        }
        let dir = shm.join(format!("mote-store-{}", std::process::id()));
        let store = Store::open(&dir, URL);
        let _ = fs::remove_dir_all(&dir);
        assert!(store.unwrap().in_memory());
    }

    /// An ECDSA key (PKCS#8 DER) and a self-signed certificate for it (PEM).
    fn pair(dir: &Path, name: &str) -> (Vec<u8>, Vec<u8>) {
        let run = |args: &[&str]| {
            let out = Command::new("openssl").args(args).current_dir(dir).output().expect("openssl is needed");
            assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        };
        let (key, der, cert) = (format!("{name}.key"), format!("{name}.der"), format!("{name}.pem"));
        run(&["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", &key]);
        run(&["pkcs8", "-topk8", "-nocrypt", "-in", &key, "-outform", "DER", "-out", &der]);
        run(&["req", "-x509", "-new", "-key", &key, "-subj", "/CN=a.example", "-days", "2", "-out", &cert]);
        (fs::read(dir.join(cert)).unwrap(), fs::read(dir.join(der)).unwrap())
    }

    #[test]
    fn a_pair_changes_whole() {
        let temp = Temp::new("pair");
        let store = Store::open(&temp.0, URL).unwrap();
        let (chain1, key1) = pair(&temp.0, "one");
        let (chain2, key2) = pair(&temp.0, "two");
        assert!(store.load_pair("a.example").is_none());
        store.save_pair("a.example", &chain1, &key1).unwrap();
        let loaded = store.load_pair("a.example").unwrap().unwrap();
        assert_eq!(loaded, Pair { chain_pem: chain1.clone(), key_pkcs8: key1.clone() });
        loaded.certified_key().unwrap();
        assert_eq!(mode(&store.path("a.example.a/key.der")), 0o600);
        // The next pair goes in beside it, then the link moves, then the old
        // one goes.
        store.save_pair("a.example", &chain2, &key2).unwrap();
        assert_eq!(store.load_pair("a.example").unwrap().unwrap().chain_pem, chain2);
        assert!(!store.path("a.example.a").exists());
        // A write cut short (a leftover not linked) is never served, and the
        // next save clears it.
        fs::create_dir(store.path("a.example.a")).unwrap();
        fs::write(store.path("a.example.a/chain.pem"), &chain1[..10]).unwrap();
        assert_eq!(
            store.load_pair("a.example").unwrap().unwrap(),
            Pair { chain_pem: chain2.clone(), key_pkcs8: key2.clone() }
        );
        store.save_pair("a.example", &chain1, &key1).unwrap();
        assert_eq!(store.load_pair("a.example").unwrap().unwrap().key_pkcs8, key1);
        // A certificate with another's key is refused by name.
        let mixed = Pair { chain_pem: chain1.clone(), key_pkcs8: key2.clone() };
        assert!(mixed.certified_key().unwrap_err().contains("not the certificate's"));
        let garbage = Pair { chain_pem: b"nothing".to_vec(), key_pkcs8: key1.clone() };
        assert!(garbage.certified_key().is_err());
        // A pair a hand has broken: one line naming the missing file.
        fs::remove_file(store.path("a.example.a/key.der")).unwrap();
        let err = store.load_pair("a.example").unwrap().unwrap_err();
        assert!(err.contains("key.der") && !err.contains('\n'), "{err}");
        fs::write(store.path("a.example.a/key.der"), b"").unwrap();
        assert!(store.load_pair("a.example").unwrap().unwrap_err().contains("empty"));
    }

    #[test]
    fn state_survives_a_restart_and_corruption_is_named() {
        let temp = Temp::new("state");
        let store = Store::open(&temp.0, URL).unwrap();
        assert_eq!(store.state("a.example").unwrap(), CertState::default());
        let state = CertState {
            failures: 3,
            next_attempt: 1_760_000_000,
            last_error: "urn:ietf:params:acme:error:rateLimited\ntoo many\u{7}".into(),
            profile: "shortlived".into(),
            names: vec!["a.example".into(), "www.a.example".into()],
            ari_retry: 0,
            ari: Some((1_760_000_100, Window { start: 1_760_000_000, end: 1_760_086_400 })),
            failed_challenge: "http-01".into(),
        };
        store.save_state("a.example", &state).unwrap();
        let read = store.state("a.example").unwrap();
        assert_eq!(read.last_error, "urn:ietf:params:acme:error:rateLimited too many ");
        assert_eq!(read, CertState { last_error: read.last_error.clone(), ..state.clone() });
        assert_eq!(mode(&store.path("a.example.state")), 0o600);

        let whole = fs::read(store.path("a.example.state")).unwrap();
        // Cut short anywhere: never taken for a state with less in it.
        for cut in 0..whole.len() {
            fs::write(store.path("a.example.state"), &whole[..cut]).unwrap();
            let err = store.state("a.example").unwrap_err();
            assert!(err.contains("a.example.state") && !err.contains('\n'), "cut at {cut}: {err}");
        }
        let rows: &[(&str, &[u8], &str)] = &[
            ("not text", b"\xff\xfe\n", "not text"),
            ("another file", b"{\"failures\": 1}\n", "not a state file"),
            ("a bad number", b"mote-acme-state 1\nfailures many\nend\n", "line 2: bad failures 'many'"),
            ("a negative count", b"mote-acme-state 1\nfailures -1\nend\n", "bad failures"),
            ("a time before 1970", b"mote-acme-state 1\nnext_attempt -1\nend\n", "bad next_attempt"),
            ("a window of two times", b"mote-acme-state 1\nari_window 1 2\nend\n", "line 2: bad ari_window '1 2'"),
            ("a window not of numbers", b"mote-acme-state 1\nari_window 1 2 x\nend\n", "bad ari_window"),
        ];
        for (name, bytes, want) in rows {
            fs::write(store.path("a.example.state"), bytes).unwrap();
            let err = store.state("a.example").unwrap_err();
            assert!(err.contains(want) && err.contains("no state"), "{name}: {err}");
        }
        // A key a later version writes is skipped.
        fs::write(store.path("a.example.state"), "mote-acme-state 1\nfailures 2\nnew_thing 7\nend\n").unwrap();
        assert_eq!(store.state("a.example").unwrap(), CertState { failures: 2, ..CertState::default() });
    }

    #[test]
    fn cert_ids() {
        assert_eq!(cert_id(&["a.example".into(), "b.example".into()]), "a.example");
        assert_eq!(cert_id(&["../x".into()]), "_.._x");
        assert_eq!(cert_id(&["..".into()]), "_..");
        assert_eq!(cert_id(&[]), "_");
    }
}
