//! GNU parallel's old short options whose value is optional and only ever
//! attached (`-l[N]`, `-e[STR]`, `-i[STR]`), which clap cannot read
//! without taking the next argument for their value: rewritten, among
//! fanout's own options only, into the forms they stand for.

use std::ffi::OsString;
use std::os::unix::ffi::{OsStrExt, OsStringExt};

use super::split::options_end;
use super::ValueOptions;

/// `argv` with `-l` → `-L 1`, `-lN` → `-L N` (lines per command line;
/// `-l0` is `-l1`), `-e` → nothing (no end-of-file string), `-eSTR` →
/// `-E STR`, `-iSTR` → `--replace=STR`.
pub fn rewrite(argv: Vec<OsString>, opts: &ValueOptions) -> Vec<OsString> {
    let (end, values) = options_end(&argv, opts);
    let mut out = Vec::with_capacity(argv.len() + 1);
    let number = |a: Option<&OsString>| {
        a.is_some_and(|a| !a.is_empty() && a.as_bytes().iter().all(u8::is_ascii_digit))
    };
    let mut taken = None;
    for i in 0..argv.len() {
        let a = argv[i].clone();
        if taken == Some(i) {
            continue;
        }
        let b = a.as_bytes();
        // Perl's Getopt::Long gives `-l` the next argument when it is a
        // number: `-l 4` is `-l4`.
        if i < end && b == b"-l" && !values.contains(&i) && number(argv.get(i + 1)) {
            taken = Some(i + 1);
            out.push("-L".into());
            let n: u64 = argv[i + 1].to_string_lossy().parse().unwrap_or(1);
            out.push(n.max(1).to_string().into());
            continue;
        }
        if i >= end || values.contains(&i) || b.len() < 2 || b[0] != b'-' || b[1] == b'-' {
            out.push(a);
            continue;
        }
        let rest = || OsString::from_vec(b[2..].to_vec());
        match b[1] {
            b'l' if b[2..].iter().all(u8::is_ascii_digit) => {
                let n = std::str::from_utf8(&b[2..])
                    .ok()
                    .and_then(|d| d.parse::<u64>().ok());
                out.push("-L".into());
                out.push(n.unwrap_or(1).max(1).to_string().into());
            }
            b'e' if b.len() == 2 => {}
            b'e' => out.extend(["-E".into(), rest()]),
            b'i' if b.len() > 2 => {
                let mut r = OsString::from("--replace=");
                r.push(rest());
                out.push(r);
            }
            _ => out.push(a),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn os(v: &[&str]) -> Vec<OsString> {
        v.iter().map(OsString::from).collect()
    }

    #[test]
    fn old_short_options_become_what_they_stand_for() {
        let opts = ValueOptions {
            long: vec![],
            short: b"jE".to_vec(),
        };
        let got = rewrite(
            os(&["-l0", "-eEND", "-iXX", "-j", "-l", "echo", "-l2"]),
            &opts,
        );
        assert_eq!(
            got,
            os(&[
                "-L",
                "1",
                "-E",
                "END",
                "--replace=XX",
                "-j",
                "-l",
                "echo",
                "-l2"
            ])
        );
        assert_eq!(
            rewrite(os(&["-l", "-e", "echo"]), &opts),
            os(&["-L", "1", "echo"])
        );
    }
}
