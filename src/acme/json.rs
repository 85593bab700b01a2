//! JSON (RFC 8259), read and written by hand: the ACME server's directory,
//! accounts, orders, authorizations and problem documents are JSON, and mote
//! brings no serde. The reader is strict and bounded because its input comes
//! from the network: UTF-8 only (§8.1), nothing after the value, a depth and
//! a size limit, and any input gives a value or an error, never a panic.
//! Numbers keep their text (the client reads none). Requests are written by
//! hand with `quote`.
#![forbid(unsafe_code)]

/// Deeper documents are refused: ACME's nest four levels, and the reader
/// recurses once per level on a thread with a small stack.
pub const MAX_DEPTH: usize = 32;
/// Larger documents are refused: an order for a hundred names is ~10 KB.
pub const MAX_BYTES: usize = 256 * 1024;

#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    /// The literal's text, checked against RFC 8259 §6's grammar.
    Number(String),
    String(String),
    Array(Vec<Value>),
    /// Members in document order.
    Object(Vec<(String, Value)>),
}

impl Value {
    /// An object's member named `key`. Of duplicate names (RFC 8259 §4
    /// leaves them to the reader) the last counts, as in ECMAScript.
    pub fn get(&self, key: &str) -> Option<&Value> {
        match self {
            Value::Object(members) => members.iter().rev().find(|(name, _)| name == key).map(|(_, value)| value),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(text) => Some(text),
            _ => None,
        }
    }

    pub fn as_array(&self) -> Option<&[Value]> {
        match self {
            Value::Array(items) => Some(items),
            _ => None,
        }
    }

    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(value) => Some(*value),
            _ => None,
        }
    }

    /// An integer number that fits in 64 bits; not `1.0`, `1e3` or `2^70`.
    #[cfg(test)]
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Value::Number(text) => text.parse().ok(),
            _ => None,
        }
    }
}

/// One JSON text (RFC 8259 §2), with nothing but white space around it.
pub fn parse(bytes: &[u8]) -> Result<Value, String> {
    if bytes.len() > MAX_BYTES {
        return Err(format!("JSON: longer than {MAX_BYTES} bytes"));
    }
    let text = std::str::from_utf8(bytes).map_err(|e| format!("JSON: not UTF-8 at byte {}", e.valid_up_to()))?;
    let mut reader = Reader { text, at: 0 };
    reader.space();
    let value = reader.value(0)?;
    reader.space();
    if reader.at != text.len() {
        return Err(reader.error("bytes after the value"));
    }
    Ok(value)
}

/// `text` as a JSON string literal: quotes, backslashes and control
/// characters escaped (RFC 8259 §7), everything else as it is.
pub fn quote(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{0}'..='\u{1f}' => {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                out.push_str("\\u00");
                out.push(char::from(HEX[usize::from(c as u8 >> 4)]));
                out.push(char::from(HEX[usize::from(c as u8 & 15)]));
            }
            _ => out.push(c),
        }
    }
    out.push('"');
    out
}

struct Reader<'a> {
    text: &'a str,
    /// Always at a character boundary of `text`: it only moves past ASCII
    /// bytes, or to the end of a run that stops at one.
    at: usize,
}

