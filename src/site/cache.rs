//! Cache-Control by rule, decided once per file when the catalog is built.
//!
//! The defaults are what a front-end developer expects: HTML is revalidated
//! on every use (`no-cache`, cheap with content ETags), files whose name
//! carries a content hash (`app.3f9a2c1b.js`, Vite's `index-BdU3x9Ab.js`,
//! anything under SvelteKit's `/_app/immutable/`) are cached for a year as
//! `immutable`, and everything else for an hour. `--cache-control GLOB=VALUE`
//! rules come first, in the order given, and their values are sent as given.
//!
//! The defaults say no `public`: a 200 with `max-age` may already be stored
//! by any cache (RFC 9111 §3), so `public` would add nothing but a linter's
//! complaint. It only matters for a response to an authenticated request,
//! which a shared cache must not reuse unless told `public` (§3.5): exactly
//! what `--auth` must never say. Under `--auth` every value is made
//! `private` instead (§5.2.2.7), so only the user's own browser keeps a copy.

use std::borrow::Cow;

pub const REVALIDATE: &str = "no-cache";
pub const IMMUTABLE: &str = "max-age=31536000, immutable";
pub const MODEST: &str = "max-age=3600";

/// Who a site's responses are for, known when its catalog is built.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Audience {
    Anyone,
    /// `--auth`: only the user who sent the credentials.
    Authenticated,
}

/// One `--cache-control GLOB=VALUE`: a GLOB starting with `/` matches the
/// URL path, any other the file name; `*` matches within a path segment,
/// `**` across segments; an empty VALUE (or `none`) sends no header.
#[derive(Debug, Clone)]
pub struct Rule {
    pub glob: String,
    pub value: String,
}

impl Rule {
    pub fn parse(text: &str) -> Option<Rule> {
        let (glob, value) = text.split_once('=')?;
        let value = if value == "none" { "" } else { value };
        let valid_value = value.bytes().all(|b| b == b'\t' || (0x20..0x7f).contains(&b));
        if glob.is_empty() || !valid_value {
            return None;
        }
        Some(Rule { glob: glob.to_string(), value: value.trim().to_string() })
    }

    /// The value has a `public` directive: under `--auth` it lets shared
    /// caches hand a protected file to anyone (RFC 9111 §3.5).
    pub fn says_public(&self) -> bool {
        has_directive(&self.value, "public")
    }
}

/// The Cache-Control value for a file (empty for none), as `audience` gets it.
pub fn for_file<'a>(rules: &'a [Rule], url_path: &str, content_type: &str, audience: Audience) -> Cow<'a, str> {
    for_audience(by_rule(rules, url_path, content_type), audience)
}

/// The Cache-Control value for a page mote makes (a listing, the 404 page):
/// revalidated on every use, like HTML files.
pub fn for_page(audience: Audience) -> Cow<'static, str> {
    for_audience(REVALIDATE, audience)
}

/// For an authenticated audience, `private` is put first, unless the value
/// already says who may store it: `private` needs no second copy, and
/// `public` is the owner's explicit choice (mote warns about it at start-up).
/// An empty value stays empty: `none` asked for no header, and without
/// `public` no shared cache reuses the response anyway (§3.5).
fn for_audience(value: &str, audience: Audience) -> Cow<'_, str> {
    let explicit = value.is_empty() || has_directive(value, "private") || has_directive(value, "public");
    match audience {
        Audience::Authenticated if !explicit => Cow::Owned(format!("private, {value}")),
        _ => Cow::Borrowed(value),
    }
}

/// RFC 9111 §5.2: directives are comma-separated, their names
/// case-insensitive, some with `=argument`.
fn has_directive(value: &str, name: &str) -> bool {
    value.split(',').any(|directive| {
        let directive = directive.split_once('=').map_or(directive, |(name, _)| name);
        directive.trim().eq_ignore_ascii_case(name)
    })
}

fn by_rule<'a>(rules: &'a [Rule], url_path: &str, content_type: &str) -> &'a str {
    let name = url_path.rsplit('/').next().unwrap_or(url_path);
    let matches = |rule: &&Rule| {
        let subject = if rule.glob.starts_with('/') { url_path } else { name };
        glob_matches(rule.glob.as_bytes(), subject.as_bytes())
    };
    if let Some(rule) = rules.iter().find(matches) {
        return &rule.value;
    }
    if content_type.starts_with("text/html") {
        REVALIDATE
    } else if url_path.contains("/_app/immutable/") || has_content_hash(url_path) {
        IMMUTABLE
    } else {
        MODEST
    }
}

