//! The `--acme` flags as a user meets them: every mistake is one line on
//! stderr naming the flag, and exit status 2, before anything is bound or
//! any CA is asked. A build without ACME refuses the flags, saying so.

use crate::common::*;

const ACME_FLAGS: [&str; 8] = [
    "--acme",
    "--acme-dir",
    "--acme-directory",
    "--acme-staging",
    "--acme-ca-file",
    "--acme-email",
    "--acme-profile",
    "--acme-challenge",
];

/// Whether the binary under test has ACME; says so when it does not.
fn has_acme() -> bool {
    let acme = binary_has_acme();
    if !acme {
        eprintln!("note: {} was built without ACME (make test ACME=1 tests the flags' meaning)", bin());
    }
    acme
}

/// Runs mote with `args`; asserts exit 2 and one line on stderr holding
/// each of `wanted`.
fn refused(args: &[&str], wanted: &[&str]) {
    let (status, out, err) = run_to_exit(args);
    assert_eq!(status.code(), Some(2), "mote {args:?}: stdout {out:?}, stderr {err:?}");
    assert_eq!(err.trim_end().lines().count(), 1, "mote {args:?}: one line on stderr: {err:?}");
    for want in wanted {
        assert!(err.contains(want), "mote {args:?}: stderr must say {want:?}: {err:?}");
    }
}

#[test]
fn help_lists_the_acme_flags() {
    let (status, out, _) = run_to_exit(&["--help"]);
    assert!(status.success());
    for flag in ACME_FLAGS {
        assert!(out.contains(&format!("  {flag} ")), "--help lacks {flag}:\n{out}");
    }
    assert!(out.contains("/var/lib/mote/acme"), "--help gives --acme-dir's default:\n{out}");
}

#[test]
fn a_build_without_acme_refuses_the_flags() {
    if has_acme() {
        return;
    }
    for flag in ACME_FLAGS {
        refused(&["--listen", "127.0.0.1:0", flag, "example.org"], &[flag, "built without ACME"]);
    }
}

#[test]
fn bad_acme_flags_exit_2_with_one_line() {
    if !has_acme() {
        return;
    }
    let tls = ["--listen", "127.0.0.1:0", "--listen-tls", "127.0.0.1:0"];
    let rows: &[(&str, &[&str], &[&str])] = &[
        ("a wildcard needs DNS-01", &["--acme", "*.example.org"], &["--acme", "*.example.org", "DNS-01"]),
        ("a wildcard among names", &["--acme", "example.org,*.example.org"], &["--acme", "DNS-01"]),
        ("not a DNS name", &["--acme", "exa mple.org"], &["--acme", "exa mple.org"]),
        ("an IP address", &["--acme", "127.0.0.1"], &["--acme", "127.0.0.1"]),
        ("no names", &["--acme", ""], &["--acme"]),
        ("a name on two certificates", &["--acme", "a.example", "--acme", "a.example"], &["--acme", "a.example"]),
        ("no such challenge", &["--acme", "a.example", "--acme-challenge", "dns-01"], &["--acme-challenge", "dns-01"]),
        ("directory not https", &["--acme", "a.example", "--acme-directory", "http://ca/d"], &["--acme-directory"]),
        ("not an email address", &["--acme", "a.example", "--acme-email", "ops"], &["--acme-email", "ops"]),
        ("a bad profile name", &["--acme", "a.example", "--acme-profile", "a b"], &["--acme-profile"]),
        ("an empty --acme-dir", &["--acme", "a.example", "--acme-dir="], &["--acme-dir"]),
        ("an option without --acme", &["--acme-email", "ops@example.org"], &["--acme-email", "needs --acme"]),
        (
            "staging and a directory",
            &["--acme", "a.example", "--acme-staging", "--acme-directory", "https://ca.example/dir"],
            &["--acme-staging", "--acme-directory"],
        ),
    ];
    for (name, flags, wanted) in rows {
        eprintln!("{name}");
        let args: Vec<&str> = tls.iter().chain(flags.iter()).copied().collect();
        refused(&args, wanted);
    }
    refused(&["--listen", "127.0.0.1:0", "--acme", "a.example"], &["--acme needs --listen-tls"]);
    refused(
        &["--listen-tls", "127.0.0.1:0", "--acme", "a.example", "--acme-challenge", "http-01"],
        &["--acme-challenge http-01 needs a plain --listen"],
    );
}
