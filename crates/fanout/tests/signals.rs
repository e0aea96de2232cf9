//! SIGINT and SIGTERM: every job's process group is terminated, no
//! descendant survives, no temp file is left, exit status 255.

mod common;
use common::{alive, fanout};

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

fn read_pids(path: &Path) -> Vec<i32> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.trim().parse().ok())
        .collect()
}

/// Starts three jobs that each leave a background grandchild, signals
/// fanout once all six processes are up, and checks the aftermath.
fn interrupt_with(sig: i32, script: &str) {
    let dir = tempfile::tempdir().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let pids_file = dir.path().join("pids");
    let mut c = fanout(["-j3", script, ":::", "1", "2", "3"]).command();
    c.current_dir(dir.path())
        .env("TMPDIR", tmp.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let mut child = c.spawn().unwrap();
    let t0 = Instant::now();
    while read_pids(&pids_file).len() < 6 {
        assert!(t0.elapsed() < Duration::from_secs(20), "jobs did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    let pids = read_pids(&pids_file);
    // SAFETY: plain kill(2) on our child.
    unsafe { libc::kill(child.id() as i32, sig) };
    let signalled = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(
            signalled.elapsed() < Duration::from_secs(5),
            "fanout did not exit"
        );
        std::thread::sleep(Duration::from_millis(10));
    };
    assert_eq!(status.code(), Some(255));
    while pids.iter().any(|&p| alive(p)) {
        assert!(
            signalled.elapsed() < Duration::from_secs(2),
            "descendants survived: {pids:?}"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(
        std::fs::read_dir(tmp.path()).unwrap().count(),
        0,
        "temp files left"
    );
}

#[test]
fn sigint_leaves_no_grandchild_behind() {
    interrupt_with(
        libc::SIGINT,
        "sleep 60 & echo $! >> pids; echo $$ >> pids; wait; : {}",
    );
}

#[test]
fn sigterm_leaves_no_grandchild_behind() {
    interrupt_with(
        libc::SIGTERM,
        "sleep 60 & echo $! >> pids; echo $$ >> pids; wait; : {}",
    );
}

#[test]
fn jobs_ignoring_term_are_killed() {
    interrupt_with(
        libc::SIGINT,
        "trap '' TERM; sleep 60 & echo $! >> pids; echo $$ >> pids; wait; : {}",
    );
}

#[test]
fn spooled_output_is_removed_on_interrupt() {
    // The job's output outgrows memory, so a spool directory exists when
    // the signal arrives.
    interrupt_with(
        libc::SIGTERM,
        "head -c 1000000 /dev/zero; sleep 60 & echo $! >> pids; echo $$ >> pids; wait; : {}",
    );
}

#[test]
fn sighup_leaves_no_grandchild_behind() {
    interrupt_with(
        libc::SIGHUP,
        "sleep 60 & echo $! >> pids; echo $$ >> pids; wait; : {}",
    );
}
