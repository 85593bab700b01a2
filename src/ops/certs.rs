//! The certificate and key HTTPS answers with: read from PEM files at
//! start-up and on SIGHUP, and judged (parsed, an ECDSA key, the key of the
//! certificate, within its dates) before anything uses them, so a renewal
//! that went wrong leaves the pair that works in place.
//!
//! The files are opened before privileges drop, and so is the directory each
//! is in. A reload opens the name again inside that directory, which sees a
//! renewal that renamed a new file into place (what ACME clients do) and
//! works inside `--chroot`. When the file cannot be opened any more (after
//! `--user`, a key only root may read), it is read again from the start
//! through the descriptor kept from start-up: that sees a renewal that
//! rewrote the file in place; one that replaced it is refused with the reason.
#![forbid(unsafe_code)]

use std::fs::File;
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use mote_site::walk::error_text;
use rustls::sign::CertifiedKey;

use crate::net::tls::Pair;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

/// A certificate closer than this to its end is warned about.
pub const EXPIRY_WARNING_SECS: u64 = 14 * 86_400;
/// Larger files are not PEM certificates or keys.
const MAX_FILE_BYTES: u64 = 1 << 20;
/// rsaEncryption (RFC 8017 A.1), as it appears inside a PKCS #8 key.
const RSA_OID: &[u8] = &[0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01];
const ECDSA_ADVICE: &str = "mote's HTTPS takes ECDSA keys (P-256 or P-384), as Let's Encrypt issues by default: \
                            certbot --key-type ecdsa, acme.sh --keylength ec-256, uacme -t EC, or \
                            openssl ecparam -genkey -name prime256v1";

/// One file named by a flag, opened before privileges drop.
struct Source {
    flag: &'static str,
    path: PathBuf,
    dir: File,
    kept: File,
}

impl Source {
    fn open(flag: &'static str, path: &Path) -> Result<Source, String> {
        let failed = |e: std::io::Error| format!("{flag} {}: {}", path.display(), error_text(&e));
        let kept = crate::sys::open(path, libc::O_RDONLY).map_err(failed)?;
        let dir = match path.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => parent,
            _ => Path::new("."),
        };
        let dir = crate::sys::open(dir, libc::O_RDONLY).map_err(failed)?;
        Ok(Source { flag, path: path.to_path_buf(), dir, kept })
    }

    fn name(&self) -> String {
        format!("{} {}", self.flag, self.path.display())
    }

    /// The file's bytes now: by name inside its directory, else through the
    /// descriptor kept from start-up (see the top of this file).
    fn read(&self) -> Result<Vec<u8>, String> {
        let name = self.path.file_name().unwrap_or(self.path.as_os_str());
        let reopened = crate::sys::open_read_at(&self.dir, name);
        let file = match &reopened {
            Ok(file) => file,
            Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => {
                // Unlinked: replaced by a file this user cannot open.
                if self.kept.metadata().is_ok_and(|m| m.nlink() == 0) {
                    return Err(format!(
                        "{}: replaced by a file mote cannot open as its --user; make it readable by that user, \
                         or write the new one over the old in place",
                        self.name()
                    ));
                }
                &self.kept
            }
            Err(e) => return Err(format!("{}: {}", self.name(), error_text(e))),
        };
        let mut bytes = Vec::new();
        let mut chunk = [0; 4096];
        loop {
            match file.read_at(&mut chunk, bytes.len() as u64) {
                Ok(0) => return Ok(bytes),
                Ok(n) if (bytes.len() + n) as u64 <= MAX_FILE_BYTES => bytes.extend_from_slice(&chunk[..n]),
                Ok(_) => return Err(format!("{}: larger than {MAX_FILE_BYTES} bytes", self.name())),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(format!("{}: {}", self.name(), error_text(&e))),
            }
        }
    }
}

/// `--tls-cert` and `--tls-key`.
pub struct Material {
    cert: Source,
    key: Source,
}

/// A pair that passed every check, and a warning when it ends soon.
pub struct Loaded {
    pub pair: Pair,
    pub warning: Option<String>,
}

impl Material {
    pub fn open(cert: &Path, key: &Path) -> Result<Material, String> {
        Ok(Material { cert: Source::open("--tls-cert", cert)?, key: Source::open("--tls-key", key)? })
    }

