//! `--user NAME[:GROUP]` -> numeric ids, read from /etc/passwd and /etc/group
//! before any chroot hides them. Parsed by hand: the static binary has no
//! NSS, and these two files are what a Pi's busybox system has.
#![forbid(unsafe_code)]

use std::path::Path;

use crate::sys;

#[derive(Debug, PartialEq)]
pub struct Identity {
    pub uid: u32,
    pub gid: u32,
}

pub fn resolve(spec: &str) -> Result<Identity, String> {
    let passwd = sys::read_to_string(Path::new("/etc/passwd")).unwrap_or_default();
    let group = sys::read_to_string(Path::new("/etc/group")).unwrap_or_default();
    resolve_in(spec, &passwd, &group)
}

/// `spec` against the text of passwd and group files. A user given by number
/// need not exist in passwd, but then needs an explicit group.
fn resolve_in(spec: &str, passwd: &str, group: &str) -> Result<Identity, String> {
    let (user, group_name) = match spec.split_once(':') {
        Some((user, group)) => (user, Some(group)),
        None => (spec, None),
    };
    let entry = find(passwd, user);
    let uid = match (&entry, user.parse::<u32>()) {
        (Some(fields), _) => fields[2].parse().map_err(|_| format!("--user: bad uid for {user} in /etc/passwd"))?,
        (None, Ok(uid)) => uid,
        (None, Err(_)) => return Err(format!("--user: no user '{user}' in /etc/passwd")),
    };
    let gid = match group_name {
        Some(name) => match (find(group, name), name.parse::<u32>()) {
            (Some(fields), _) => fields[2].parse().map_err(|_| format!("--user: bad gid for {name} in /etc/group"))?,
            (None, Ok(gid)) => gid,
            (None, Err(_)) => return Err(format!("--user: no group '{name}' in /etc/group")),
        },
        None => match &entry {
            Some(fields) => fields[3].parse().map_err(|_| format!("--user: bad gid for {user} in /etc/passwd"))?,
            None => return Err(format!("--user: uid {uid} has no passwd entry; give its group as {uid}:GROUP")),
        },
    };
    if uid == 0 {
        return Err(format!("--user {spec}: that is root; name an unprivileged user"));
    }
    Ok(Identity { uid, gid })
}

/// The fields of the line whose first field is `name` (at least 4 fields).
fn find<'a>(file: &'a str, name: &str) -> Option<Vec<&'a str>> {
    file.lines().map(|line| line.split(':').collect::<Vec<_>>()).find(|fields| fields.len() >= 4 && fields[0] == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    const PASSWD: &str = "root:x:0:0:root:/root:/bin/sh\nwww-data:x:33:33:www:/var/www:/bin/false\nbad:x:zz:1::/:\n";
    const GROUP: &str = "root:x:0:\nwww-data:x:33:\nstaff:x:50:\n";

    #[test]
    #[allow(clippy::type_complexity)] // a table of rows
    fn resolves_users_and_groups() {
        let rows: &[(&str, Result<(u32, u32), &str>)] = &[
            ("www-data", Ok((33, 33))),
            ("www-data:staff", Ok((33, 50))),
            ("www-data:70", Ok((33, 70))),
            ("1000:1000", Ok((1000, 1000))),
            ("1000", Err("--user: uid 1000 has no passwd entry")),
            ("nobody-here", Err("--user: no user 'nobody-here'")),
            ("www-data:nogroup", Err("--user: no group 'nogroup'")),
            ("root", Err("--user root: that is root")),
            ("0:0", Err("--user 0:0: that is root")),
            ("bad", Err("--user: bad uid for bad")),
        ];
        for (spec, want) in rows {
            match (resolve_in(spec, PASSWD, GROUP), want) {
                (Ok(got), Ok((uid, gid))) => assert_eq!(got, Identity { uid: *uid, gid: *gid }, "{spec}"),
                (Err(got), Err(prefix)) => assert!(got.starts_with(prefix), "{spec}: {got}"),
                (got, _) => panic!("{spec}: {got:?}"),
            }
        }
    }
}
