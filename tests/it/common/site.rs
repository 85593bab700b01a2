//! Sites on disk for `--root`: throw-away directories removed on drop, the
//! standard site most tests serve (with files beside the root that no request
//! may reach), large deterministic bodies, and the repository's own directory.
//!
//! Every file gets the same fixed modification time, so `Last-Modified` and
//! the validators built from it are known in advance.

use super::server::Server;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Modification time given to every file a `TempDir` writes: 2001-09-09.
pub const FIXED_MTIME: u64 = 1_000_000_000;
/// `FIXED_MTIME` as an IMF-fixdate.
pub const FIXED_LM: &str = "Sun, 09 Sep 2001 01:46:40 GMT";

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// A unique directory under the system temp dir, removed on drop.
pub struct TempDir {
    path: PathBuf,
}

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        let nanos = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().subsec_nanos();
        let path = std::env::temp_dir().join(format!(
            "mote-test-{tag}-{}-{}-{nanos}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::SeqCst)
        ));
        fs::create_dir_all(&path).unwrap();
        TempDir { path }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Writes `rel` (creating parents) with mtime `FIXED_MTIME`.
    pub fn write(&self, rel: &str, contents: impl AsRef<[u8]>) -> PathBuf {
        let p = self.path.join(rel);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(&p, contents).unwrap();
        let f = fs::OpenOptions::new().write(true).open(&p).unwrap();
        f.set_modified(UNIX_EPOCH + Duration::from_secs(FIXED_MTIME)).unwrap();
        p
    }

    pub fn mkdir(&self, rel: &str) -> PathBuf {
        let p = self.path.join(rel);
        fs::create_dir_all(&p).unwrap();
        p
    }

    /// Creates symlink `rel` pointing at `target` (taken literally).
    pub fn symlink(&self, target: impl AsRef<Path>, rel: &str) {
        let p = self.path.join(rel);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::os::unix::fs::symlink(target, p).unwrap();
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.path);
    }
}

/// A `--root` site inside a temp dir: the root is `<base>/root`, and files
/// written with `outside` live beside it, where no request may reach.
pub struct Site {
    pub base: TempDir,
}

pub const INDEX_HTML: &str = "<!doctype html><title>root</title>ROOT-INDEX\n";
pub const STYLE_CSS: &str = "body{color:#123}\n";
pub const LETTERS: &str = "abcdefghijklmnopqrstuvwxyz";
pub const SECRET: &str = "TOP-SECRET-BESIDE-THE-ROOT\n";

impl Site {
    pub fn empty() -> Site {
        let base = TempDir::new("site");
        base.mkdir("root");
        Site { base }
    }

    /// The site most tests use; every file has mtime `FIXED_MTIME`.
    pub fn standard() -> Site {
        let s = Site::empty();
        s.write("index.html", INDEX_HTML);
        s.write("style.css", STYLE_CSS);
        s.write("app.js", "console.log(1);\n");
        s.write("data.json", "{\"a\":1}\n");
        s.write("img.png", b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR");
        s.write("icon.svg", "<svg xmlns=\"http://www.w3.org/2000/svg\"/>\n");
        s.write("notes.txt", "plain notes\n");
        s.write("blob.xyz", b"\x00\x01\x02unknown");
        s.write("letters.txt", LETTERS);
        s.write("a/b/c.txt", "C-TXT\n");
        s.write("docs/index.html", "DOCS-INDEX\n");
        s.write("docs/page.html", "DOCS-PAGE\n");
        s.write("docs/sub/index.html", "DOCS-SUB\n");
        s.write("empty/other.txt", "not an index\n");
        s.write(".hidden", "HIDDEN\n");
        s.write(".git/config", "[core]\n");
        s.write(".well-known/security.txt", "Contact: x\n");
        s.write("a/.secret/x.txt", "DOT-DIR\n");
        s.outside("secret.txt", SECRET);
        s.outside("outside/file.txt", SECRET);
        s.base.symlink("style.css", "root/link-inside.css");
        s.base.symlink("../secret.txt", "root/link-secret.txt");
        s.base.symlink(s.base.path().join("secret.txt"), "root/abs-secret.txt");
        s.base.symlink("../outside", "root/outdir");
        s
    }

    pub fn root(&self) -> PathBuf {
        self.base.path().join("root")
    }

    pub fn root_str(&self) -> String {
        self.root().to_str().unwrap().to_string()
    }

    /// Writes a file under the root.
    pub fn write(&self, rel: &str, contents: impl AsRef<[u8]>) -> PathBuf {
        self.base.write(&format!("root/{rel}"), contents)
    }

    /// Writes a file beside the root (never servable).
    pub fn outside(&self, rel: &str, contents: impl AsRef<[u8]>) -> PathBuf {
        self.base.write(rel, contents)
    }

    /// Starts a server on this site with extra flags.
    pub fn serve(&self, extra: &[&str]) -> Server {
        let root = self.root_str();
        let mut args = vec!["--root", root.as_str()];
        args.extend_from_slice(extra);
        Server::start(&args)
    }
}

/// `n` deterministic pseudo-random bytes (xorshift), so a misplaced chunk of a
/// large body cannot go unnoticed.
pub fn large_bytes(n: usize) -> Vec<u8> {
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut out = Vec::with_capacity(n + 8);
    while out.len() < n {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.extend_from_slice(&x.to_le_bytes());
    }
    out.truncate(n);
    out
}

/// The repository's directory (where Cargo.toml is).
pub fn repo_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}
