//! DER (X.690), the little of it ACME needs: writing the certificate
//! request that finalizes an order (PKCS #10, RFC 2986) and the self-signed
//! certificate that answers a TLS-ALPN-01 challenge (RFC 8737 §3), and
//! reading from an issued certificate what renewal needs (its dates,
//! serial, names and authority key id, RFC 5280 §4.1). mote brings no
//! ASN.1 crate: what it writes is a handful of fixed shapes, and what it
//! reads is a walk over one certificate's top-level fields, without
//! recursion, so no input can run it out of stack or make it panic.
//! Elements are read with the same function the certificate loader uses.
#![forbid(unsafe_code)]

use ring::rand::SystemRandom;
use ring::signature::{
    EcdsaKeyPair, KeyPair, UnparsedPublicKey, ECDSA_P256_SHA256_ASN1, ECDSA_P256_SHA256_ASN1_SIGNING,
};

use super::base64;
use crate::ops::certs::{element, time};

const BOOLEAN: u8 = 0x01;
const INTEGER: u8 = 0x02;
const BIT_STRING: u8 = 0x03;
const OCTET_STRING: u8 = 0x04;
const OBJECT_IDENTIFIER: u8 = 0x06;
const UTF8_STRING: u8 = 0x0c;
const UTC_TIME: u8 = 0x17;
const GENERALIZED_TIME: u8 = 0x18;
const SEQUENCE: u8 = 0x30;
const SET: u8 = 0x31;
/// Context-specific tags (X.690 §8.1.2): class bits, and the constructed bit.
const CONTEXT: u8 = 0x80;
const CONSTRUCTED: u8 = 0x20;

/// id-ecPublicKey and the P-256 curve (RFC 5480 §2.1.1).
const EC_PUBLIC_KEY: &[u32] = &[1, 2, 840, 10045, 2, 1];
const PRIME256V1: &[u32] = &[1, 2, 840, 10045, 3, 1, 7];
/// ecdsa-with-SHA256 (RFC 5758 §3.2), with no parameters.
const ECDSA_WITH_SHA256: &[u32] = &[1, 2, 840, 10045, 4, 3, 2];
/// id-at-commonName (RFC 5280 Appendix A.1).
const COMMON_NAME: &[u32] = &[2, 5, 4, 3];
/// PKCS #9 extensionRequest (RFC 2985 §5.4.2), a CSR's wanted extensions.
const EXTENSION_REQUEST: &[u32] = &[1, 2, 840, 113549, 1, 9, 14];
/// id-ce-subjectAltName and id-ce-authorityKeyIdentifier (RFC 5280 §4.2.1).
const SUBJECT_ALT_NAME: &[u32] = &[2, 5, 29, 17];
const AUTHORITY_KEY_ID: &[u32] = &[2, 5, 29, 35];
/// id-pe-acmeIdentifier, { id-pe 31 } (RFC 8737 §3, §6.1).
const ACME_IDENTIFIER: &[u32] = &[1, 3, 6, 1, 5, 5, 7, 1, 31];
/// RFC 5280 Appendix A.1's ub-common-name: longer names go only in the SAN.
const MAX_COMMON_NAME: usize = 64;
/// The TLS-ALPN-01 certificate's validity. The CA looks only at its name
/// and its acmeIdentifier (RFC 8737 §3), so a fixed, all-embracing
/// validity keeps it independent of the clock: 1970 to RFC 5280
/// §4.1.2.5's "no well-defined expiration date".
const CHALLENGE_NOT_BEFORE: &[u8] = b"700101000000Z";
const CHALLENGE_NOT_AFTER: &[u8] = b"99991231235959Z";

/// One element: `tag`, the definite length in the fewest bytes (X.690
/// §10.1), `contents`.
pub fn tlv(tag: u8, contents: &[u8]) -> Vec<u8> {
    let len = contents.len();
    let mut out = Vec::with_capacity(contents.len() + 6);
    out.push(tag);
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes = len.to_be_bytes();
        let skip = bytes.iter().take_while(|&&b| b == 0).count();
        out.push(0x80 | (bytes.len() - skip) as u8);
        out.extend_from_slice(&bytes[skip..]);
    }
    out.extend_from_slice(contents);
    out
}

pub fn sequence(parts: &[&[u8]]) -> Vec<u8> {
    tlv(SEQUENCE, &parts.concat())
}

/// A SET OF with one member, or members already in DER order (X.690 §11.6).
pub fn set(parts: &[&[u8]]) -> Vec<u8> {
    tlv(SET, &parts.concat())
}

/// The non-negative integer whose big-endian bytes are `magnitude`: no
/// superfluous leading zeros, and one added where the top bit is set, so
/// it does not read as negative (X.690 §8.3.2).
pub fn integer(magnitude: &[u8]) -> Vec<u8> {
    let start = magnitude.iter().position(|&b| b != 0).unwrap_or(magnitude.len());
    let magnitude = &magnitude[start..];
    match magnitude.first() {
        None => tlv(INTEGER, &[0]),
        Some(&first) if first >= 0x80 => tlv(INTEGER, &[&[0][..], magnitude].concat()),
        Some(_) => tlv(INTEGER, magnitude),
    }
}