impl Reader<'_> {
    fn error(&self, what: &str) -> String {
        format!("JSON: {what} at byte {}", self.at)
    }

    fn peek(&self) -> Option<u8> {
        self.text.as_bytes().get(self.at).copied()
    }

    fn eat(&mut self, byte: u8) -> bool {
        let found = self.peek() == Some(byte);
        self.at += usize::from(found);
        found
    }

    /// §2: only these four are white space.
    fn space(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.at += 1;
        }
    }

    fn value(&mut self, depth: usize) -> Result<Value, String> {
        match self.peek() {
            Some(b'{') => self.object(depth + 1),
            Some(b'[') => self.array(depth + 1),
            Some(b'"') => self.string().map(Value::String),
            Some(b't') => self.literal("true", Value::Bool(true)),
            Some(b'f') => self.literal("false", Value::Bool(false)),
            Some(b'n') => self.literal("null", Value::Null),
            Some(b'-' | b'0'..=b'9') => self.number(),
            Some(_) => Err(self.error("unexpected byte")),
            None => Err(self.error("unexpected end")),
        }
    }

    fn literal(&mut self, word: &str, value: Value) -> Result<Value, String> {
        if !self.text[self.at..].starts_with(word) {
            return Err(self.error("unexpected byte"));
        }
        self.at += word.len();
        Ok(value)
    }

    fn array(&mut self, depth: usize) -> Result<Value, String> {
        if depth > MAX_DEPTH {
            return Err(self.error("nested too deep"));
        }
        self.at += 1;
        let mut items = Vec::new();
        self.space();
        if self.eat(b']') {
            return Ok(Value::Array(items));
        }
        loop {
            self.space();
            items.push(self.value(depth)?);
            self.space();
            if self.eat(b']') {
                return Ok(Value::Array(items));
            }
            if !self.eat(b',') {
                return Err(self.error("expected , or ]"));
            }
        }
    }

    fn object(&mut self, depth: usize) -> Result<Value, String> {
        if depth > MAX_DEPTH {
            return Err(self.error("nested too deep"));
        }
        self.at += 1;
        let mut members = Vec::new();
        self.space();
        if self.eat(b'}') {
            return Ok(Value::Object(members));
        }
        loop {
            self.space();
            if self.peek() != Some(b'"') {
                return Err(self.error("expected a member name"));
            }
            let name = self.string()?;
            self.space();
            if !self.eat(b':') {
                return Err(self.error("expected :"));
            }
            self.space();
            members.push((name, self.value(depth)?));
            self.space();
            if self.eat(b'}') {
                return Ok(Value::Object(members));
            }
            if !self.eat(b',') {
                return Err(self.error("expected , or }"));
            }
        }
    }

    /// §6: `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`.
    fn number(&mut self) -> Result<Value, String> {
        let start = self.at;
        self.eat(b'-');
        if !self.eat(b'0') && !self.digits() {
            return Err(self.error("bad number"));
        }
        if self.eat(b'.') && !self.digits() {
            return Err(self.error("bad fraction"));
        }
        if self.eat(b'e') || self.eat(b'E') {
            let _ = self.eat(b'+') || self.eat(b'-');
            if !self.digits() {
                return Err(self.error("bad exponent"));
            }
        }
        Ok(Value::Number(self.text[start..self.at].to_string()))
    }

    fn digits(&mut self) -> bool {
        let start = self.at;
        while matches!(self.peek(), Some(b'0'..=b'9')) {
            self.at += 1;
        }
        self.at > start
    }

    /// §7, from the opening quote.
    fn string(&mut self) -> Result<String, String> {
        self.at += 1;
        let mut out = String::new();
        loop {
            let run = self.at;
            while let Some(b) = self.peek() {
                if b == b'"' || b == b'\\' || b < 0x20 {
                    break;
                }
                self.at += 1;
            }
            out.push_str(&self.text[run..self.at]);
            match self.peek() {
                Some(b'"') => {
                    self.at += 1;
                    return Ok(out);
                }
                Some(b'\\') => {
                    self.at += 1;
                    let escaped = self.peek();
                    self.at += 1;
                    out.push(match escaped {
                        Some(b'"') => '"',
                        Some(b'\\') => '\\',
                        Some(b'/') => '/',
                        Some(b'b') => '\u{8}',
                        Some(b'f') => '\u{c}',
                        Some(b'n') => '\n',
                        Some(b'r') => '\r',
                        Some(b't') => '\t',
                        Some(b'u') => self.escaped_char()?,
                        _ => return Err(self.error("bad escape")),
                    });
                }
                Some(_) => return Err(self.error("control character in a string")),
                None => return Err(self.error("unterminated string")),
            }
        }
    }

    /// After `\u`: one code point, or a UTF-16 surrogate pair written as two
    /// escapes (§7); a surrogate alone is refused, since it is no character.
    fn escaped_char(&mut self) -> Result<char, String> {
        let unit = self.hex4()?;
        let code = if (0xd800..0xdc00).contains(&unit) {
            if !self.text[self.at..].starts_with("\\u") {
                return Err(self.error("lone surrogate"));
            }
            self.at += 2;
            let low = self.hex4()?;
            if !(0xdc00..0xe000).contains(&low) {
                return Err(self.error("lone surrogate"));
            }
            0x10000 + ((unit - 0xd800) << 10) + (low - 0xdc00)
        } else {
            unit
        };
        char::from_u32(code).ok_or_else(|| self.error("lone surrogate"))
    }

    fn hex4(&mut self) -> Result<u32, String> {
        let digits = self.text.as_bytes().get(self.at..self.at + 4).ok_or_else(|| self.error("short \\u escape"))?;
        let mut unit = 0;
        for &digit in digits {
            unit = unit * 16 + char::from(digit).to_digit(16).ok_or_else(|| self.error("bad \\u escape"))?;
        }
        self.at += 4;
        Ok(unit)
    }
}

