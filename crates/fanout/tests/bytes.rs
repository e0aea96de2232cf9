//! Arguments are passed byte for byte: non-UTF-8, newlines, quotes, `$`,
//! leading dashes, whichever way the job is executed.

mod common;
use common::fanout;

use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;

fn nasty() -> Vec<Vec<u8>> {
    vec![
        b"\xff\xfe non-utf8 \x80".to_vec(),
        b"line1\nline2".to_vec(),
        b"it's \"quoted\"".to_vec(),
        b"$HOME `id` $(id)".to_vec(),
        b"--leading-dash".to_vec(),
        b"-n".to_vec(),
        b"back\\slash".to_vec(),
        b"tab\there".to_vec(),
        b"".to_vec(),
        b"*".to_vec(),
    ]
}

/// Each value must come back as printf's `%s` output, NUL-terminated.
fn check(cmd: &[&str]) {
    let vals = nasty();
    let mut args: Vec<OsString> = vec!["-k".into(), "-j2".into()];
    args.extend(cmd.iter().map(OsString::from));
    args.push(":::".into());
    args.extend(vals.iter().cloned().map(OsString::from_vec));
    let out = fanout(args).run().code(0);
    // A value given after `:::` is split at the delimiter (a newline), as
    // GNU parallel splits it: `line1\nline2` is two values.
    let expected: Vec<u8> = vals
        .iter()
        .flat_map(|v| v.split(|&b| b == b'\n'))
        .flat_map(|v| v.iter().copied().chain([0]))
        .collect();
    assert_eq!(out.stdout, expected, "{}", out.err());
}

#[test]
fn direct_execution_passes_bytes_exactly() {
    // The format is quoted for the shell's sake, but the line is still
    // simple enough to run without one.
    check(&["printf '%s\\0'"]);
}

#[test]
fn shell_execution_passes_bytes_exactly() {
    // The trailing `;` forces the shell.
    check(&["printf '%s\\0' {};"]);
}

#[test]
fn argument_files_pass_bytes_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let vals: Vec<Vec<u8>> = nasty()
        .into_iter()
        .filter(|v| !v.contains(&b'\n'))
        .collect();
    let mut data = Vec::new();
    for v in &vals {
        data.extend_from_slice(v);
        data.push(b'\n');
    }
    std::fs::write(dir.path().join("in"), &data).unwrap();
    let out = fanout(["-k", "-a", "in", "-q", "printf", "%s\\0"])
        .dir(dir.path())
        .run()
        .code(0);
    let expected: Vec<u8> = vals
        .iter()
        .flat_map(|v| v.iter().copied().chain([0]))
        .collect();
    assert_eq!(out.stdout, expected);
}

#[test]
fn null_separated_input_keeps_newlines() {
    let out = fanout(["-0", "-k", "-q", "printf", "%s|"])
        .stdin(&b"a\nb\0c\0"[..])
        .run()
        .code(0);
    assert_eq!(out.stdout, b"a\nb|c|");
}