/// An OBJECT IDENTIFIER from its arcs (X.690 §8.19): the first two in one
/// subidentifier, each in base 128 with the high bit on all but its last byte.
pub fn oid(arcs: &[u32]) -> Vec<u8> {
    let mut contents = Vec::with_capacity(arcs.len() + 4);
    let first = match arcs {
        [a, b, ..] => a * 40 + b,
        [a] => a * 40,
        [] => 0,
    };
    for &arc in std::iter::once(&first).chain(arcs.iter().skip(2)) {
        let mut groups = [0u8; 5];
        let mut count = 0;
        let mut rest = arc;
        loop {
            groups[count] = (rest & 0x7f) as u8;
            count += 1;
            rest >>= 7;
            if rest == 0 {
                break;
            }
        }
        for i in (0..count).rev() {
            contents.push(groups[i] | if i > 0 { 0x80 } else { 0 });
        }
    }
    tlv(OBJECT_IDENTIFIER, &contents)
}

pub fn boolean(value: bool) -> Vec<u8> {
    tlv(BOOLEAN, &[if value { 0xff } else { 0 }])
}

pub fn octet_string(bytes: &[u8]) -> Vec<u8> {
    tlv(OCTET_STRING, bytes)
}

/// A BIT STRING of whole bytes (no unused bits, X.690 §8.6.2).
pub fn bit_string(bytes: &[u8]) -> Vec<u8> {
    tlv(BIT_STRING, &[&[0][..], bytes].concat())
}

pub fn utf8_string(text: &str) -> Vec<u8> {
    tlv(UTF8_STRING, text.as_bytes())
}

/// `[number] EXPLICIT`: a constructed context tag around a whole element.
pub fn explicit(number: u8, inner: &[u8]) -> Vec<u8> {
    tlv(CONTEXT | CONSTRUCTED | number, inner)
}

/// `[number] IMPLICIT`: the element's contents under a context tag.
pub fn implicit(number: u8, constructed: bool, contents: &[u8]) -> Vec<u8> {
    tlv(CONTEXT | if constructed { CONSTRUCTED } else { 0 } | number, contents)
}

/// PEM (RFC 7468 §2): the base64 of `der` in 64-character lines between
/// the label's lines.
#[cfg(test)]
pub fn pem(label: &str, der: &[u8]) -> String {
    let body = base64::standard(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for line in body.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(line).unwrap_or_default());
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

/// A new certificate key, P-256 signing X.509's DER form, and its PKCS #8
/// document (what rustls loads and the store keeps).
pub fn generate_key() -> Result<(EcdsaKeyPair, Vec<u8>), String> {
    let random = SystemRandom::new();
    let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &random)
        .map_err(|_| "certificate key: the system's random source failed".to_string())?;
    let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, pkcs8.as_ref(), &random)
        .map_err(|e| format!("certificate key: {e}"))?;
    Ok((pair, pkcs8.as_ref().to_vec()))
}

/// The PKCS #10 request (RFC 2986 §4) for `names`, signed by `key`
/// (P-256): subject CN = the first name (when it fits, RFC 5280's 64
/// characters; CAs take the names from the SAN anyway, RFC 8555 §7.4),
/// every name as a dNSName in a requested subjectAltName extension.
pub fn csr(names: &[String], key: &EcdsaKeyPair) -> Result<Vec<u8>, String> {
    let first = names.first().ok_or("certificate request: no names")?;
    // RFC 5280 §4.2.1.6: with an empty subject the SAN is critical.
    let san = extension(SUBJECT_ALT_NAME, first.len() > MAX_COMMON_NAME, &dns_names(names)?);
    let request = sequence(&[&oid(EXTENSION_REQUEST), &set(&[&sequence(&[&san])])]);
    let info = sequence(&[&integer(&[0]), &name(first), &public_key_info(key), &implicit(0, true, &request)]);
    signed(&info, key)
}

/// The self-signed TLS-ALPN-01 certificate for `name` (RFC 8737 §3): its
/// subjectAltName exactly that dNSName, and the critical
/// id-pe-acmeIdentifier extension holding the DER OCTET STRING of
/// `key_authorization_digest`, SHA-256 of the challenge's key authorization.
pub fn alpn_challenge_cert(
    name: &str,
    key_authorization_digest: &[u8; 32],
    key: &EcdsaKeyPair,
) -> Result<Vec<u8>, String> {
    // Issuer and subject: RFC 5280 §4.1.2.4 wants a non-empty issuer, and
    // the CA looks only at the extensions.
    let subject = match name.len() > MAX_COMMON_NAME {
        true => self::name("acme-tls/1 challenge"),
        false => self::name(name),
    };
    let extensions = sequence(&[
        &extension(SUBJECT_ALT_NAME, false, &dns_names(&[name.to_string()])?),
        &acme_identifier(key_authorization_digest),
    ]);
    let validity = sequence(&[&tlv(UTC_TIME, CHALLENGE_NOT_BEFORE), &tlv(GENERALIZED_TIME, CHALLENGE_NOT_AFTER)]);
    // A serial unique per challenge without a random source: the digest's
    // first half (RFC 5280 §4.1.2.2: positive, at most 20 bytes).
    let tbs = sequence(&[
        &explicit(0, &integer(&[2])),
        &integer(&key_authorization_digest[..16]),
        &sequence(&[&oid(ECDSA_WITH_SHA256)]),
        &subject,
        &validity,
        &subject,
        &public_key_info(key),
        &explicit(3, &extensions),
    ]);
    signed(&tbs, key)
}