    /// Reads and judges both files; `now` (unix seconds) is None while the
    /// clock is not plausible, and then dates are not judged.
    pub fn load(&self, now: Option<u64>) -> Result<Loaded, String> {
        let pem = self.cert.read()?;
        let chain = CertificateDer::pem_slice_iter(&pem)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|_| format!("{}: not a PEM certificate chain", self.cert.name()))?;
        let Some(leaf) = chain.first() else {
            return Err(format!("{}: no certificate in it (expected -----BEGIN CERTIFICATE-----)", self.cert.name()));
        };
        let (not_before, not_after) =
            validity(leaf).ok_or_else(|| format!("{}: the first certificate cannot be read", self.cert.name()))?;
        let pem = self.key.read()?;
        let key = PrivateKeyDer::from_pem_slice(&pem).map_err(|_| {
            format!("{}: no PEM private key in it (expected -----BEGIN ... PRIVATE KEY-----)", self.key.name())
        })?;
        let rsa = match &key {
            PrivateKeyDer::Pkcs1(_) => true,
            PrivateKeyDer::Pkcs8(der) => der.secret_pkcs8_der().windows(RSA_OID.len()).take(32).any(|w| w == RSA_OID),
            _ => false,
        };
        if rsa {
            return Err(format!("{}: an RSA key; {ECDSA_ADVICE}", self.key.name()));
        }
        let signer = rustls::crypto::ring::sign::any_ecdsa_type(&key)
            .map_err(|_| format!("{}: not an ECDSA P-256 or P-384 key; {ECDSA_ADVICE}", self.key.name()))?;
        let names = dns_names(leaf).unwrap_or_default().into();
        let certified = CertifiedKey::new(chain, signer);
        if certified.keys_match().is_err() {
            return Err(format!("{}: not the key of the certificate in {}", self.key.name(), self.cert.name()));
        }
        let mut warning = None;
        if let Some(now) = now {
            if now >= not_after {
                return Err(format!("{}: expired on {}", self.cert.name(), day(not_after)));
            }
            if now < not_before {
                return Err(format!("{}: not valid before {}", self.cert.name(), day(not_before)));
            }
            if not_after - now < EXPIRY_WARNING_SECS {
                warning = Some(format!(
                    "warning: {} expires on {} ({} days left); renew it and send SIGHUP",
                    self.cert.name(),
                    day(not_after),
                    (not_after - now) / 86_400
                ));
            }
        }
        Ok(Loaded { pair: Pair { names, key: Arc::new(certified) }, warning })
    }
}

/// `YYYY-MM-DD`.
fn day(unix: u64) -> String {
    let (year, month, day) = mote_site::date::civil_from_unix(unix);
    format!("{year}-{month:02}-{day:02}")
}

/// One DER element at the front of `der`: its tag, its contents and what
/// follows it.
pub fn element(der: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = der.split_first()?;
    let (&first, mut rest) = rest.split_first()?;
    let len = if first < 0x80 {
        usize::from(first)
    } else {
        let count = usize::from(first & 0x7f);
        if count == 0 || count > 4 {
            return None;
        }
        let (bytes, after) = rest.split_at_checked(count)?;
        rest = after;
        bytes.iter().fold(0, |n, &b| n << 8 | usize::from(b))
    };
    let (contents, rest) = rest.split_at_checked(len)?;
    Some((tag, contents, rest))
}

/// A certificate's validity, (notBefore, notAfter) in unix seconds
/// (RFC 5280 §4.1: the fifth field of tbsCertificate, after an optional
/// version, the serial number, the signature algorithm and the issuer).
fn validity(cert: &[u8]) -> Option<(u64, u64)> {
    const SEQUENCE: u8 = 0x30;
    let (SEQUENCE, cert, _) = element(cert)? else { return None };
    let (SEQUENCE, tbs, _) = element(cert)? else { return None };
    let (tag, _, after_version) = element(tbs)?;
    let mut rest = if tag == 0xa0 { after_version } else { tbs };
    for _ in 0..3 {
        rest = element(rest)?.2;
    }
    let (SEQUENCE, validity, _) = element(rest)? else { return None };
    let (tag, not_before, rest) = element(validity)?;
    let not_before = time(tag, not_before)?;
    let (tag, not_after, _) = element(rest)?;
    Some((not_before, time(tag, not_after)?))
}

