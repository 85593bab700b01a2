//! Signed requests: every ACME request is a flattened JSON JWS (RFC 7515
//! §7.2.2, RFC 8555 §6.2) signed with the account key, ES256 (ECDSA P-256,
//! SHA-256). JWS wants the signature as fixed-width r‖s (RFC 7518 §3.4),
//! not the DER that X.509 uses, so the account key signs with ring's FIXED
//! form. The key's JWK in RFC 7638's canonical form names the account in
//! key authorizations (RFC 8555 §8.1), through its SHA-256 thumbprint.
//! The protected headers are built here too, so a request's JSON is never
//! assembled from unquoted pieces.
#![forbid(unsafe_code)]

use ring::rand::SystemRandom;
use ring::signature::{EcdsaKeyPair, KeyPair, ECDSA_P256_SHA256_FIXED_SIGNING};

use super::base64;
use super::json::quote;

/// One coordinate of a P-256 point, in bytes.
const P256_COORDINATE: usize = 32;

/// The ACME account's key pair: P-256, signing JWS's r‖s form.
pub struct AccountKey {
    pair: EcdsaKeyPair,
    random: SystemRandom,
}

impl AccountKey {
    /// A new key, and its PKCS #8 document to store.
    pub fn generate() -> Result<(AccountKey, Vec<u8>), String> {
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &SystemRandom::new())
            .map_err(|_| "account key: the system's random source failed".to_string())?;
        let key = AccountKey::from_pkcs8(pkcs8.as_ref())?;
        Ok((key, pkcs8.as_ref().to_vec()))
    }

    /// A key stored by `generate`: PKCS #8 (RFC 5208) of a P-256 key.
    pub fn from_pkcs8(pkcs8: &[u8]) -> Result<AccountKey, String> {
        let random = SystemRandom::new();
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8, &random)
            .map_err(|e| format!("account key: not a P-256 key in PKCS #8 ({e})"))?;
        Ok(AccountKey { pair, random })
    }

    /// The public key as a JWK with only its required members, in
    /// lexicographic order and without white space (RFC 7638 §3.2-3.3), so
    /// the same text is both the `jwk` header and the thumbprint's input.
    pub fn jwk(&self) -> String {
        // The uncompressed point 04 ‖ x ‖ y (SEC 1 §2.3.3), whose halves are
        // the JWK's x and y (RFC 7518 §6.2.1.2-3).
        let point = self.pair.public_key().as_ref();
        let (x, y) = point[1..].split_at(P256_COORDINATE);
        format!(r#"{{"crv":"P-256","kty":"EC","x":"{}","y":"{}"}}"#, base64::url(x), base64::url(y))
    }

    /// RFC 7638 §3: base64url of the SHA-256 of `jwk`.
    pub fn thumbprint(&self) -> String {
        thumbprint(&self.jwk())
    }

    /// RFC 8555 §8.1: `token || '.' || base64url(Thumbprint(accountKey))`.
    pub fn key_authorization(&self, token: &str) -> String {
        format!("{token}.{}", self.thumbprint())
    }

    /// The flattened JWS of `payload` under the `protected` header (from
    /// `protected_jwk` or `protected_kid`). An empty payload is RFC 8555
    /// §6.3's POST-as-GET: `"payload":""`.
    pub fn sign(&self, protected: &str, payload: &[u8]) -> Result<String, String> {
        let protected = base64::url(protected.as_bytes());
        let payload = base64::url(payload);
        let input = format!("{protected}.{payload}");
        let signature = self
            .pair
            .sign(&self.random, input.as_bytes())
            .map_err(|_| "account key: signing failed (the system's random source)".to_string())?;
        Ok(flattened(&protected, &payload, signature.as_ref()))
    }
}