/// RFC 8737 §3's extension: critical, its value the DER of
/// `Authorization ::= OCTET STRING (SIZE (32))`.
fn acme_identifier(digest: &[u8; 32]) -> Vec<u8> {
    extension(ACME_IDENTIFIER, true, &octet_string(digest))
}

/// RFC 5280 §4.1: `Extension ::= SEQUENCE { extnID, critical BOOLEAN
/// DEFAULT FALSE, extnValue OCTET STRING }`; DER leaves a default out.
fn extension(id: &[u32], critical: bool, value: &[u8]) -> Vec<u8> {
    let critical = if critical { boolean(true) } else { Vec::new() };
    sequence(&[&oid(id), &critical, &octet_string(value)])
}

/// GeneralNames of dNSName, `[2] IMPLICIT IA5String` (RFC 5280 §4.2.1.6).
fn dns_names(names: &[String]) -> Result<Vec<u8>, String> {
    let mut general_names = Vec::new();
    for name in names {
        if name.is_empty() || !name.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(format!("'{}': not a DNS name in ASCII (write IDNs as xn--)", super::printable(name)));
        }
        general_names.extend(implicit(2, false, name.as_bytes()));
    }
    Ok(tlv(SEQUENCE, &general_names))
}

/// A Name (RFC 5280 §4.1.2.4) of one commonName, or empty when `common`
/// is too long for one.
fn name(common: &str) -> Vec<u8> {
    if common.len() > MAX_COMMON_NAME {
        return sequence(&[]);
    }
    let attribute = sequence(&[&oid(COMMON_NAME), &utf8_string(common)]);
    sequence(&[&set(&[&attribute])])
}

/// SubjectPublicKeyInfo of a P-256 key (RFC 5480 §2): the uncompressed point.
fn public_key_info(key: &EcdsaKeyPair) -> Vec<u8> {
    let algorithm = sequence(&[&oid(EC_PUBLIC_KEY), &oid(PRIME256V1)]);
    sequence(&[&algorithm, &bit_string(key.public_key().as_ref())])
}

/// `SEQUENCE { tbs, ecdsa-with-SHA256, BIT STRING signature }`, the shape
/// of both a certificate and a request.
fn signed(tbs: &[u8], key: &EcdsaKeyPair) -> Result<Vec<u8>, String> {
    let signature = signature(tbs, key)?;
    Ok(sequence(&[tbs, &sequence(&[&oid(ECDSA_WITH_SHA256)]), &bit_string(&signature)]))
}

/// X.509's ECDSA signature, `SEQUENCE { r INTEGER, s INTEGER }` (RFC 5480
/// §2.2 via RFC 3279 §2.2.3). ring fixes a key pair's form when it is
/// loaded, so a key loaded for JWS signs r‖s: that is converted. The
/// result is checked against the public key either way, so a key of
/// another curve is an error here, not a certificate the CA refuses.
fn signature(message: &[u8], key: &EcdsaKeyPair) -> Result<Vec<u8>, String> {
    let signature =
        key.sign(&SystemRandom::new(), message).map_err(|_| "certificate key: signing failed".to_string())?;
    let signature = signature.as_ref();
    let public = UnparsedPublicKey::new(&ECDSA_P256_SHA256_ASN1, key.public_key().as_ref());
    if public.verify(message, signature).is_ok() {
        return Ok(signature.to_vec());
    }
    let (r, s) = signature.split_at(signature.len() / 2);
    let der = sequence(&[&integer(r), &integer(s)]);
    public.verify(message, &der).map_err(|_| "certificate key: not a P-256 key".to_string())?;
    Ok(der)
}

/// What renewal needs to know of an issued certificate.
#[derive(Debug, Clone, PartialEq)]
pub struct CertInfo {
    /// Unix seconds; a time before 1970 reads as 0.
    pub not_before: i64,
    pub not_after: i64,
    /// The serial number's DER contents, a leading zero byte included
    /// (what RFC 9773 §4.1 encodes).
    pub serial: Vec<u8>,
    /// The subjectAltName's dNSNames, in order.
    pub names: Vec<String>,
    /// The authority key identifier's keyIdentifier (RFC 5280 §4.2.1.1).
    pub authority_key_id: Option<Vec<u8>>,
}

impl CertInfo {
    /// RFC 9773 §4.1's certificate identifier for ACME Renewal
    /// Information: base64url(keyIdentifier) "." base64url(serial); none
    /// without an authority key identifier.
    pub fn renewal_id(&self) -> Option<String> {
        let key_id = self.authority_key_id.as_ref()?;
        Some(format!("{}.{}", base64::url(key_id), base64::url(&self.serial)))
    }
}

