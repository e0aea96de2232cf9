//! Invoked as `parallel` (a symlink), fanout's messages go by GNU
//! parallel's name, so scripts matching GNU's messages keep working.

mod common;

fn as_parallel(args: &[&str]) -> std::process::Output {
    let dir = tempfile::tempdir().unwrap();
    let link = dir.path().join("parallel");
    std::os::unix::fs::symlink(common::bin(), &link).unwrap();
    std::process::Command::new(&link)
        .args(args)
        .env_remove("PARALLEL")
        .output()
        .unwrap()
}

#[test]
fn errors_and_warnings_begin_with_parallel() {
    let out = as_parallel(&["--no-such-option", "echo", ":::", "a"]);
    assert_eq!(out.status.code(), Some(255));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.starts_with("parallel: Error: "), "{err}");
    let out = as_parallel(&["--halt", "now,fail=1", "exit {}", ":::", "3"]);
    assert_eq!(out.status.code(), Some(3));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "parallel: This job failed:\nexit 3\n"
    );
}

#[test]
fn version_still_says_fanout() {
    let out = as_parallel(&["--version"]);
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("fanout "));
}
