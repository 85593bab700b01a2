//! The sites one mote serves: one Catalog per `--vhost`, and the site for
//! every other host (`--root`, or the built-in one without `--vhost`).
//!
//! A request's catalog is picked by its effective host (RFC 9112 §3.2.2:
//! an absolute-form target's host, else Host) before it is routed, and a
//! head's bytes fix that host, so the memo, keyed by the same bytes, needs
//! no part of this. The sites are loaded, counted against `--max-memory`
//! and swapped as one: a reload that fails for one site keeps every old one.
#![forbid(unsafe_code)]

use std::path::Path;

use crate::catalog::{Catalog, Options};

pub struct Sites {
    /// What hosts no `--vhost` names get: `--root`, or the built-in site;
    /// with `--vhost` and no `--root`, an empty catalog that `misdirects`.
    pub fallback: Catalog,
    /// With `--vhost` and no `--root`: other hosts are answered 421.
    pub misdirects: bool,
    /// Each `--vhost`: its name (lowercase, no trailing dot) and its site.
    pub hosts: Vec<(Box<[u8]>, Catalog)>,
}

impl Sites {
    /// Loads every site; the first that fails fails them all.
    pub fn load(
        root: Option<&Path>,
        vhosts: &[(String, std::path::PathBuf)],
        options: &Options,
    ) -> Result<Sites, String> {
        let misdirects = root.is_none() && !vhosts.is_empty();
        let mut hosts = Vec::with_capacity(vhosts.len());
        for (host, dir) in vhosts {
            let loaded = if dir.is_dir() { Catalog::load(dir, options) } else { Err("not a directory".into()) };
            // The walk's reasons name --root; here the flag is --vhost.
            let catalog = loaded.map_err(|why| {
                format!("--vhost {host}={}: {}", dir.display(), why.strip_prefix("--root ").unwrap_or(&why))
            })?;
            hosts.push((host.as_bytes().into(), catalog));
        }
        let fallback = match root {
            Some(root) => Catalog::load(root, options)?,
            None if !misdirects => Catalog::embedded(options),
            None => Catalog::empty(),
        };
        Ok(Sites { fallback, misdirects, hosts })
    }

    /// Memory all the sites hold, for `--max-memory`.
    pub fn bytes(&self) -> u64 {
        self.hosts.iter().map(|(_, catalog)| catalog.bytes).sum::<u64>() + self.fallback.bytes
    }

    /// Files in all the sites, for the reload's line.
    pub fn file_count(&self) -> usize {
        self.hosts.iter().map(|(_, catalog)| catalog.file_count()).sum::<usize>() + self.fallback.file_count()
    }

    /// The site for `host` (an effective host, `target::host_name`): its
    /// `--vhost`, else the fallback; None when that misdirects.
    pub fn pick(&self, host: Option<&[u8]>) -> Option<&Catalog> {
        let named = host.and_then(|host| self.hosts.iter().find(|(name, _)| name.eq_ignore_ascii_case(host)));
        match named {
            Some((_, catalog)) => Some(catalog),
            None => (!self.misdirects).then_some(&self.fallback),
        }
    }
}