/// Reads one DER certificate (RFC 5280 §4.1), nothing after it.
pub fn cert_info(der: &[u8]) -> Result<CertInfo, String> {
    let malformed = |what: &str| format!("certificate: malformed {what} (RFC 5280 §4.1)");
    let (SEQUENCE, certificate, after) = element(der).ok_or_else(|| malformed("outer SEQUENCE"))? else {
        return Err(malformed("outer SEQUENCE"));
    };
    if !after.is_empty() {
        return Err("certificate: bytes after it".to_string());
    }
    let (SEQUENCE, tbs, _) = element(certificate).ok_or_else(|| malformed("tbsCertificate"))? else {
        return Err(malformed("tbsCertificate"));
    };
    // The fields in order, each by its tag: version is optional
    // (`[0] EXPLICIT`), issuerUniqueID and subjectUniqueID too.
    let mut rest = tbs;
    let mut field = |tag: u8, what: &str| -> Result<&[u8], String> {
        match element(rest) {
            Some((found, contents, after)) if found == tag => {
                rest = after;
                Ok(contents)
            }
            _ => Err(malformed(what)),
        }
    };
    let _ = field(CONTEXT | CONSTRUCTED, "version");
    let serial = field(INTEGER, "serialNumber")?.to_vec();
    field(SEQUENCE, "signature")?;
    field(SEQUENCE, "issuer")?;
    let validity = field(SEQUENCE, "validity")?;
    field(SEQUENCE, "subject")?;
    field(SEQUENCE, "subjectPublicKeyInfo")?;
    let _ = field(CONTEXT | 1, "issuerUniqueID");
    let _ = field(CONTEXT | 2, "subjectUniqueID");
    let extensions = field(CONTEXT | CONSTRUCTED | 3, "extensions").ok();

    let (not_before, not_after) = validity_of(validity).ok_or_else(|| malformed("validity"))?;
    let mut info = CertInfo { not_before, not_after, serial, names: Vec::new(), authority_key_id: None };
    if let Some(extensions) = extensions {
        read_extensions(extensions, &mut info).ok_or_else(|| malformed("extensions"))?;
    }
    Ok(info)
}

fn validity_of(validity: &[u8]) -> Option<(i64, i64)> {
    let (tag, not_before, rest) = element(validity)?;
    let not_before = time(tag, not_before)?;
    let (tag, not_after, _) = element(rest)?;
    let not_after = time(tag, not_after)?;
    Some((i64::try_from(not_before).ok()?, i64::try_from(not_after).ok()?))
}

