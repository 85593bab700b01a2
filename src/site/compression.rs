//! What a `gzip -9k` or `brotli -k` pass over a site's uncompressed text
//! would save, for `mote --check`'s summary. mote has no compressor of its
//! own (it never compresses at run time), so the figure comes from running
//! those very tools on the files: on all of them when they are few, else on
//! a sample spread evenly over them, and the summary says which.

use std::path::PathBuf;
use std::process::{Command, Stdio};

/// A file worth compressing that has no variant beside it.
pub struct Uncompressed {
    pub path: PathBuf,
    pub len: u64,
}

/// What one tool saved on the files it was run on, scaled to all of them.
pub struct Saving {
    /// Bytes saved over all the files (estimated unless `all`).
    pub saved: u64,
    /// How many files were compressed to find out.
    pub sampled: usize,
    /// Whether every file was compressed: then `saved` is measured.
    pub all: bool,
}

/// Runs `program args FILE` (which must write the compressed file to
/// stdout) on at most `max_files` files of at most `budget` bytes in all,
/// chosen evenly over `files`; None when the program cannot be run.
pub fn saving(program: &str, args: &[&str], files: &[Uncompressed], max_files: usize, budget: u64) -> Option<Saving> {
    let total: u64 = files.iter().map(|file| file.len).sum();
    let step = files.len().div_ceil(max_files.max(1)).max(1);
    let (mut read, mut written, mut sampled) = (0u64, 0u64, 0usize);
    for file in files.iter().step_by(step) {
        if read + file.len > budget && sampled > 0 {
            continue;
        }
        let out = Command::new(program).args(args).arg(&file.path).stdin(Stdio::null()).stderr(Stdio::null()).output();
        let out = out.ok().filter(|out| out.status.success())?;
        read += file.len;
        written += out.stdout.len() as u64;
        sampled += 1;
    }
    if read == 0 {
        return None;
    }
    let all = sampled == files.len();
    let saved =
        if all { read.saturating_sub(written) } else { (total as f64 * (1.0 - written as f64 / read as f64)) as u64 };
    Some(Saving { saved, sampled, all })
}

/// `51.2 MiB`, `3.0 KiB`, `512 bytes`: sizes as a person reads them.
pub fn human(bytes: u64) -> String {
    const UNITS: [&str; 3] = ["KiB", "MiB", "GiB"];
    if bytes < 1024 {
        return format!("{bytes} bytes");
    }
    let mut size = bytes as f64 / 1024.0;
    let mut unit = 0;
    while size >= 1024.0 && unit + 1 < UNITS.len() {
        size /= 1024.0;
        unit += 1;
    }
    format!("{size:.1} {}", UNITS[unit])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_as_a_person_reads_them() {
        let rows: &[(u64, &str)] = &[
            (0, "0 bytes"),
            (1023, "1023 bytes"),
            (1024, "1.0 KiB"),
            (1536, "1.5 KiB"),
            (50 << 20, "50.0 MiB"),
            (3 << 30, "3.0 GiB"),
        ];
        for &(bytes, want) in rows {
            assert_eq!(human(bytes), want, "{bytes}");
        }
    }

    #[test]
    fn a_missing_tool_gives_no_figure() {
        let files = [Uncompressed { path: PathBuf::from("/etc/hostname"), len: 10 }];
        assert!(saving("/nonexistent/mote-compressor", &[], &files, 8, 1 << 20).is_none());
    }
}
