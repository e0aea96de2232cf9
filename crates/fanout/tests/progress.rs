//! `--bar`, `--eta` and `--progress`: drawn on stderr when it is a
//! terminal (checked under a real pseudo-terminal), never otherwise, and
//! never mixed into the jobs' output on stdout.

mod common;
use common::fanout;

use std::fs::File;
use std::io::Read;
use std::os::fd::{FromRawFd, OwnedFd};
use std::process::Stdio;

/// A pseudo-terminal: (master, slave).
fn pty() -> (OwnedFd, OwnedFd) {
    let (mut master, mut slave) = (0, 0);
    // SAFETY: openpty writes two descriptors; null name, termios, winsize.
    let r = unsafe {
        libc::openpty(
            &mut master,
            &mut slave,
            std::ptr::null_mut(),
            std::ptr::null(),
            std::ptr::null(),
        )
    };
    assert_eq!(r, 0, "openpty");
    // SAFETY: both were just opened and are owned by nobody else.
    unsafe { (OwnedFd::from_raw_fd(master), OwnedFd::from_raw_fd(slave)) }
}

/// Runs fanout with stderr on a terminal; returns (stdout, terminal text).
fn run_on_terminal(args: &[&str]) -> (String, String) {
    let (master, slave) = pty();
    let mut c = fanout(args.iter().copied()).command();
    c.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::from(slave));
    let mut child = c.spawn().unwrap();
    drop(c);
    let reader = std::thread::spawn(move || {
        let mut term = Vec::new();
        // Reads until the last holder of the slave side is gone (EIO).
        let _ = File::from(master).read_to_end(&mut term);
        String::from_utf8_lossy(&term).into_owned()
    });
    let mut out = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    assert!(child.wait().unwrap().success());
    (out, reader.join().unwrap())
}

#[test]
fn eta_is_drawn_on_a_terminal_and_stdout_stays_clean() {
    let (out, term) = run_on_terminal(&[
        "--eta",
        "-j2",
        "-k",
        "sleep 0.3; echo {}",
        ":::",
        "a",
        "b",
        "c",
    ]);
    assert_eq!(out, "a\nb\nc\n");
    assert!(
        term.contains("Computers / CPU cores / Max jobs to run"),
        "{term:?}"
    );
    assert!(term.contains("ETA: "), "{term:?}");
    assert!(term.contains("Left: 0 AVG: "), "the final state: {term:?}");
    assert!(term.contains("local:0/3/100%/"), "{term:?}");
}

#[test]
fn bar_shows_percentage_done() {
    let (out, term) = run_on_terminal(&["--bar", "sleep 0.2; echo {}", ":::", "x", "y"]);
    assert_eq!(out.lines().count(), 2);
    assert!(term.contains("100% 2:0=0s"), "{term:?}");
    assert!(term.contains("\x1b[7m"), "reverse video bar: {term:?}");
}

#[test]
fn progress_counts_running_and_completed_jobs() {
    let (_, term) = run_on_terminal(&["--progress", "-j2", "sleep", ":::", "0.3", "0.3"]);
    assert!(term.contains("local:2/0/100%"), "{term:?}");
    assert!(term.contains("local:0/2/100%"), "{term:?}");
}

#[test]
fn nothing_is_drawn_when_stderr_is_not_a_terminal() {
    for opt in ["--bar", "--eta", "--progress"] {
        fanout([opt, "-k", "echo", ":::", "a", "b"])
            .run()
            .code(0)
            .stdout_is("a\nb\n")
            .stderr_is("");
    }
}