/// `[3] EXPLICIT SEQUENCE OF Extension`: the SAN's dNSNames and the
/// authority key identifier; other extensions are skipped.
fn read_extensions(explicit: &[u8], info: &mut CertInfo) -> Option<()> {
    let (SEQUENCE, mut list, _) = element(explicit)? else { return None };
    let (san, aki) = (oid(SUBJECT_ALT_NAME), oid(AUTHORITY_KEY_ID));
    while !list.is_empty() {
        let (SEQUENCE, extension, after) = element(list)? else { return None };
        list = after;
        let id_len = extension.len() - element(extension)?.2.len();
        let (id, mut rest) = extension.split_at(id_len);
        if let Some((BOOLEAN, _, after)) = element(rest) {
            rest = after;
        }
        let (OCTET_STRING, value, _) = element(rest)? else { return None };
        if id == san {
            let (SEQUENCE, mut names, _) = element(value)? else { return None };
            while !names.is_empty() {
                let (tag, name, after) = element(names)?;
                names = after;
                if tag == CONTEXT | 2 {
                    info.names.push(std::str::from_utf8(name).ok().filter(|n| n.is_ascii())?.to_string());
                }
            }
        } else if id == aki {
            // `SEQUENCE { keyIdentifier [0] IMPLICIT OCTET STRING OPTIONAL, .. }`
            let (SEQUENCE, fields, _) = element(value)? else { return None };
            if let Some((tag, key_id, _)) = element(fields) {
                if tag == CONTEXT {
                    info.authority_key_id = Some(key_id.to_vec());
                }
            }
        }
    }
    Some(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::acme::json::tests::Random;
    use crate::acme::jws::AccountKey;
    use std::path::{Path, PathBuf};
    use std::process::Command;

    fn hex(text: &str) -> Vec<u8> {
        let digits: Vec<u8> = text.bytes().filter(u8::is_ascii_hexdigit).collect();
        digits.chunks(2).map(|pair| u8::from_str_radix(std::str::from_utf8(pair).unwrap(), 16).unwrap()).collect()
    }

    fn sha256(bytes: &[u8]) -> [u8; 32] {
        ring::digest::digest(&ring::digest::SHA256, bytes).as_ref().try_into().unwrap()
    }

    /// A directory of its own for one test's files.
    fn scratch(test: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("mote-der-{}-{test}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    /// Runs openssl (the Makefile's TLS targets install it), returning
    /// stdout and stderr together; a failure shows both.
    fn openssl(dir: &Path, args: &[&str]) -> String {
        let output = Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .output()
            .expect("openssl must be installed (make test installs it)");
        let text = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
        assert!(output.status.success(), "openssl {args:?}:\n{text}");
        text
    }

    fn pem_blocks(text: &str) -> Vec<Vec<u8>> {
        text.split("-----BEGIN CERTIFICATE-----")
            .skip(1)
            .map(|block| base64::std_decode(block.split("-----END").next().unwrap()).unwrap())
            .collect()
    }

    #[test]
    fn lengths_take_the_fewest_bytes() {
        // X.690 §8.1.3 and §10.1: short form below 128, else long form.
        let rows: &[(usize, &[u8])] = &[
            (0, &[0x04, 0x00]),
            (1, &[0x04, 0x01]),
            (127, &[0x04, 0x7f]),
            (128, &[0x04, 0x81, 0x80]),
            (255, &[0x04, 0x81, 0xff]),
            (256, &[0x04, 0x82, 0x01, 0x00]),
            (65_535, &[0x04, 0x82, 0xff, 0xff]),
            (65_536, &[0x04, 0x83, 0x01, 0x00, 0x00]),
        ];
        for (len, header) in rows {
            let out = octet_string(&vec![7; *len]);
            assert_eq!(&out[..header.len()], *header, "{len}");
            assert_eq!(out.len(), header.len() + len);
            assert_eq!(
                element(&out).map(|(tag, contents, rest)| (tag, contents.len(), rest.len())),
                Some((0x04, *len, 0))
            );
        }
    }

    #[test]
    fn integers_are_minimal_and_non_negative() {
        // X.690 §8.3.2: no leading 00 unless the next byte's top bit is set.
        let rows: &[(&[u8], &[u8])] = &[
            (&[], &[0x02, 0x01, 0x00]),
            (&[0], &[0x02, 0x01, 0x00]),
            (&[0, 0, 1], &[0x02, 0x01, 0x01]),
            (&[0x7f], &[0x02, 0x01, 0x7f]),
            (&[0x80], &[0x02, 0x02, 0x00, 0x80]),
            (&[0x00, 0x87, 0x65, 0x43, 0x21], &[0x02, 0x05, 0x00, 0x87, 0x65, 0x43, 0x21]),
            (&[0x01, 0x00], &[0x02, 0x02, 0x01, 0x00]),
        ];
        for (magnitude, der) in rows {
            assert_eq!(integer(magnitude), *der, "{magnitude:02x?}");
        }
    }

    #[test]
    fn object_identifiers_per_x690() {
        let rows: &[(&[u32], &str)] = &[
            (&[2, 999, 3], "06 03 88 37 03"), // X.690 §8.19.5's example
            (ACME_IDENTIFIER, "06 08 2b 06 01 05 05 07 01 1f"),
            (ECDSA_WITH_SHA256, "06 08 2a 86 48 ce 3d 04 03 02"),
            (EC_PUBLIC_KEY, "06 07 2a 86 48 ce 3d 02 01"),
            (PRIME256V1, "06 08 2a 86 48 ce 3d 03 01 07"),
            (EXTENSION_REQUEST, "06 09 2a 86 48 86 f7 0d 01 09 0e"),
            (SUBJECT_ALT_NAME, "06 03 55 1d 11"),
            (AUTHORITY_KEY_ID, "06 03 55 1d 23"),
            (COMMON_NAME, "06 03 55 04 03"),
        ];
        for (arcs, der) in rows {
            assert_eq!(oid(arcs), hex(der), "{arcs:?}");
        }
    }

    #[test]
    fn writes_the_other_elements() {
        let rows: &[(&str, Vec<u8>, &str)] = &[
            ("BOOLEAN TRUE is ff (X.690 §11.1)", boolean(true), "01 01 ff"),
            ("BIT STRING: no unused bits", bit_string(&[0xa5]), "03 02 00 a5"),
            ("UTF8String", utf8_string("a.b"), "0c 03 61 2e 62"),
            ("[0] EXPLICIT", explicit(0, &integer(&[2])), "a0 03 02 01 02"),
            ("[2] IMPLICIT IA5String", implicit(2, false, b"x"), "82 01 78"),
            ("[0] IMPLICIT SET", implicit(0, true, &[]), "a0 00"),
            ("SET", set(&[&[0x05, 0x00]]), "31 02 05 00"),
            (
                "non-critical extension leaves BOOLEAN out",
                extension(&[2, 5, 29, 17], false, &[0x30, 0x00]),
                "30 09 06 03 55 1d 11 04 02 30 00",
            ),
        ];
        for (name, der, expected) in rows {
            assert_eq!(*der, hex(expected), "{name}");
        }
    }

    #[test]
    fn acme_identifier_extension_per_rfc_8737() {
        // §3: critical, extnValue = DER of the 32-byte OCTET STRING. The
        // key authorization is RFC 8555 §8.3's token with RFC 7515 A.3's key.
        let key_authorization =
            "evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA.oKIywvGUpTVTyxMQ3bwIIeQUudfr_CkLMjCE19ECD-U";
        let digest = sha256(key_authorization.as_bytes());
        let expected = [&hex("30 31  06 08 2b 06 01 05 05 07 01 1f  01 01 ff  04 22 04 20")[..], &digest].concat();
        assert_eq!(acme_identifier(&digest), expected);

        let (key, _) = generate_key().unwrap();
        let cert = alpn_challenge_cert("a.example", &digest, &key).unwrap();
        assert!(cert.windows(expected.len()).any(|w| w == expected), "the extension, byte for byte");
    }

    #[test]
    fn openssl_reads_the_request() {
        let dir = scratch("csr");
        let (key, _) = generate_key().unwrap();
        let names = ["a.example".to_string(), "www.a.example".to_string()];
        std::fs::write(dir.join("a.der"), csr(&names, &key).unwrap()).unwrap();
        let text = openssl(&dir, &["req", "-inform", "DER", "-in", "a.der", "-noout", "-text", "-verify"]);
        assert!(text.contains("verify OK"), "{text}");
        assert!(text.contains("Subject: CN = a.example"), "{text}");
        assert!(text.contains("Requested Extensions:"), "{text}");
        assert!(text.contains("DNS:a.example, DNS:www.a.example\n"), "{text}");
        assert!(text.contains("Signature Algorithm: ecdsa-with-SHA256"), "{text}");
        assert!(text.contains("NIST CURVE: P-256"), "{text}");

        // A key loaded for JWS (r‖s) signs a valid request too; a first
        // name too long for a CN leaves the subject empty.
        let (_, pkcs8) = AccountKey::generate().unwrap();
        let fixed =
            EcdsaKeyPair::from_pkcs8(&ring::signature::ECDSA_P256_SHA256_FIXED_SIGNING, &pkcs8, &SystemRandom::new())
                .unwrap();
        let long = format!("{}.example", "x".repeat(60));
        std::fs::write(dir.join("b.der"), csr(std::slice::from_ref(&long), &fixed).unwrap()).unwrap();
        let text = openssl(&dir, &["req", "-inform", "DER", "-in", "b.der", "-noout", "-text", "-verify"]);
        assert!(text.contains("verify OK"), "{text}");
        assert!(text.contains("Subject: \n") || text.contains("Subject:\n"), "{text}");
        assert!(text.contains(&format!("DNS:{long}\n")), "{text}");
        // RFC 5280 §4.2.1.6: then the SAN is critical.
        assert!(text.contains("X509v3 Subject Alternative Name: critical"), "{text}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn refuses_requests_it_cannot_write() {
        let (key, _) = generate_key().unwrap();
        assert!(csr(&[], &key).is_err());
        assert!(csr(&["bücher.example".to_string()], &key).is_err(), "IDNs go as xn--");
        assert!(csr(&["a.example".to_string(), String::new()], &key).is_err());
        assert!(csr(&["a b".to_string()], &key).is_err());
        let p384 = EcdsaKeyPair::generate_pkcs8(&ring::signature::ECDSA_P384_SHA384_ASN1_SIGNING, &SystemRandom::new())
            .unwrap();
        let p384 = EcdsaKeyPair::from_pkcs8(
            &ring::signature::ECDSA_P384_SHA384_ASN1_SIGNING,
            p384.as_ref(),
            &SystemRandom::new(),
        )
        .unwrap();
        assert_eq!(csr(&["a.example".to_string()], &p384), Err("certificate key: not a P-256 key".to_string()));
    }

    #[test]
    fn openssl_reads_the_challenge_certificate() {
        let dir = scratch("alpn");
        let (key, _) = generate_key().unwrap();
        let digest = sha256(b"token.thumbprint");
        let cert = alpn_challenge_cert("a.example", &digest, &key).unwrap();
        std::fs::write(dir.join("c.pem"), pem("CERTIFICATE", &cert)).unwrap();
        let text = openssl(&dir, &["x509", "-in", "c.pem", "-noout", "-text"]);
        assert!(text.contains("Version: 3 (0x2)"), "{text}");
        assert!(text.contains("1.3.6.1.5.5.7.1.31: critical"), "{text}");
        assert!(text.contains("X509v3 Subject Alternative Name: \n                DNS:a.example\n"), "{text}");
        assert!(text.contains("Signature Algorithm: ecdsa-with-SHA256"), "{text}");
        // Self-signed with a valid signature; the acmeIdentifier is unknown
        // to openssl, and critical, hence -ignore_critical.
        let verify = openssl(&dir, &["verify", "-ignore_critical", "-partial_chain", "-CAfile", "c.pem", "c.pem"]);
        assert!(verify.contains("c.pem: OK"), "{verify}");
        // The extension's value as openssl finds it in the parsed certificate.
        let parsed = openssl(&dir, &["asn1parse", "-in", "c.pem"]);
        let value_hex: String = digest.iter().map(|b| format!("{b:02X}")).collect();
        assert!(parsed.contains(&format!("[HEX DUMP]:0420{value_hex}")), "{parsed}");

        let info = cert_info(&cert).unwrap();
        assert_eq!(info.names, ["a.example"]);
        assert_eq!((info.not_before, info.not_after), (0, 253_402_300_799));
        assert_eq!(info.authority_key_id, None);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn pem_lines_are_64_characters() {
        let text = pem("CERTIFICATE", &[0xab; 100]);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.first(), Some(&"-----BEGIN CERTIFICATE-----"));
        assert_eq!(lines.last(), Some(&"-----END CERTIFICATE-----"));
        assert_eq!(lines[1..lines.len() - 1].iter().map(|l| l.len()).collect::<Vec<_>>(), [64, 64, 8]);
        assert_eq!(pem_blocks(&text), [vec![0xab; 100]]);
    }

    /// RFC 9773 Appendix A's example certificate.
    const ARI_EXAMPLE: &str = "
MIIBQzCB66ADAgECAgUAh2VDITAKBggqhkjOPQQDAjAVMRMwEQYDVQQDEwpFeGFt
cGxlIENBMCIYDzAwMDEwMTAxMDAwMDAwWhgPMDAwMTAxMDEwMDAwMDBaMBYxFDAS
BgNVBAMTC2V4YW1wbGUuY29tMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEeBZu
7cbpAYNXZLbbh8rNIzuOoqOOtmxA1v7cRm//AwyMwWxyHz4zfwmBhcSrf47NUAFf
qzLQ2PPQxdTXREYEnKMjMCEwHwYDVR0jBBgwFoAUaYhba4dGQEHhs3uEe6CuLN4B
yNQwCgYIKoZIzj0EAwIDRwAwRAIge09+S5TZAlw5tgtiVvuERV6cT4mfutXIlwTb
+FYN/8oCIClDsqBklhB9KAelFiYt9+6FDj3z4KGVelYM5MdsO3pK";

    #[test]
    fn reads_the_rfc_9773_example() {
        let info = cert_info(&base64::std_decode(ARI_EXAMPLE).unwrap()).unwrap();
        assert_eq!(info.serial, [0x00, 0x87, 0x65, 0x43, 0x21], "§4.1: the leading zero kept");
        assert_eq!(info.authority_key_id, Some(hex("69:88:5B:6B:87:46:40:41:E1:B3:7B:84:7B:A0:AE:2C:DE:01:C8:D4")));
        assert_eq!(info.renewal_id().as_deref(), Some("aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE"));
        assert_eq!(info.names, Vec::<String>::new());
        assert_eq!((info.not_before, info.not_after), (0, 0), "GeneralizedTime in year 1");
    }

    /// An openssl configuration for a chain shaped like Let's Encrypt's:
    /// an RSA root, an ECDSA intermediate, a short-lived leaf with the
    /// extensions a public CA puts in.
    const CHAIN_CONFIG: &str = "
[req]
distinguished_name = dn
prompt = no
[dn]
CN = placeholder
[root]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[intermediate]
basicConstraints = critical, CA:TRUE, pathlen:0
keyUsage = critical, digitalSignature, keyCertSign, cRLSign
extendedKeyUsage = serverAuth, clientAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
authorityInfoAccess = caIssuers;URI:http://x1.i.example/
crlDistributionPoints = URI:http://x1.c.example/
certificatePolicies = 2.23.140.1.2.1
[leaf]
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth, clientAuth
basicConstraints = critical, CA:FALSE
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
authorityInfoAccess = caIssuers;URI:http://e5.i.example/
subjectAltName = DNS:a.example, IP:192.0.2.1, DNS:www.a.example, email:x@a.example
certificatePolicies = 2.23.140.1.2.1
crlDistributionPoints = URI:http://e5.c.example/1.crl
1.3.6.1.4.1.11129.2.4.2 = ASN1:FORMAT:HEX,OCTETSTRING:00000000
";

    /// Makes the chain with openssl: root (RSA, until 2052, so its
    /// notAfter is a GeneralizedTime), intermediate, leaf (7 days, a
    /// serial whose top bit is set).
    fn make_chain(dir: &Path) -> String {
        std::fs::write(dir.join("chain.cnf"), CHAIN_CONFIG).unwrap();
        let run = |args: &str| openssl(dir, &args.split(' ').collect::<Vec<_>>());
        run("req -x509 -config chain.cnf -extensions root -newkey rsa:2048 -nodes -keyout root.key -out root.pem -days 9500 -subj /CN=Root -set_serial 1");
        run("req -new -config chain.cnf -newkey ec -pkeyopt ec_paramgen_curve:P-384 -nodes -keyout int.key -out int.csr -subj /CN=E5");
        run("x509 -req -in int.csr -CA root.pem -CAkey root.key -extfile chain.cnf -extensions intermediate -days 1000 -set_serial 0x7a11 -out int.pem");
        run("req -new -config chain.cnf -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout leaf.key -out leaf.csr -subj /CN=a.example");
        run("x509 -req -in leaf.csr -CA int.pem -CAkey int.key -extfile chain.cnf -extensions leaf -days 7 -set_serial 0x8b6a3f0e11c2d4e5f60718293a4b5c6d7e8f -out leaf.pem");
        ["leaf.pem", "int.pem", "root.pem"].map(|file| std::fs::read_to_string(dir.join(file)).unwrap()).concat()
    }

    /// What openssl says of one certificate: serial (hex), the two dates,
    /// the DNS names and the authority key id.
    fn openssl_view(dir: &Path, pem_text: &str) -> (Vec<u8>, i64, i64, Vec<String>, Option<Vec<u8>>) {
        std::fs::write(dir.join("one.pem"), pem_text).unwrap();
        let text = openssl(
            dir,
            &[
                "x509",
                "-in",
                "one.pem",
                "-noout",
                "-serial",
                "-dates",
                "-dateopt",
                "iso_8601",
                "-ext",
                "subjectAltName,authorityKeyIdentifier",
            ],
        );
        let after = |prefix: &str| {
            text.lines()
                .find_map(|l| l.strip_prefix(prefix))
                .unwrap_or_else(|| panic!("{prefix} in {text}"))
                .trim()
                .to_string()
        };
        let date = |prefix: &str| {
            // 2025-01-31 12:34:56Z
            let d = after(prefix);
            let n = |at: std::ops::Range<usize>| d[at].parse::<i64>().unwrap();
            mote_site::date::days_from_civil(n(0..4), n(5..7) as u32, n(8..10) as u32) * 86_400
                + n(11..13) * 3600
                + n(14..16) * 60
                + n(17..19)
        };
        let lines: Vec<&str> = text.lines().collect();
        let next_to =
            |heading: &str| lines.iter().position(|l| l.starts_with(heading)).map(|i| lines[i + 1].trim().to_string());
        let names = next_to("X509v3 Subject Alternative Name").map_or(Vec::new(), |line| {
            line.split(", ").filter_map(|n| n.strip_prefix("DNS:")).map(str::to_string).collect()
        });
        let key_id = next_to("X509v3 Authority Key Identifier").map(|line| hex(line.trim_start_matches("keyid:")));
        (hex(&after("serial=")), date("notBefore="), date("notAfter="), names, key_id)
    }

    #[test]
    fn reads_what_openssl_reads_in_a_chain() {
        let dir = scratch("chain");
        let chain = make_chain(&dir);
        let certs = pem_blocks(&chain);
        assert_eq!(certs.len(), 3);
        let pems: Vec<String> = certs.iter().map(|der| pem("CERTIFICATE", der)).collect();
        for (der, pem_text) in certs.iter().zip(&pems) {
            let info = cert_info(der).unwrap();
            let (serial, not_before, not_after, names, key_id) = openssl_view(&dir, pem_text);
            let magnitude = &info.serial[info.serial.iter().take_while(|&&b| b == 0).count()..];
            assert_eq!(magnitude, serial, "openssl prints the serial without its sign byte");
            assert_eq!((info.not_before, info.not_after), (not_before, not_after));
            assert_eq!(info.names, names);
            assert_eq!(info.authority_key_id, key_id);
        }
        let leaf = cert_info(&certs[0]).unwrap();
        assert_eq!(leaf.names, ["a.example", "www.a.example"], "IP and email names are not dNSNames");
        assert_eq!(leaf.serial[0], 0, "a leading zero before the top bit");
        assert_eq!(leaf.not_after - leaf.not_before, 7 * 86_400);
        assert!(leaf.authority_key_id.is_some());
        let root = cert_info(&certs[2]).unwrap();
        assert_eq!(root.authority_key_id, None);
        assert!(root.not_after > 2_524_608_000, "past 2049: GeneralizedTime");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn never_panics_on_broken_certificates() {
        let dir = scratch("broken");
        let mut samples = pem_blocks(&make_chain(&dir));
        let _ = std::fs::remove_dir_all(&dir);
        let (key, _) = generate_key().unwrap();
        samples.push(alpn_challenge_cert("a.example", &[1; 32], &key).unwrap());
        samples.push(base64::std_decode(ARI_EXAMPLE).unwrap());
        for cert in &samples {
            assert!(cert_info(cert).is_ok());
            for len in 0..cert.len() {
                assert!(cert_info(&cert[..len]).is_err(), "a prefix of {len} bytes");
            }
            assert!(cert_info(&[&cert[..], &[0]].concat()).is_err(), "a byte after it");
        }
        let mut random = Random(0x5851_f42d_4c95_7f2d);
        for _ in 0..20_000 {
            let mut cert = samples[random.below(samples.len())].clone();
            for _ in 0..1 + random.below(4) {
                let at = random.below(cert.len());
                cert[at] = random.next() as u8;
            }
            let _ = cert_info(&cert);
        }
        let rows: &[(&str, Vec<u8>)] = &[
            ("empty", vec![]),
            ("a tag alone", vec![0x30]),
            ("indefinite length", vec![0x30, 0x80, 0x00, 0x00]),
            ("length of five bytes", vec![0x30, 0x85, 0, 0, 0, 0, 1, 0]),
            ("length past the end", vec![0x30, 0x84, 0xff, 0xff, 0xff, 0xff]),
            ("not a SEQUENCE", vec![0x31, 0x00]),
            ("empty tbsCertificate", vec![0x30, 0x02, 0x30, 0x00]),
            ("SEQUENCEs nested far deeper than any certificate", {
                let mut nested = Vec::new();
                for _ in 0..2_000 {
                    nested = sequence(&[&nested]);
                }
                nested
            }),
        ];
        for (name, bytes) in rows {
            assert!(cert_info(bytes).is_err(), "{name}");
        }
    }
}
