//! A direct command's program is looked up in `PATH` once a run (as a
//! shell's `hash` does): it still runs from the first directory that holds
//! an executable file of that name, under its bare name, and one that has
//! gone since gets the shell's own search and message.

mod common;
use common::fanout;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

/// `PATH` with `dirs` in front of the test's own.
fn path_with(dirs: &[&Path]) -> std::ffi::OsString {
    let own = std::env::var_os("PATH").unwrap_or_default();
    let mut all: Vec<_> = dirs.iter().map(|d| d.to_path_buf()).collect();
    all.extend(std::env::split_paths(&own));
    std::env::join_paths(all).unwrap()
}

#[test]
fn a_program_later_in_path_runs_under_its_bare_name() {
    let (first, second) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    // What execvp goes past: a directory, and a file without the x bit.
    std::fs::create_dir(first.path().join("show-argv")).unwrap();
    std::fs::write(first.path().join("show-args"), "#!/bin/sh\necho wrong\n").unwrap();
    std::fs::set_permissions(
        first.path().join("show-args"),
        std::fs::Permissions::from_mode(0o644),
    )
    .unwrap();
    let cat = which("cat");
    std::os::unix::fs::symlink(&cat, second.path().join("show-argv")).unwrap();
    std::os::unix::fs::symlink(&cat, second.path().join("show-args")).unwrap();
    let out = fanout([
        "-k",
        "{}",
        "/proc/self/cmdline",
        ":::",
        "show-argv",
        "show-args",
    ])
    .env("PATH", path_with(&[first.path(), second.path()]))
    .run()
    .code(0);
    assert_eq!(
        out.out(),
        "show-argv\0/proc/self/cmdline\0show-args\0/proc/self/cmdline\0"
    );
}

#[test]
fn a_program_removed_during_the_run_gets_the_shells_search() {
    let dir = tempfile::tempdir().unwrap();
    let gone = dir.path().join("run-once");
    std::fs::write(&gone, "#!/bin/sh\nrm -- \"$0\"\necho ran \"$1\"\n").unwrap();
    std::fs::set_permissions(&gone, std::fs::Permissions::from_mode(0o755)).unwrap();
    let out = fanout(["-j1", "-k", "run-once", ":::", "1", "2"])
        .env("PATH", path_with(&[dir.path()]))
        .env("PARALLEL_SHELL", "/bin/sh")
        .run()
        .code(1);
    assert_eq!(out.out(), "ran 1\n");
    assert!(out.err().contains("run-once"), "{}", out.err());
}

/// The file `name` runs from in the test's `PATH`.
fn which(name: &str) -> std::path::PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|f| f.is_file())
        .unwrap_or_else(|| panic!("{name} in PATH"))
}
