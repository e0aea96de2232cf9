//! SIGINT and SIGTERM (and a second SIGHUP): every job's process group is
//! terminated, no descendant survives, no temp file is left, exit status
//! 255. A first SIGHUP lets the running jobs finish and starts no more;
//! SIGUSR1 lists the running jobs and the run goes on (GNU parallel's
//! meanings).

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
    interrupt_times(sig, 1, script);
}

fn interrupt_times(sig: i32, times: usize, script: &str) {
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
    for _ in 0..times {
        // SAFETY: plain kill(2) on our child.
        unsafe { libc::kill(child.id() as i32, sig) };
        std::thread::sleep(Duration::from_millis(50));
    }
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
fn a_second_sighup_leaves_no_grandchild_behind() {
    interrupt_times(
        libc::SIGHUP,
        2,
        "sleep 60 & echo $! >> pids; echo $$ >> pids; wait; : {}",
    );
}

/// Runs `-j2` jobs `sleep 1; echo done N` for 1 2 3 and sends `sig` once
/// both first jobs run; returns the exit status, stdout and stderr.
fn signal_mid_run(sig: i32) -> (Option<i32>, String, String) {
    let dir = tempfile::tempdir().unwrap();
    let mut c = fanout(["-j2", "-k", "touch started{}; sleep 1; echo done {}"])
        .args([":::", "1", "2", "3"])
        .command();
    c.current_dir(dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let child = c.spawn().unwrap();
    let t0 = Instant::now();
    while !(dir.path().join("started1").exists() && dir.path().join("started2").exists()) {
        assert!(t0.elapsed() < Duration::from_secs(20), "jobs did not start");
        std::thread::sleep(Duration::from_millis(10));
    }
    // SAFETY: plain kill(2) on our child.
    unsafe { libc::kill(child.id() as i32, sig) };
    let out = child.wait_with_output().unwrap();
    let text = |b: Vec<u8>| String::from_utf8_lossy(&b).into_owned();
    (out.status.code(), text(out.stdout), text(out.stderr))
}

#[test]
fn a_first_sighup_lets_running_jobs_finish_and_starts_no_more() {
    let (code, out, err) = signal_mid_run(libc::SIGHUP);
    assert_eq!(out, "done 1\ndone 2\n", "{err}");
    assert_eq!(code, Some(0), "{err}");
}

#[test]
fn sigusr1_lists_the_running_jobs_and_the_run_goes_on() {
    let (code, out, err) = signal_mid_run(libc::SIGUSR1);
    assert_eq!(out, "done 1\ndone 2\ndone 3\n");
    assert_eq!(code, Some(0));
    assert!(
        err.contains("fanout: job 1: touch started1; sleep 1; echo done 1")
            && err.contains("fanout: job 2: touch started2"),
        "{err}"
    );
}

#[test]
fn setsid_regression_descendants_survived_ctrl_c() {
    // `setsid` takes the grandchild out of the job's process group (and
    // session), so only fanout's subreaping can find it.
    interrupt_with(
        libc::SIGINT,
        "setsid sleep 100 & echo $! >> pids; echo $$ >> pids; wait; : {}",
    );
}

#[test]
fn setsid_descendants_ignoring_term_are_killed_on_sigterm() {
    interrupt_with(
        libc::SIGTERM,
        "setsid sh -c 'trap \"\" TERM; sleep 100' & echo $! >> pids; echo $$ >> pids; wait; : {}",
    );
}

#[test]
fn halt_now_leaves_no_setsid_descendant_behind() {
    let dir = tempfile::tempdir().unwrap();
    let pids_file = dir.path().join("pids");
    let out = fanout([
        "-j2",
        "--halt",
        "now,fail=1",
        ":::",
        "setsid sleep 100 & echo $! >> pids; wait",
        "while [ ! -s pids ]; do sleep 0.01; done; exit 3",
    ])
    .dir(dir.path())
    .run();
    assert_eq!(out.code, Some(3), "{}", out.err());
    let pids = read_pids(&pids_file);
    assert_eq!(pids.len(), 1);
    let t0 = Instant::now();
    while alive(pids[0]) {
        assert!(t0.elapsed() < Duration::from_secs(2), "survived: {pids:?}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn reparented_descendants_are_reaped_without_taking_a_jobs_status() {
    let dir = tempfile::tempdir().unwrap();
    // Every job leaves a background process that outlives it, so fanout
    // (a subreaper) inherits and reaps 200 of them while jobs end around
    // them; each job's own status must still be its own.
    let inputs: Vec<String> = (0..200).map(|i| (i % 2).to_string()).collect();
    fanout(["-j4", "sleep 0.0$(($$ % 10)) & exit {}", ":::"])
        .args(&inputs)
        .dir(dir.path())
        .run()
        .code(100);
    // A job that sees the descendant its predecessor left end: it is
    // reaped, not left a zombie of fanout's.
    fanout([
        "-j2",
        ":::",
        "sleep 0.2 & echo $! > orphan",
        "while [ ! -s orphan ]; do sleep 0.01; done; p=$(cat orphan); i=0; \
         while [ -e /proc/$p ] && [ $i -lt 500 ]; do sleep 0.01; i=$((i+1)); done; \
         [ ! -e /proc/$p ]",
    ])
    .dir(dir.path())
    .run()
    .code(0);
}

#[test]
fn sigkill_of_fanout_itself_leaves_nothing_in_tmpdir() {
    // Spool files have no name and no directory holds them: a SIGKILL,
    // which fanout cannot catch, leaves no trace in $TMPDIR.
    let dir = tempfile::tempdir().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let pid_file = dir.path().join("pid");
    let script = format!(
        "echo $$ > {}; seq 300000; exec sleep 30",
        pid_file.display()
    );
    let mut c = fanout(["-N0", &script, ":::", "x"]).command();
    c.env("TMPDIR", tmp.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let mut child = c.spawn().unwrap();
    let t0 = Instant::now();
    let pid = loop {
        if let Some(p) = read_pids(&pid_file).first().copied() {
            break p;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(20),
            "the job did not start"
        );
        std::thread::sleep(Duration::from_millis(10));
    };
    // The job's 2 MB of output has gone to a spool file by now.
    std::thread::sleep(Duration::from_millis(500));
    child.kill().unwrap();
    child.wait().unwrap();
    // SAFETY: kill(2) on the job's process group, left behind by design.
    unsafe { libc::kill(-pid, libc::SIGKILL) };
    assert_eq!(
        std::fs::read_dir(tmp.path()).unwrap().count(),
        0,
        "left in $TMPDIR"
    );
}

/// The zombies among `pid`'s children.
fn zombie_children(pid: u32) -> Vec<String> {
    let mut out = Vec::new();
    for task in std::fs::read_dir(format!("/proc/{pid}/task"))
        .unwrap()
        .flatten()
    {
        let kids = std::fs::read_to_string(task.path().join("children")).unwrap_or_default();
        for kid in kids.split_whitespace() {
            let stat = std::fs::read_to_string(format!("/proc/{kid}/stat")).unwrap_or_default();
            if stat
                .rsplit(')')
                .next()
                .is_some_and(|s| s.trim_start().starts_with('Z'))
            {
                out.push(kid.to_owned());
            }
        }
    }
    out
}

#[test]
fn reparented_descendants_are_reaped_while_the_run_goes_on() {
    // Orphan scans are batched (one per 50 ms of SIGCHLDs, not one per
    // job): a setsid'd descendant that exits must still be reaped long
    // before the run ends.
    let mut c = fanout([
        "-j1",
        ":::",
        "setsid true & wait",
        "setsid sh -c 'sleep 0.1' & sleep 0.01",
        "setsid true & wait",
        "sleep 2",
    ])
    .command();
    c.stdout(Stdio::null()).stderr(Stdio::null());
    let mut child = c.spawn().unwrap();
    std::thread::sleep(Duration::from_millis(1200));
    let zombies = zombie_children(child.id());
    let status = child.wait().unwrap();
    assert!(status.success());
    assert!(zombies.is_empty(), "unreaped: {zombies:?}");
}