/// A dot- or dash-separated part of the file name (not its first part or its
/// extension) of 8 or more letters and digits, with at least one of each.
fn has_content_hash(url_path: &str) -> bool {
    let name = url_path.rsplit('/').next().unwrap_or(url_path);
    let stem = name.rsplit_once('.').map_or(name, |(stem, _)| stem);
    stem.split(['.', '-', '_']).skip(1).any(|part| {
        part.len() >= 8
            && part.bytes().all(|b| b.is_ascii_alphanumeric())
            && part.bytes().any(|b| b.is_ascii_digit())
            && part.bytes().any(|b| b.is_ascii_alphabetic())
    })
}

fn glob_matches(glob: &[u8], path: &[u8]) -> bool {
    match glob {
        [] => path.is_empty(),
        [b'*', b'*', rest @ ..] => (0..=path.len()).any(|i| glob_matches(rest, &path[i..])),
        [b'*', rest @ ..] => {
            let segment = path.iter().position(|&b| b == b'/').unwrap_or(path.len());
            (0..=segment).any(|i| glob_matches(rest, &path[i..]))
        }
        [first, rest @ ..] => path.first() == Some(first) && glob_matches(rest, &path[1..]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_rules() {
        let rows: &[(&str, &str, &str)] = &[
            ("/index.html", "text/html; charset=utf-8", REVALIDATE),
            ("/blog/post.html", "text/html; charset=utf-8", REVALIDATE),
            ("/app.3f9a2c1b.js", "text/javascript; charset=utf-8", IMMUTABLE),
            ("/assets/index-BdU3x9Ab.js", "text/javascript; charset=utf-8", IMMUTABLE),
            ("/_app/immutable/chunks/x.js", "text/javascript; charset=utf-8", IMMUTABLE),
            ("/style.css", "text/css; charset=utf-8", MODEST),
            ("/jquery-1.12.4.min.js", "text/javascript; charset=utf-8", MODEST),
            ("/report-20240101.pdf", "application/pdf", MODEST),
            ("/a3f9a2c1b.js", "text/javascript; charset=utf-8", MODEST), // first part is the name
        ];
        for (path, mime, want) in rows {
            assert_eq!(for_file(&[], path, mime, Audience::Anyone), *want, "{path}");
        }
    }

    #[test]
    fn user_rules_come_first() {
        let rules = [
            Rule::parse("/media/**=public, max-age=600").unwrap(),
            Rule::parse("/docs/*=no-store").unwrap(),
            Rule::parse("*.json=none").unwrap(),
        ];
        let anyone = |path, mime| for_file(&rules, path, mime, Audience::Anyone);
        assert_eq!(anyone("/media/a/b.mp4", "video/mp4"), "public, max-age=600");
        assert_eq!(anyone("/docs/a.html", "text/html; charset=utf-8"), "no-store");
        assert_eq!(anyone("/docs/a/b.html", "text/html; charset=utf-8"), REVALIDATE); // * stays in a segment
        assert_eq!(anyone("/data.json", "application/json"), "");
        assert_eq!(anyone("/sub/data.json", "application/json"), ""); // a name glob matches anywhere
        assert!(Rule::parse("no-equals").is_none());
        assert!(Rule::parse("/x=bad\nvalue").is_none());
    }

    /// RFC 9111 §3.5 and §5.2.2.7: under --auth every value says `private`,
    /// unless it already says who may store the response.
    #[test]
    fn authenticated_audience_is_private() {
        let rules = [
            Rule::parse("/media/**=Public, max-age=600").unwrap(),
            Rule::parse("/own/**=max-age=60, private").unwrap(),
            Rule::parse("/docs/**=no-store").unwrap(),
            Rule::parse("*.json=none").unwrap(),
            Rule::parse("*.txt=max-age=5, s-maxage=60").unwrap(),
        ];
        let rows: &[(&str, &str, &str)] = &[
            ("/index.html", "text/html; charset=utf-8", "private, no-cache"),
            ("/app.3f9a2c1b.js", "text/javascript; charset=utf-8", "private, max-age=31536000, immutable"),
            ("/style.css", "text/css; charset=utf-8", "private, max-age=3600"),
            ("/media/a.mp4", "video/mp4", "Public, max-age=600"), // the owner's choice, warned about
            ("/own/a.css", "text/css; charset=utf-8", "max-age=60, private"),
            ("/docs/a.html", "text/html; charset=utf-8", "private, no-store"),
            ("/data.json", "application/json", ""), // none stays none
            ("/a.txt", "text/plain; charset=utf-8", "private, max-age=5, s-maxage=60"),
        ];
        for (path, mime, want) in rows {
            assert_eq!(for_file(&rules, path, mime, Audience::Authenticated), *want, "{path}");
        }
        assert_eq!(for_page(Audience::Authenticated), "private, no-cache");
        assert_eq!(for_page(Audience::Anyone), REVALIDATE);
        let public: Vec<&str> = rules.iter().filter(|rule| rule.says_public()).map(|rule| rule.glob.as_str()).collect();
        assert_eq!(public, ["/media/**"]);
        assert!(!Rule::parse("*=no-cache=\"publicity\"").unwrap().says_public());
    }
}
