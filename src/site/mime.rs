//! File extension -> Content-Type, for what static sites actually contain.
//!
//! Part of the `mote-site` crate, which `build.rs` shares: the embedded site's
//! types are chosen at compile time by the same table that serves `--root`.
//! Text types carry `charset=utf-8` so browsers never guess (and nosniff
//! forbids them to).

/// The type for files whose extension is unknown: browsers download it.
pub const FALLBACK: &str = "application/octet-stream";

const TABLE: &[(&str, &str)] = &[
    ("html", "text/html; charset=utf-8"),
    ("htm", "text/html; charset=utf-8"),
    ("css", "text/css; charset=utf-8"),
    ("js", "text/javascript; charset=utf-8"),
    ("mjs", "text/javascript; charset=utf-8"),
    ("json", "application/json"),
    ("map", "application/json"),
    ("webmanifest", "application/manifest+json"),
    ("txt", "text/plain; charset=utf-8"),
    ("md", "text/markdown; charset=utf-8"),
    ("csv", "text/csv; charset=utf-8"),
    ("xml", "application/xml"),
    ("rss", "application/rss+xml"),
    ("atom", "application/atom+xml"),
    ("wasm", "application/wasm"),
    ("svg", "image/svg+xml"),
    ("png", "image/png"),
    ("jpg", "image/jpeg"),
    ("jpeg", "image/jpeg"),
    ("gif", "image/gif"),
    ("webp", "image/webp"),
    ("avif", "image/avif"),
    ("ico", "image/x-icon"),
    ("bmp", "image/bmp"),
    ("woff", "font/woff"),
    ("woff2", "font/woff2"),
    ("ttf", "font/ttf"),
    ("otf", "font/otf"),
    ("pdf", "application/pdf"),
    ("mp4", "video/mp4"),
    ("webm", "video/webm"),
    ("ogv", "video/ogg"),
    ("mp3", "audio/mpeg"),
    ("ogg", "audio/ogg"),
    ("oga", "audio/ogg"),
    ("wav", "audio/wav"),
    ("flac", "audio/flac"),
    ("m4a", "audio/mp4"),
    ("zip", "application/zip"),
    ("gz", "application/gzip"),
    ("tgz", "application/gzip"),
    ("br", "application/octet-stream"),
    ("bin", "application/octet-stream"),
    ("exe", "application/octet-stream"),
    ("dmg", "application/octet-stream"),
    ("iso", "application/octet-stream"),
    ("img", "application/octet-stream"),
    ("deb", "application/vnd.debian.binary-package"),
    ("apk", "application/vnd.android.package-archive"),
    ("bz2", "application/x-bzip2"),
    ("jxl", "image/jxl"),
    ("tif", "image/tiff"),
    ("tiff", "image/tiff"),
    ("heic", "image/heic"),
    ("mov", "video/quicktime"),
    ("mkv", "video/x-matroska"),
    ("m3u8", "application/vnd.apple.mpegurl"),
    ("ts", "video/mp2t"),
    ("opus", "audio/opus"),
    ("aac", "audio/aac"),
    ("eot", "application/vnd.ms-fontobject"),
    ("yaml", "text/yaml; charset=utf-8"),
    ("yml", "text/yaml; charset=utf-8"),
    ("toml", "text/plain; charset=utf-8"),
    ("log", "text/plain; charset=utf-8"),
    ("epub", "application/epub+zip"),
    ("jsonld", "application/ld+json"),
    ("gpx", "application/gpx+xml"),
    ("kml", "application/vnd.google-earth.kml+xml"),
    ("pem", "application/x-pem-file"),
    ("asc", "text/plain; charset=utf-8"),
    ("sh", "text/plain; charset=utf-8"),
    ("py", "text/plain; charset=utf-8"),
    ("rs", "text/plain; charset=utf-8"),
    ("c", "text/plain; charset=utf-8"),
    ("h", "text/plain; charset=utf-8"),
    ("odt", "application/vnd.oasis.opendocument.text"),
    ("ods", "application/vnd.oasis.opendocument.spreadsheet"),
    ("docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
    ("xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
    ("pptx", "application/vnd.openxmlformats-officedocument.presentationml.presentation"),
    ("tar", "application/x-tar"),
    ("xz", "application/x-xz"),
    ("zst", "application/zstd"),
    ("7z", "application/x-7z-compressed"),
    ("wgsl", "text/wgsl; charset=utf-8"),
    ("vtt", "text/vtt; charset=utf-8"),
    ("ics", "text/calendar; charset=utf-8"),
];

/// Names whose type their extension cannot tell: Apple fetches
/// `/.well-known/apple-app-site-association` as JSON, and it has none.
const NAMES: &[(&str, &str)] = &[("apple-app-site-association", "application/json")];

/// The Content-Type for a file name (or a URL path: its last segment counts),
/// by its whole name for the few in `NAMES`, else by its last extension
/// (case-insensitive).
pub fn content_type(file_name: &[u8]) -> &'static str {
    known_type(file_name).unwrap_or(FALLBACK)
}

/// The type when the name or the extension is in a table.
pub fn known_type(file_name: &[u8]) -> Option<&'static str> {
    let file_name = file_name.rsplit(|&b| b == b'/').next().unwrap_or(file_name);
    if let Some(&(_, mime)) = NAMES.iter().find(|(name, _)| name.as_bytes() == file_name) {
        return Some(mime);
    }
    let dot = file_name.iter().rposition(|&b| b == b'.')?;
    let ext = &file_name[dot + 1..];
    TABLE.iter().find(|(known, _)| known.as_bytes().eq_ignore_ascii_case(ext)).map(|&(_, mime)| mime)
}