/// The dNSNames of a certificate's subjectAltName (RFC 5280 §4.2.1.6),
/// lowercase, which SNI and Host are matched against (RFC 6125 §6.4.4: not
/// the subject's CN); None when the certificate cannot be read so far.
fn dns_names(cert: &[u8]) -> Option<Vec<String>> {
    const SEQUENCE: u8 = 0x30;
    // id-ce-subjectAltName, 2.5.29.17.
    const SAN: &[u8] = &[0x06, 0x03, 0x55, 0x1d, 0x11];
    let (SEQUENCE, cert, _) = element(cert)? else { return None };
    let (SEQUENCE, mut tbs, _) = element(cert)? else { return None };
    let mut names = Vec::new();
    // Every field up to the extensions, `[3] EXPLICIT`, is passed over.
    while let Some((tag, contents, rest)) = element(tbs) {
        tbs = rest;
        if tag != 0xa3 {
            continue;
        }
        let (SEQUENCE, mut extensions, _) = element(contents)? else { return None };
        while let Some((SEQUENCE, extension, rest)) = element(extensions) {
            extensions = rest;
            let Some(value) = extension.strip_prefix(SAN) else { continue };
            // An optional `critical` BOOLEAN, then the OCTET STRING.
            let (tag, value, rest) = element(value)?;
            let value = if tag == 0x01 { element(rest)?.1 } else { value };
            let (SEQUENCE, mut general_names, _) = element(value)? else { return None };
            while let Some((tag, name, rest)) = element(general_names) {
                general_names = rest;
                // dNSName is `[2] IMPLICIT IA5String`.
                if tag == 0x82 {
                    names.push(std::str::from_utf8(name).ok()?.to_ascii_lowercase());
                }
            }
        }
    }
    Some(names)
}

/// UTCTime (`YYMMDDHHMMSSZ`, 1950..2049, RFC 5280 §4.1.2.5.1) or
/// GeneralizedTime (`YYYYMMDDHHMMSSZ`, §4.1.2.5.2) in unix seconds; a time
/// before 1970 is 0.
pub fn time(tag: u8, text: &[u8]) -> Option<u64> {
    let number = |digits: &[u8]| -> Option<i64> {
        digits.iter().try_fold(0, |n, &b| b.is_ascii_digit().then(|| n * 10 + i64::from(b - b'0')))
    };
    let (year, rest) = match (tag, text.len()) {
        (0x17, 13) => {
            let yy = number(&text[..2])?;
            (if yy < 50 { 2000 + yy } else { 1900 + yy }, &text[2..])
        }
        (0x18, 15) => (number(&text[..4])?, &text[4..]),
        _ => return None,
    };
    let [month, day, hour, minute, second] = [0, 2, 4, 6, 8].map(|at| number(&rest[at..at + 2]).unwrap_or(i64::MAX));
    let valid = (1..=12).contains(&month)
        && (1..=31).contains(&day)
        && hour < 24
        && minute < 60
        && second < 60
        && rest[10] == b'Z';
    if !valid {
        return None;
    }
    let days = mote_site::date::days_from_civil(year, month as u32, day as u32);
    Some(u64::try_from(days * 86_400 + hour * 3600 + minute * 60 + second).unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_certificate_times() {
        let rows: &[(&str, u8, &str, Option<u64>)] = &[
            ("UTCTime, 20xx (RFC 5280 §4.1.2.5.1)", 0x17, "250101000000Z", Some(1_735_689_600)),
            ("UTCTime, 19xx from 50", 0x17, "700101000001Z", Some(1)),
            ("UTCTime before 1970 is 0", 0x17, "500101000000Z", Some(0)),
            ("GeneralizedTime (§4.1.2.5.2)", 0x18, "20491231235959Z", Some(2_524_607_999)),
            ("GeneralizedTime past 2049", 0x18, "20500101000000Z", Some(2_524_608_000)),
            ("no Z", 0x17, "2501010000000", None),
            ("month 13", 0x17, "251301000000Z", None),
            ("letters", 0x17, "25010a000000Z", None),
            ("wrong length for its tag", 0x18, "250101000000Z", None),
            ("not a time tag", 0x04, "250101000000Z", None),
        ];
        for (name, tag, text, unix) in rows {
            assert_eq!(time(*tag, text.as_bytes()), *unix, "{name}");
        }
    }

    #[test]
    fn finds_the_validity_with_or_without_a_version() {
        let time = |t: &str| [&[0x17, 13][..], t.as_bytes()].concat();
        let validity_seq = [&[0x30, 30][..], &time("250101000000Z"), &time("260101000000Z")].concat();
        let fields = [&[0x02, 1, 7][..], &[0x30, 0], &[0x30, 0], &validity_seq, &[0x30, 0]].concat();
        for version in [&[][..], &[0xa0, 3, 0x02, 1, 2]] {
            let tbs = [&[0x30, (version.len() + fields.len()) as u8][..], version, &fields].concat();
            let cert = [&[0x30, 0x81, tbs.len() as u8][..], &tbs].concat();
            assert_eq!(validity(&cert), Some((1_735_689_600, 1_767_225_600)));
            assert_eq!(validity(&cert[..cert.len() - 3]), None, "truncated");
        }
    }
}
