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
}