/// The protected header of a request that carries the account's key
/// itself: newAccount, and revocation by the certificate's key (RFC 8555
/// §6.2: `jwk` there, `kid` everywhere else).
pub fn protected_jwk(url: &str, nonce: &str, key: &AccountKey) -> String {
    format!(r#"{{"alg":"ES256","jwk":{},"nonce":{},"url":{}}}"#, key.jwk(), quote(nonce), quote(url))
}

/// The protected header of a request by an existing account, `kid` being
/// its URL (RFC 8555 §6.2).
pub fn protected_kid(url: &str, nonce: &str, kid: &str) -> String {
    format!(r#"{{"alg":"ES256","kid":{},"nonce":{},"url":{}}}"#, quote(kid), quote(nonce), quote(url))
}

/// RFC 7515 §7.2.2; the three members are base64url, which needs no quoting.
fn flattened(protected: &str, payload: &str, signature: &[u8]) -> String {
    format!(r#"{{"protected":"{protected}","payload":"{payload}","signature":"{}"}}"#, base64::url(signature))
}

fn thumbprint(jwk: &str) -> String {
    base64::url(ring::digest::digest(&ring::digest::SHA256, jwk.as_bytes()).as_ref())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::acme::json::{self, Value};
    use ring::signature::{UnparsedPublicKey, ECDSA_P256_SHA256_ASN1, ECDSA_P256_SHA256_FIXED};

    // RFC 7515 Appendix A.3.1: the ES256 example's key.
    const A3_X: &str = "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU";
    const A3_Y: &str = "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0";
    const A3_D: &str = "jpsQnnGQmL-YBIffH1136cspYG6-0iY7X1fCE9-E9LI";
    /// The example's payload, with its CRLF line breaks.
    const A_PAYLOAD: &[u8] = b"{\"iss\":\"joe\",\r\n \"exp\":1300819380,\r\n \"http://example.com/is_root\":true}";
    const A_PAYLOAD_B64: &str =
        "eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ";
    /// A.3.1's JWS Signing Input and A.3.1's signature.
    const A3_SIGNING_INPUT: &str = "eyJhbGciOiJFUzI1NiJ9.eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ";
    const A3_SIGNATURE: &str = "DtEhU3ljbEg8L38VWAfUAqOyKAM6-Xx-F4GawxaepmXFCgfTjDxw5djxLa8ISlSApmWQxfKTUJqPP3-Kg6NU1Q";

    fn point(x: &str, y: &str) -> Vec<u8> {
        [&[4][..], &base64::url_decode(x).unwrap(), &base64::url_decode(y).unwrap()].concat()
    }

    fn a3_key() -> AccountKey {
        let random = SystemRandom::new();
        let d = base64::url_decode(A3_D).unwrap();
        let pair = EcdsaKeyPair::from_private_key_and_public_key(
            &ECDSA_P256_SHA256_FIXED_SIGNING,
            &d,
            &point(A3_X, A3_Y),
            &random,
        )
        .unwrap();
        AccountKey { pair, random }
    }

    /// The three members of a flattened JWS, and its signature decoded.
    fn members(jws: &str) -> (String, String, Vec<u8>) {
        let value = json::parse(jws.as_bytes()).unwrap();
        let Value::Object(members) = &value else { panic!("{jws}") };
        let names: Vec<&str> = members.iter().map(|(name, _)| name.as_str()).collect();
        assert_eq!(names, ["protected", "payload", "signature"]);
        let member = |name| value.get(name).and_then(Value::as_str).unwrap().to_string();
        (member("protected"), member("payload"), base64::url_decode(&member("signature")).unwrap())
    }

    #[test]
    fn signs_the_rfc_7515_a3_example() {
        let key = a3_key();
        let public = UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, point(A3_X, A3_Y));
        // The RFC's own signature verifies over the RFC's signing input...
        let theirs = base64::url_decode(A3_SIGNATURE).unwrap();
        assert!(public.verify(A3_SIGNING_INPUT.as_bytes(), &theirs).is_ok());
        assert!(public.verify(&A3_SIGNING_INPUT.as_bytes()[1..], &theirs).is_err());

        // ...and ours: same header and payload encodings, a signature over
        // the same input (ECDSA is randomized, so not the same bytes).
        let (protected, payload, ours) = members(&key.sign(r#"{"alg":"ES256"}"#, A_PAYLOAD).unwrap());
        assert_eq!(protected, "eyJhbGciOiJFUzI1NiJ9");
        assert_eq!(payload, A_PAYLOAD_B64);
        assert_eq!(format!("{protected}.{payload}"), A3_SIGNING_INPUT);
        assert_eq!(ours.len(), 64, "RFC 7518 §3.4: r and s, 32 bytes each");
        assert!(public.verify(A3_SIGNING_INPUT.as_bytes(), &ours).is_ok());
        let der = UnparsedPublicKey::new(&ECDSA_P256_SHA256_ASN1, point(A3_X, A3_Y));
        assert!(der.verify(A3_SIGNING_INPUT.as_bytes(), &ours).is_err(), "not DER");
    }

    #[test]
    fn post_as_get_has_an_empty_payload() {
        let key = a3_key();
        let jws = key
            .sign(&protected_kid("https://example.com/acme/order/1", "n", "https://example.com/acme/acct/1"), b"")
            .unwrap();
        assert!(jws.contains(r#","payload":"","#), "{jws}");
        let (protected, payload, signature) = members(&jws);
        let public = UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, point(A3_X, A3_Y));
        assert!(public.verify(format!("{protected}.{payload}").as_bytes(), &signature).is_ok());
    }

    #[test]
    fn rfc_7638_thumbprint_example() {
        // §3.1: the RSA key's JWK in its canonical form, and its thumbprint.
        let canonical = concat!(
            r#"{"e":"AQAB","kty":"RSA","n":""#,
            "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc",
            "_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQ",
            "R0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bF",
            "TWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw",
            r#""}"#
        );
        assert_eq!(thumbprint(canonical), "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs");
    }

    #[test]
    fn the_ec_jwk_is_in_canonical_form() {
        // RFC 7638 §3.2: crv, kty, x, y, in that order, no white space.
        let key = a3_key();
        assert_eq!(key.jwk(), format!(r#"{{"crv":"P-256","kty":"EC","x":"{A3_X}","y":"{A3_Y}"}}"#));
        // The A.3 key's thumbprint, as computed by other implementations.
        assert_eq!(key.thumbprint(), "oKIywvGUpTVTyxMQ3bwIIeQUudfr_CkLMjCE19ECD-U");

        let (fresh, _) = AccountKey::generate().unwrap();
        let jwk = fresh.jwk();
        let Ok(Value::Object(members)) = json::parse(jwk.as_bytes()) else { panic!("{jwk}") };
        let names: Vec<&str> = members.iter().map(|(name, _)| name.as_str()).collect();
        assert_eq!(names, ["crv", "kty", "x", "y"]);
        assert!(!jwk.contains(char::is_whitespace));
        let coordinate =
            |name: &str| base64::url_decode(members.iter().find(|m| m.0 == name).unwrap().1.as_str().unwrap()).unwrap();
        let (x, y) = (coordinate("x"), coordinate("y"));
        assert_eq!((x.len(), y.len()), (32, 32), "RFC 7518 §6.2.1.2: full length, leading zeros kept");
        assert_eq!([&[4][..], &x, &y].concat(), fresh.pair.public_key().as_ref());
        assert_eq!(fresh.thumbprint(), thumbprint(&jwk));
    }

    #[test]
    fn key_authorization_is_token_dot_thumbprint() {
        // RFC 8555 §8.1, with §8.3's example token.
        let key = a3_key();
        assert_eq!(
            key.key_authorization("evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA"),
            "evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA.oKIywvGUpTVTyxMQ3bwIIeQUudfr_CkLMjCE19ECD-U"
        );
    }

    #[test]
    fn keys_round_trip_through_pkcs8() {
        let (key, pkcs8) = AccountKey::generate().unwrap();
        let again = AccountKey::from_pkcs8(&pkcs8).unwrap();
        assert_eq!(again.jwk(), key.jwk());
        let (other, _) = AccountKey::generate().unwrap();
        assert_ne!(other.jwk(), key.jwk());

        let p384 = ring::signature::EcdsaKeyPair::generate_pkcs8(
            &ring::signature::ECDSA_P384_SHA384_FIXED_SIGNING,
            &SystemRandom::new(),
        )
        .unwrap();
        let rows: &[(&str, &[u8])] = &[
            ("empty", b""),
            ("truncated", &pkcs8[..pkcs8.len() - 1]),
            ("garbage", b"-----BEGIN PRIVATE KEY-----"),
            ("a P-384 key", p384.as_ref()),
        ];
        for (name, bytes) in rows {
            let error = AccountKey::from_pkcs8(bytes).err().unwrap_or_else(|| panic!("{name}"));
            assert!(error.starts_with("account key: "), "{error}");
        }
    }

    #[test]
    fn protected_headers_are_json() {
        let key = a3_key();
        // A nonce or URL with characters JSON must escape still reads back.
        let nonce = "n\"o\\n\u{1}";
        let header =
            json::parse(protected_jwk("https://example.com/acme/new-account", nonce, &key).as_bytes()).unwrap();
        assert_eq!(header.get("alg").and_then(Value::as_str), Some("ES256"));
        assert_eq!(header.get("nonce").and_then(Value::as_str), Some(nonce));
        assert_eq!(header.get("url").and_then(Value::as_str), Some("https://example.com/acme/new-account"));
        assert_eq!(header.get("jwk"), json::parse(key.jwk().as_bytes()).ok().as_ref());
        assert_eq!(header.get("kid"), None, "RFC 8555 §6.2: jwk or kid, not both");

        let header = json::parse(protected_kid("https://e/o", "abc", "https://e/acct/1").as_bytes()).unwrap();
        assert_eq!(header.get("kid").and_then(Value::as_str), Some("https://e/acct/1"));
        assert_eq!(header.get("jwk"), None);
        assert_eq!(header.get("nonce").and_then(Value::as_str), Some("abc"));
    }
}
