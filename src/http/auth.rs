//! HTTP Basic authentication (RFC 7617) for `--auth USER:PASS` and
//! `--auth-file FILE`: every request must carry one of the credentials.
//!
//! Credentials are compared in constant time (every byte of every
//! credential is looked at), so response timing does not tell a guesser how
//! much of a password was right. Base64 is decoded here by hand (RFC 4648 §4).
#![forbid(unsafe_code)]

use super::request::trim;

pub struct Auth {
    /// `user:password` pairs, as the client encodes them.
    credentials: Vec<Vec<u8>>,
}

impl Auth {
    pub fn new(credentials: Vec<Vec<u8>>) -> Auth {
        Auth { credentials }
    }

    /// Reads `user:password` lines; blank lines and `#` comments are skipped.
    pub fn parse_file(path: &str, text: &str) -> Result<Vec<Vec<u8>>, String> {
        let mut credentials = Vec::new();
        for (number, line) in text.lines().enumerate() {
            let line = line.trim_end_matches('\r');
            if line.trim().is_empty() || line.trim_start().starts_with('#') {
                continue;
            }
            if !line.contains(':') || line.starts_with(':') {
                return Err(format!("--auth-file {path}: line {} is not user:password", number + 1));
            }
            credentials.push(line.as_bytes().to_vec());
        }
        if credentials.is_empty() {
            return Err(format!("--auth-file {path}: no user:password lines"));
        }
        Ok(credentials)
    }

    /// Whether an Authorization field value carries a known credential.
    pub fn allows(&self, authorization: Option<&[u8]>) -> bool {
        let Some(value) = authorization.map(trim) else {
            return false;
        };
        if value.len() < 6 || !value[..6].eq_ignore_ascii_case(b"basic ") {
            return false;
        }
        let Some(given) = decode_base64(trim(&value[6..])) else {
            return false;
        };
        let mut found = false;
        for credential in &self.credentials {
            found |= constant_time_eq(credential, &given);
        }
        found
    }
}

/// Compares without stopping at the first difference.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    let mut diff = u8::from(a.len() != b.len());
    for i in 0..a.len().max(b.len()) {
        diff |= a.get(i).copied().unwrap_or(0) ^ b.get(i).copied().unwrap_or(0xff);
    }
    diff == 0
}

/// Standard alphabet, padding required (RFC 4648 §4); `None` if malformed.
pub fn decode_base64(text: &[u8]) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(4) {
        return None;
    }
    let value = |b: u8| -> Option<u32> {
        Some(match b {
            b'A'..=b'Z' => b - b'A',
            b'a'..=b'z' => b - b'a' + 26,
            b'0'..=b'9' => b - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        } as u32)
    };
    let mut out = Vec::with_capacity(text.len() / 4 * 3);
    let quads = text.len() / 4;
    for (i, quad) in text.chunks(4).enumerate() {
        let padding = quad.iter().rev().take_while(|&&b| b == b'=').count();
        if padding > 2 || (padding > 0 && i + 1 != quads) {
            return None;
        }
        let mut bits = 0u32;
        for &b in &quad[..4 - padding] {
            bits = bits << 6 | value(b)?;
        }
        bits <<= 6 * padding as u32;
        let bytes = [(bits >> 16) as u8, (bits >> 8) as u8, bits as u8];
        out.extend_from_slice(&bytes[..3 - padding]);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_rfc4648_vectors() {
        // RFC 4648 §10.
        let rows: &[(&str, &str)] = &[
            ("", ""),
            ("Zg==", "f"),
            ("Zm8=", "fo"),
            ("Zm9v", "foo"),
            ("Zm9vYg==", "foob"),
            ("Zm9vYmE=", "fooba"),
            ("Zm9vYmFy", "foobar"),
        ];
        for (encoded, decoded) in rows {
            assert_eq!(decode_base64(encoded.as_bytes()).as_deref(), Some(decoded.as_bytes()), "{encoded}");
        }
        for bad in ["Zg", "Zg=", "Z===", "Zm9v!A==", "Zg==Zm9v", "Zm 9v"] {
            assert_eq!(decode_base64(bad.as_bytes()), None, "{bad}");
        }
        assert_eq!(decode_base64(b"/+/+").unwrap(), [0xff, 0xef, 0xfe]);
    }

    #[test]
    fn checks_basic_credentials() {
        let auth = Auth::new(vec![b"Aladdin:open sesame".to_vec(), b"pi:raspberry".to_vec()]);
        // RFC 7617 §2 example.
        assert!(auth.allows(Some(b"Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==")));
        assert!(auth.allows(Some(b"basic   cGk6cmFzcGJlcnJ5 ")));
        assert!(!auth.allows(Some(b"Basic cGk6cmFzcGJlcnJ")));
        assert!(!auth.allows(Some(b"Basic cGk6cmFzcGJlcnI=")), "pi:raspberr");
        assert!(!auth.allows(Some(b"Bearer cGk6cmFzcGJlcnJ5")));
        assert!(!auth.allows(Some(b"Basic")));
        assert!(!auth.allows(None));
    }

    #[test]
    fn reads_auth_files() {
        let text = "# users\n\npi:raspberry\r\nme:a:b\n";
        assert_eq!(Auth::parse_file("f", text).unwrap(), vec![b"pi:raspberry".to_vec(), b"me:a:b".to_vec()]);
        assert!(Auth::parse_file("f", "nocolon\n").unwrap_err().contains("line 1"));
        assert!(Auth::parse_file("f", "# only comments\n").is_err());
    }
}