/// The type table a site is served with: the built-in one, with the
/// `--mime EXT=TYPE` overrides before it.
#[derive(Debug, Default, Clone)]
pub struct Types {
    /// Extension (lowercase, no dot) and type, in the order given.
    overrides: Vec<(String, String)>,
}

impl Types {
    /// Adds `EXT=TYPE` (`.ext` too, any case), or says what was expected.
    pub fn add(&mut self, spec: &str) -> Result<(), &'static str> {
        let (ext, media_type) = spec.split_once('=').ok_or("EXT=TYPE, like webmanifest=application/manifest+json")?;
        let ext = ext.strip_prefix('.').unwrap_or(ext).to_ascii_lowercase();
        let plain = |b: u8| b.is_ascii_alphanumeric() || b"-_+~".contains(&b);
        if ext.is_empty() || ext.len() > 64 || !ext.bytes().all(plain) {
            return Err("an extension of letters, digits and -_+~, then =TYPE");
        }
        let media_type = media_type.trim_matches([' ', '\t']);
        if !is_media_type(media_type) {
            return Err("a media type such as text/plain or text/html; charset=utf-8");
        }
        if self.overrides.iter().any(|(seen, _)| *seen == ext) {
            return Err("an extension no other --mime names");
        }
        self.overrides.push((ext, media_type.to_string()));
        Ok(())
    }

    /// The Content-Type for a file name, as `content_type` gives it, but by
    /// the overrides first.
    pub fn content_type(&self, file_name: &[u8]) -> &str {
        self.known_type(file_name).unwrap_or(FALLBACK)
    }

    /// The type when an override, the name or the extension is in a table.
    pub fn known_type(&self, file_name: &[u8]) -> Option<&str> {
        let name = file_name.rsplit(|&b| b == b'/').next().unwrap_or(file_name);
        let ext = name.iter().rposition(|&b| b == b'.').map(|dot| &name[dot + 1..]);
        let overridden =
            self.overrides.iter().find(|(known, _)| ext.is_some_and(|ext| known.as_bytes().eq_ignore_ascii_case(ext)));
        overridden.map(|(_, mime)| mime.as_str()).or_else(|| known_type(file_name))
    }

    /// The table used, one line per name or extension: the overrides, then
    /// what they leave of the built-in ones (`mote --check`).
    pub fn table(&self) -> String {
        let mut out = String::new();
        for (ext, mime) in &self.overrides {
            out.push_str(&format!("type\t.{ext}\t{mime}\t--mime\n"));
        }
        for (name, mime) in NAMES {
            out.push_str(&format!("type\t{name}\t{mime}\tbuilt in\n"));
        }
        for (ext, mime) in TABLE.iter().filter(|(ext, _)| !self.overrides.iter().any(|(seen, _)| seen == ext)) {
            out.push_str(&format!("type\t.{ext}\t{mime}\tbuilt in\n"));
        }
        out
    }
}

