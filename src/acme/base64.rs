//! Base64url (RFC 4648 §5) without padding, as JWS and ACME put it
//! everywhere (RFC 7515 §2, RFC 8555 §6.1). The client only writes it; the
//! tests also read it back, strictly (§3.5: no padding, no white space, no
//! stray bits), and write and read the standard padded alphabet of PEM.
#![forbid(unsafe_code)]

#[cfg(test)]
const STANDARD: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const URL: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// RFC 4648 §5 without padding, as RFC 7515 §2 defines base64url.
pub fn url(bytes: &[u8]) -> String {
    encode(bytes, URL, false)
}

/// RFC 4648 §4, padded.
#[cfg(test)]
pub fn standard(bytes: &[u8]) -> String {
    encode(bytes, STANDARD, true)
}

fn encode(bytes: &[u8], alphabet: &[u8; 64], pad: bool) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let bits = chunk.iter().enumerate().fold(0u32, |bits, (i, &b)| bits | u32::from(b) << (16 - 8 * i));
        let symbols = chunk.len() + 1;
        for i in 0..4 {
            if i < symbols {
                out.push(char::from(alphabet[(bits >> (18 - 6 * i) & 63) as usize]));
            } else if pad {
                out.push('=');
            }
        }
    }
    out
}

/// RFC 4648 §5 without padding; `None` for anything else, including a
/// last symbol with bits that no encoder sets (§3.5).
#[cfg(test)]
pub fn url_decode(text: &str) -> Option<Vec<u8>> {
    let text = text.as_bytes();
    if text.len() % 4 == 1 {
        return None;
    }
    let value = |b: u8| URL.iter().position(|&symbol| symbol == b).map(|at| at as u32);
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    for chunk in text.chunks(4) {
        let mut bits = 0u32;
        for &b in chunk {
            bits = bits << 6 | value(b)?;
        }
        bits <<= 6 * (4 - chunk.len()) as u32;
        let bytes = chunk.len() * 6 / 8;
        if bits & (0xff_ffff >> (8 * bytes)) != 0 {
            return None;
        }
        out.extend_from_slice(&bits.to_be_bytes()[1..1 + bytes]);
    }
    Some(out)
}

/// RFC 4648 §4, padded, with the line breaks of a PEM body (RFC 7468 §2)
/// or any other white space skipped.
#[cfg(test)]
pub fn std_decode(text: &str) -> Option<Vec<u8>> {
    let symbols: Vec<u8> = text.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    crate::http::auth::decode_base64(&symbols)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc_4648_test_vectors() {
        // §10, in both alphabets (base64url drops the padding, RFC 7515 §2).
        let rows: &[(&str, &str, &str)] = &[
            ("", "", ""),
            ("f", "Zg==", "Zg"),
            ("fo", "Zm8=", "Zm8"),
            ("foo", "Zm9v", "Zm9v"),
            ("foob", "Zm9vYg==", "Zm9vYg"),
            ("fooba", "Zm9vYmE=", "Zm9vYmE"),
            ("foobar", "Zm9vYmFy", "Zm9vYmFy"),
        ];
        for (bytes, padded, unpadded) in rows {
            assert_eq!(standard(bytes.as_bytes()), *padded);
            assert_eq!(std_decode(padded).as_deref(), Some(bytes.as_bytes()), "{padded}");
            assert_eq!(url(bytes.as_bytes()), *unpadded);
            assert_eq!(url_decode(unpadded).as_deref(), Some(bytes.as_bytes()), "{unpadded}");
        }
    }

    #[test]
    fn the_alphabets_differ_in_two_symbols() {
        // RFC 4648 §5: 62 and 63 are `-` and `_` instead of `+` and `/`.
        let bytes = [0xfb, 0xef, 0xff];
        assert_eq!(standard(&bytes), "++//");
        assert_eq!(url(&bytes), "--__");
        assert_eq!(url_decode("--__").as_deref(), Some(&bytes[..]));
        assert_eq!(std_decode("++//").as_deref(), Some(&bytes[..]));
        // RFC 7515 Appendix C's example: the bytes 3, 236, 255, 224, 193.
        assert_eq!(url(&[3, 236, 255, 224, 193]), "A-z_4ME");
        assert_eq!(url_decode("A-z_4ME"), Some(vec![3, 236, 255, 224, 193]));
    }

    #[test]
    fn url_decode_is_strict() {
        let rows: &[(&str, &str)] = &[
            ("§5: padding is not base64url here", "Zg=="),
            ("§5: the standard alphabet's +", "+w"),
            ("§5: the standard alphabet's /", "/w"),
            ("§3.3: white space", "Zm9v Yg"),
            ("§3.3: a line break", "Zm9v\nYg"),
            ("one symbol is no byte", "Zm9vY"),
            ("§3.5: stray bits after one byte", "Zh"),
            ("§3.5: stray bits after two bytes", "Zm9"),
            ("not ASCII", "Zm9vé"),
        ];
        for (name, text) in rows {
            assert_eq!(url_decode(text), None, "{name}");
        }
    }

    #[test]
    fn std_decode_reads_pem_bodies() {
        assert_eq!(std_decode("Zm9v\r\nYmFy\n").as_deref(), Some(&b"foobar"[..]));
        assert_eq!(std_decode("  Zm9vYg==\n").as_deref(), Some(&b"foob"[..]));
        assert_eq!(std_decode("Zm9vYg"), None, "PEM is padded");
        assert_eq!(std_decode("Zm9v-_"), None);
    }

    #[test]
    fn every_length_and_byte_round_trips() {
        let bytes: Vec<u8> = (0..=255).collect();
        for len in 0..bytes.len() {
            let slice = &bytes[len / 2..len];
            assert_eq!(url_decode(&url(slice)).as_deref(), Some(slice));
            assert_eq!(std_decode(&standard(slice)).as_deref(), Some(slice));
        }
    }
}
