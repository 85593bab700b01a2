//! `--listing`: an HTML index for directories without index.html, built at
//! load time like every other response. Names are HTML-escaped in text and
//! percent-encoded in links, so no file name can inject markup.
#![forbid(unsafe_code)]

use std::fs::Metadata;

use crate::http::target::encode_path;

/// `dir_url` is the directory's URL path without its trailing slash.
pub fn render(dir_url: &[u8], items: &[(&[u8], &Metadata)]) -> Vec<u8> {
    let mut title = dir_url.to_vec();
    title.push(b'/');
    let mut page = Vec::with_capacity(512 + items.len() * 128);
    page.extend_from_slice(
        b"<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>Index of ",
    );
    push_html(&mut page, &title);
    page.extend_from_slice(
        b"</title><style>body{font:16px/1.5 system-ui,sans-serif;max-width:50rem;margin:2rem auto;\
padding:0 1rem}td{padding:.2rem 1rem .2rem 0}td:last-child{text-align:right}</style></head><body><h1>Index of ",
    );
    push_html(&mut page, &title);
    page.extend_from_slice(b"</h1><table>\n");
    if !dir_url.is_empty() {
        page.extend_from_slice(b"<tr><td><a href=\"../\">../</a></td><td></td></tr>\n");
    }
    let (dirs, files): (Vec<_>, Vec<_>) = items.iter().partition(|(_, meta)| meta.is_dir());
    for (name, meta) in dirs.iter().chain(files.iter()) {
        let mut href = Vec::new();
        encode_path(name, &mut href);
        if meta.is_dir() {
            href.push(b'/');
        }
        page.extend_from_slice(b"<tr><td><a href=\"./");
        push_html(&mut page, &href);
        page.extend_from_slice(b"\">");
        push_html(&mut page, name);
        if meta.is_dir() {
            page.push(b'/');
        }
        page.extend_from_slice(b"</a></td><td>");
        if !meta.is_dir() {
            page.extend_from_slice(itoa::Buffer::new().format(meta.len()).as_bytes());
        }
        page.extend_from_slice(b"</td></tr>\n");
    }
    page.extend_from_slice(b"</table></body></html>\n");
    page
}

fn push_html(out: &mut Vec<u8>, text: &[u8]) {
    for &b in text {
        match b {
            b'<' => out.extend_from_slice(b"&lt;"),
            b'>' => out.extend_from_slice(b"&gt;"),
            b'&' => out.extend_from_slice(b"&amp;"),
            b'"' => out.extend_from_slice(b"&quot;"),
            b'\'' => out.extend_from_slice(b"&#39;"),
            _ => out.push(b),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_names_and_encodes_links() {
        let dir = std::env::temp_dir();
        let file = std::fs::metadata("Cargo.toml").unwrap();
        let folder = std::fs::metadata(&dir).unwrap();
        let page = render(b"/d", &[(b"<b>&x y.txt", &file), (b"sub", &folder)]);
        let page = String::from_utf8(page).unwrap();
        assert!(page.contains("<title>Index of /d/</title>"));
        assert!(page.contains("<a href=\"./%3Cb%3E&amp;x%20y.txt\">&lt;b&gt;&amp;x y.txt</a>"), "{page}");
        assert!(page.find("sub/").unwrap() < page.find("&lt;b&gt;").unwrap(), "directories first");
        assert!(page.contains("<a href=\"../\">"));
    }
}