#[cfg(test)]
pub mod tests {
    use super::*;

    fn string(text: &str) -> Value {
        Value::String(text.to_string())
    }

    fn number(text: &str) -> Value {
        Value::Number(text.to_string())
    }

    /// A small deterministic generator (xorshift64), so a failing case
    /// comes back on the next run.
    pub struct Random(pub u64);

    impl Random {
        pub fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }

        pub fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }
    }

    #[test]
    fn reads_the_rfc_8259_examples() {
        // §13, first example.
        let image = br#"{
      "Image": {
          "Width":  800,
          "Height": 600,
          "Title":  "View from 15th Floor",
          "Thumbnail": {
              "Url":    "http://www.example.com/image/481989943",
              "Height": 125,
              "Width":  100
          },
          "Animated" : false,
          "IDs": [116, 943, 234, 38793]
        }
    }"#;
        let value = parse(image).unwrap();
        let image = value.get("Image").unwrap();
        assert_eq!(image.get("Width").and_then(Value::as_i64), Some(800));
        assert_eq!(image.get("Title").and_then(Value::as_str), Some("View from 15th Floor"));
        assert_eq!(
            image.get("Thumbnail").and_then(|t| t.get("Url")),
            Some(&string("http://www.example.com/image/481989943"))
        );
        assert_eq!(image.get("Animated").and_then(Value::as_bool), Some(false));
        let ids: Vec<i64> =
            image.get("IDs").and_then(Value::as_array).unwrap().iter().filter_map(Value::as_i64).collect();
        assert_eq!(ids, [116, 943, 234, 38793]);

        // §13, second example: fractions keep their text.
        let places = br#"[
      {
         "precision": "zip",
         "Latitude":  37.7668,
         "Longitude": -122.3959,
         "Address":   "",
         "City":      "SAN FRANCISCO",
         "State":     "CA",
         "Zip":       "94107",
         "Country":   "US"
      },
      {
         "precision": "zip",
         "Latitude":  37.371991,
         "Longitude": -122.026020,
         "Address":   "",
         "City":      "SUNNYVALE",
         "State":     "CA",
         "Zip":       "94085",
         "Country":   "US"
      }
    ]"#;
        let value = parse(places).unwrap();
        let places = value.as_array().unwrap();
        assert_eq!(places.len(), 2);
        assert_eq!(places[1].get("Longitude"), Some(&number("-122.026020")));
        assert_eq!(places[1].get("Longitude").and_then(Value::as_i64), None);
        assert_eq!(places[0].get("Address"), Some(&string("")));
        assert_eq!(places[0].get("City").and_then(Value::as_str), Some("SAN FRANCISCO"));
    }

    #[test]
    fn reads_an_rfc_8555_directory() {
        // RFC 8555 §7.1.1's example.
        let directory = br#"{
     "newNonce": "https://example.com/acme/new-nonce",
     "newAccount": "https://example.com/acme/new-account",
     "newOrder": "https://example.com/acme/new-order",
     "newAuthz": "https://example.com/acme/new-authz",
     "revokeCert": "https://example.com/acme/revoke-cert",
     "keyChange": "https://example.com/acme/key-change",
     "meta": {
       "termsOfService": "https://example.com/acme/terms/2017-5-30",
       "website": "https://www.example.com/",
       "caaIdentities": ["example.com"],
       "externalAccountRequired": false
     }
   }"#;
        let directory = parse(directory).unwrap();
        assert_eq!(directory.get("newNonce").and_then(Value::as_str), Some("https://example.com/acme/new-nonce"));
        let meta = directory.get("meta").unwrap();
        assert_eq!(
            meta.get("termsOfService").and_then(Value::as_str),
            Some("https://example.com/acme/terms/2017-5-30")
        );
        assert_eq!(meta.get("externalAccountRequired").and_then(Value::as_bool), Some(false));
        assert_eq!(directory.get("renewalInfo"), None);
        assert_eq!(
            directory.get("meta").and_then(|m| m.get("caaIdentities")).and_then(Value::as_array).map(<[_]>::len),
            Some(1)
        );
    }

    #[test]
    fn reads_values_per_rfc_8259() {
        let rows: &[(&str, &str, Value)] = &[
            ("§2: a scalar is a JSON text", "42", number("42")),
            ("§2: white space around", " \t\r\n true \n", Value::Bool(true)),
            ("§3: null", "null", Value::Null),
            ("§4: empty object", "{}", Value::Object(vec![])),
            ("§5: empty array", "[ ]", Value::Array(vec![])),
            ("§6: minus zero", "-0", number("-0")),
            ("§6: fraction and exponent", "-1.5E+10", number("-1.5E+10")),
            ("§6: exponent without sign", "2e3", number("2e3")),
            ("§7: the escapes", r#""\"\\\/\b\f\n\r\t""#, string("\"\\/\u{8}\u{c}\n\r\t")),
            ("§7: \\u005C is a backslash", r#""\u005C""#, string("\\")),
            ("§7: G clef as a surrogate pair", r#""\uD834\uDD1E""#, string("\u{1d11e}")),
            ("§7: lower-case hex", r#""\u00e9""#, string("é")),
            ("§7: NUL escaped is a character", r#""a\u0000b""#, string("a\u{0}b")),
            ("§8.1: UTF-8 as it is", "\"ü€𝄞\"", string("ü€𝄞")),
            (
                "§4: members in order",
                r#"{"b":1,"a":[null]}"#,
                Value::Object(vec![("b".into(), number("1")), ("a".into(), Value::Array(vec![Value::Null]))]),
            ),
        ];
        for (name, text, value) in rows {
            assert_eq!(parse(text.as_bytes()).as_ref(), Ok(value), "{name}");
        }
    }

    #[test]
    fn refuses_what_rfc_8259_does_not_allow() {
        let rows: &[(&str, &[u8])] = &[
            ("§2: empty", b""),
            ("§2: only white space", b" \n"),
            ("§2: trailing garbage", b"{} x"),
            ("§2: two values", b"1 2"),
            ("§2: vertical tab is not white space", b"\x0b1"),
            ("§4: trailing comma", br#"{"a":1,}"#),
            ("§4: name not a string", b"{a:1}"),
            ("§4: missing colon", br#"{"a" 1}"#),
            ("§4: unclosed", br#"{"a":1"#),
            ("§5: trailing comma", b"[1,]"),
            ("§5: missing comma", b"[1 2]"),
            ("§5: leading comma", b"[,1]"),
            ("§6: leading zero", b"01"),
            ("§6: plus sign", b"+1"),
            ("§6: bare minus", b"-"),
            ("§6: fraction without digits", b"1."),
            ("§6: leading dot", b".5"),
            ("§6: exponent without digits", b"1e+"),
            ("§6: NaN", b"NaN"),
            ("§6: Infinity", b"-Infinity"),
            ("§6: hex", b"0x10"),
            ("§7: unterminated", br#""abc"#),
            ("§7: raw control character", b"\"a\x01b\""),
            ("§7: raw newline", b"\"a\nb\""),
            ("§7: unknown escape", br#""\x41""#),
            ("§7: short \\u", br#""\u12""#),
            ("§7: bad hex", br#""\u12G4""#),
            ("§7: single quotes", b"'a'"),
            ("§8.1: byte order mark", b"\xef\xbb\xbf{}"),
            ("§8.1: invalid UTF-8", b"\"\xff\""),
            ("§8.1: overlong UTF-8", b"\"\xc0\x80\""),
            ("§8.1: encoded surrogate", b"\"\xed\xa0\x80\""),
            ("§8.1: truncated UTF-8", b"\"\xe2\x82\""),
            ("§8.2: lone high surrogate", br#""\uD800""#),
            ("§8.2: high surrogate then a letter", br#""\uD800\u0041""#),
            ("§8.2: high surrogate then text", br#""\uD800x""#),
            ("§8.2: lone low surrogate", br#""\uDC00""#),
            ("§8.2: two high surrogates", br#""\uD800\uD800""#),
            ("literals are lower case", b"True"),
            ("literal cut short", b"nul"),
        ];
        for (name, text) in rows {
            assert!(parse(text).is_err(), "{name}: {:?}", parse(text));
        }
    }

    #[test]
    fn bounds_depth_and_size() {
        let nested = |depth: usize| format!("{}{}", "[".repeat(depth), "]".repeat(depth));
        assert!(parse(nested(MAX_DEPTH).as_bytes()).is_ok());
        assert!(parse(nested(MAX_DEPTH + 1).as_bytes()).is_err());
        let objects = format!("{}1{}", r#"{"a":"#.repeat(MAX_DEPTH + 1), "}".repeat(MAX_DEPTH + 1));
        assert!(parse(objects.as_bytes()).is_err());
        // Far deeper than any stack, and unclosed: refused without recursing.
        assert!(parse("[".repeat(MAX_BYTES).as_bytes()).is_err());
        assert!(parse(r#"{"a":"#.repeat(50_000).as_bytes()).is_err());

        let long = format!("\"{}\"", "a".repeat(MAX_BYTES - 2));
        assert_eq!(parse(long.as_bytes()).map(|v| v.as_str().map(str::len)), Ok(Some(MAX_BYTES - 2)));
        let longer = format!("\"{}\"", "a".repeat(MAX_BYTES - 1));
        assert!(parse(longer.as_bytes()).is_err());
    }

    #[test]
    fn keeps_huge_numbers_as_text() {
        let rows: &[(&str, Option<i64>)] = &[
            ("9223372036854775807", Some(i64::MAX)),
            ("-9223372036854775808", Some(i64::MIN)),
            ("9223372036854775808", None),
            ("1e999999999", None),
            ("1.0", None),
            ("-0", Some(0)),
        ];
        for (text, integer) in rows {
            let value = parse(text.as_bytes()).unwrap();
            assert_eq!(value, number(text));
            assert_eq!(value.as_i64(), *integer, "{text}");
        }
        let digits = "7".repeat(10_000);
        assert_eq!(parse(digits.as_bytes()).map(|v| v.as_i64()), Ok(None));
    }

    #[test]
    fn accessors_answer_only_their_own_kind() {
        let value = parse(br#"{"a":"x","a":"y","n":1,"b":true,"l":[1]}"#).unwrap();
        assert_eq!(value.get("a").and_then(Value::as_str), Some("y"), "the last duplicate");
        assert_eq!(value.get("missing"), None);
        assert_eq!(value.get("n").and_then(Value::as_str), None);
        assert_eq!(value.get("a").and_then(Value::as_i64), None);
        assert_eq!(value.get("n").and_then(Value::as_bool), None);
        assert_eq!(value.get("b").and_then(Value::as_array), None);
        assert_eq!(value.get("l").and_then(|l| l.get("x")), None);
        assert_eq!(value.as_str(), None);
    }

    #[test]
    fn quotes_strings_that_read_back() {
        let rows: &[(&str, &str)] = &[
            ("", r#""""#),
            ("plain", r#""plain""#),
            ("say \"hi\"", r#""say \"hi\"""#),
            ("back\\slash", r#""back\\slash""#),
            ("line\nbreak\r\ttab", r#""line\nbreak\r\ttab""#),
            ("\u{0}\u{1f}\u{7f}", "\"\\u0000\\u001f\u{7f}\""),
            ("mailto:ü@example.org", "\"mailto:ü@example.org\""),
            ("/ stays", "\"/ stays\""),
        ];
        for (text, quoted) in rows {
            assert_eq!(quote(text), *quoted);
            assert_eq!(parse(quoted.as_bytes()), Ok(string(text)));
        }
        let mut random = Random(0x9e37_79b9_7f4a_7c15);
        for _ in 0..2000 {
            let text: String =
                (0..random.below(12)).filter_map(|_| char::from_u32(random.below(0x11_0000) as u32)).collect();
            assert_eq!(parse(quote(&text).as_bytes()), Ok(string(&text)), "{text:?}");
        }
    }

    #[test]
    fn never_panics_on_random_bytes() {
        const PIECES: &[&[u8]] = &[
            b"{", b"}", b"[", b"]", b":", b",", b"\"", b"\\", b"\\u", b"d83", b"DC0", b"0", b"-", b"1", b".", b"e",
            b"+", b"true", b"null", b" ", b"a", b"\xff", b"\xc3", b"\xa9", b"\x00", b"\n",
        ];
        let seeds: &[&[u8]] = &[br#"{"a":[1,-2.5e3,"\u00e9\uD834\uDD1E",true,null,{}]}"#, b"[[[[]]]]", br#""\\\"""#];
        let mut random = Random(0x2545_f491_4f6c_dd1d);
        for round in 0..20_000 {
            let input: Vec<u8> = if round % 2 == 0 {
                (0..random.below(40)).flat_map(|_| PIECES[random.below(PIECES.len())].iter().copied()).collect()
            } else {
                let mut input = seeds[random.below(seeds.len())].to_vec();
                for _ in 0..1 + random.below(3) {
                    let at = random.below(input.len());
                    match random.below(3) {
                        0 => input[at] = random.next() as u8,
                        1 => input.truncate(at),
                        _ => input.insert(at, PIECES[random.below(PIECES.len())][0]),
                    }
                    if input.is_empty() {
                        break;
                    }
                }
                input
            };
            if let Ok(value) = parse(&input) {
                assert!(std::str::from_utf8(&input).is_ok(), "{input:?} gave {value:?}");
            }
        }
    }
}