/// RFC 9110 §8.3.1: `type "/" subtype *( OWS ";" OWS parameter )`, where
/// a parameter is `token "=" ( token / quoted-string )`; no control bytes,
/// so a header line can never be split by one.
fn is_media_type(text: &str) -> bool {
    let quoted = |s: &str| {
        let inner = s.strip_prefix('"').and_then(|s| s.strip_suffix('"'));
        inner.is_some_and(|inner| {
            inner.bytes().all(|b| b == b'\t' || ((0x20..0x7f).contains(&b) && b != b'"' && b != b'\\'))
        })
    };
    // The essence (`type/subtype`), then each parameter (`name=value`),
    // with the whitespace around each trimmed.
    let mut separator = '/';
    text.split(';').all(|part| {
        let pair = part.trim_matches([' ', '\t']).split_once(separator);
        let parameter = separator == '=';
        separator = '=';
        pair.is_some_and(|(name, value)| is_token(name) && (is_token(value) || parameter && quoted(value)))
    })
}

/// RFC 9110 §5.6.2: a token, as header names and media types are made of.
pub fn is_token(text: &str) -> bool {
    !text.is_empty() && text.bytes().all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// Whether content of this type shrinks when compressed: text, and the
/// structured formats written as text.
pub fn compressible(content_type: &str) -> bool {
    content_type.starts_with("text/")
        || ["json", "javascript", "xml", "svg", "wasm"].iter().any(|kind| content_type.contains(kind))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picks_types_by_extension() {
        let rows: &[(&str, &str)] = &[
            ("index.html", "text/html; charset=utf-8"),
            ("INDEX.HTML", "text/html; charset=utf-8"),
            ("app.3f9a2c1b.js", "text/javascript; charset=utf-8"),
            ("style.css", "text/css; charset=utf-8"),
            ("favicon.svg", "image/svg+xml"),
            ("photo.JPeG", "image/jpeg"),
            ("site.webmanifest", "application/manifest+json"),
            ("backup.tar.gz", "application/gzip"),
            ("README", FALLBACK),
            ("trailing.", FALLBACK),
            ("archive.unknownext", FALLBACK),
            ("apple-app-site-association", "application/json"), // by name, no extension
            ("/.well-known/apple-app-site-association", "application/json"),
            ("/v1.2/README", FALLBACK), // a dotted directory is no extension
            ("/.well-known/assetlinks.json", "application/json"),
            ("/.well-known/security.txt", "text/plain; charset=utf-8"),
        ];
        for &(name, mime) in rows {
            assert_eq!(content_type(name.as_bytes()), mime, "{name}");
        }
    }

    #[test]
    fn overrides_come_first() {
        let mut types = Types::default();
        for spec in ["foo=text/x-foo", ".JSON=application/vnd.api+json", "txt=text/plain; charset=\"us-ascii\""] {
            types.add(spec).unwrap();
        }
        let rows: &[(&str, &str)] = &[
            ("a.foo", "text/x-foo"),
            ("A.FOO", "text/x-foo"), // case-insensitive, as the built-in table
            ("data.json", "application/vnd.api+json"),
            ("notes.txt", "text/plain; charset=\"us-ascii\""),
            ("index.html", "text/html; charset=utf-8"), // the rest stays
            ("foo", FALLBACK),                          // a name is no extension
            ("/.well-known/apple-app-site-association", "application/json"),
        ];
        for &(name, mime) in rows {
            assert_eq!(types.content_type(name.as_bytes()), mime, "{name}");
        }
        let table = types.table();
        assert!(table.starts_with("type\t.foo\ttext/x-foo\t--mime\n"), "{table}");
        assert!(table.contains("type\t.html\ttext/html; charset=utf-8\tbuilt in\n"), "{table}");
        assert!(!table.contains("type\t.json\tapplication/json\t"), "an override replaces the built-in line");
    }

    #[test]
    fn bad_overrides_are_refused() {
        let rows: &[(&str, &str)] = &[
            ("no equals sign", "foo"),
            ("no extension", "=text/plain"),
            ("a dot alone", ".=text/plain"),
            ("a dot inside", "tar.gz=application/gzip"),
            ("no subtype (§8.3.1)", "foo=text"),
            ("empty subtype", "foo=text/"),
            ("a space in a token", "foo=te xt/plain"),
            ("CR LF could split the header", "foo=text/plain\r\nX-Evil: 1"),
            ("a parameter without a value", "foo=text/plain; charset"),
            ("an unclosed quoted-string", "foo=text/plain; a=\"b"),
            ("a control byte", "foo=text/pl\u{1}ain"),
            ("empty type", "foo="),
        ];
        for &(row, spec) in rows {
            assert!(Types::default().add(spec).is_err(), "{row}: {spec:?}");
        }
        let mut types = Types::default();
        types.add("foo=text/plain").unwrap();
        assert!(types.add(".FOO=text/html").is_err(), "named twice");
    }
}
