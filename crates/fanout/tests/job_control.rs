//! `--retries`, `--timeout`, `--term-seq`, `--halt`, `--delay`, `--load`
//! and `--memfree`, with real processes. Expected outputs and statuses were
//! recorded from GNU parallel 20221122 running the same commands.

mod common;
use common::{alive, fanout};

use std::path::Path;
use std::time::{Duration, Instant};

fn count_lines(path: &Path) -> usize {
    std::fs::read_to_string(path).map_or(0, |t| t.lines().count())
}

#[test]
fn retries_run_a_failing_job_up_to_n_times_and_print_the_last_run() {
    let dir = tempfile::tempdir().unwrap();
    fanout([
        "--retries",
        "3",
        "echo try; echo x >> runs; false",
        ":::",
        "a",
    ])
    .dir(dir.path())
    .run()
    .code(1)
    .stdout_is("try\n");
    assert_eq!(count_lines(&dir.path().join("runs")), 3);
}

#[test]
fn retries_stop_at_the_first_success() {
    let dir = tempfile::tempdir().unwrap();
    // Fails twice, then succeeds.
    fanout([
        "--retries",
        "5",
        "--joblog",
        "log",
        "echo {} >> runs; test $(wc -l < runs) -ge 3",
        ":::",
        "a",
    ])
    .dir(dir.path())
    .run()
    .code(0);
    assert_eq!(count_lines(&dir.path().join("runs")), 3);
    // Only the final run is logged, as GNU parallel does.
    assert_eq!(count_lines(&dir.path().join("log")), 2);
}

#[test]
fn timeout_kills_the_whole_process_tree() {
    let dir = tempfile::tempdir().unwrap();
    let t0 = Instant::now();
    let out = fanout([
        "--timeout",
        "0.5",
        "--joblog",
        "log",
        "sh -c 'sleep 100 & echo $! > pids; sleep 100 & echo $! >> pids; wait'",
        ":::",
        "1",
    ])
    .dir(dir.path())
    .run()
    .code(1);
    assert!(t0.elapsed() < Duration::from_secs(20));
    assert_eq!(
        out.err(),
        "fanout: Warning: This job was killed because it timed out:\nfanout: Warning: sh -c 'sleep 100 & echo $! > pids; sleep 100 & echo $! >> pids; wait' 1\n"
    );
    let pids: Vec<i32> = std::fs::read_to_string(dir.path().join("pids"))
        .unwrap()
        .lines()
        .map(|l| l.parse().unwrap())
        .collect();
    assert_eq!(pids.len(), 2);
    let t1 = Instant::now();
    while pids.iter().any(|&p| alive(p)) {
        assert!(
            t1.elapsed() < Duration::from_secs(2),
            "a sleep survived: {pids:?}"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    let log = std::fs::read_to_string(dir.path().join("log")).unwrap();
    let row: Vec<&str> = log.lines().nth(1).unwrap().split('\t').collect();
    assert_eq!(
        (row[6], row[7]),
        ("-1", "15"),
        "Exitval -1, Signal TERM: {log}"
    );
}

#[test]
fn timeout_takes_durations_with_units() {
    fanout(["--timeout", "1m", "echo", ":::", "ok"])
        .run()
        .stdout_is("ok\n");
    fanout(["--timeout", "abc", "true", ":::", "1"])
        .run()
        .fanout_error("--timeout");
    // 0 means no timeout, as in GNU parallel.
    fanout(["--timeout", "0", "sleep 0.2; echo", ":::", "done"])
        .run()
        .stdout_is("done\n");
}

#[test]
fn percent_timeout_is_measured_against_the_median_of_succeeded_jobs() {
    // Three quick jobs set the median; the slow one runs past 300% of it.
    let out = fanout([
        "-j1",
        "-k",
        "--timeout",
        "300%",
        "sleep {}; echo {}",
        ":::",
        "0.2",
        "0.2",
        "0.2",
        "5",
    ])
    .run()
    .code(1);
    assert_eq!(out.out(), "0.2\n0.2\n0.2\n");
    assert!(out.err().contains("timed out"), "{}", out.err());
}

#[test]
fn term_seq_chooses_the_signals_that_end_a_timed_out_job() {
    fanout([
        "--timeout",
        "0.3",
        "--term-seq",
        "USR1,200,KILL,25",
        "trap 'echo got usr1; exit 0' USR1; : {}; sleep 10 & wait",
        ":::",
        "1",
    ])
    .run()
    .code(1)
    .stdout_is("got usr1\n");
    fanout(["--term-seq", "BOGUS,1", "true", ":::", "1"])
        .run()
        .fanout_error("--term-seq");
}

/// Runs the halt examples compared with GNU parallel: jobs `exit N` after
/// sleeping 0.N s, two at a time, output in order.
fn halt(spec: &str) -> common::Output {
    fanout([
        "-j2",
        "-k",
        "--halt",
        spec,
        "sleep 0.{}; echo {}; exit {}",
        ":::",
        "3",
        "1",
        "0",
        "4",
        "5",
    ])
    .run()
}

#[test]
fn halt_now_fail_1_kills_the_rest_and_exits_with_the_failing_status() {
    let out = halt("now,fail=1").code(1).stdout_is("");
    assert_eq!(
        out.err(),
        "fanout: This job failed:\nsleep 0.1; echo 1; exit 1\n"
    );
    halt("2").code(1).stdout_is("");
}

#[test]
fn halt_soon_waits_for_running_jobs() {
    let out = halt("soon,fail=1").code(1).stdout_is("3\n1\n");
    assert_eq!(
        out.err(),
        "fanout: This job failed:\nsleep 0.1; echo 1; exit 1\nfanout: Starting no more jobs. Waiting for 1 jobs to finish.\nfanout: This job failed:\nsleep 0.3; echo 3; exit 3\n"
    );
    halt("soon,fail=2").code(2).stdout_is("3\n1\n0\n4\n");
}

#[test]
fn halt_on_success_and_done() {
    halt("now,success=1").code(0).stdout_is("");
    halt("-1").code(0).stdout_is("3\n1\n0\n");
    let out = halt("now,done=2").code(1).stdout_is("");
    assert_eq!(
        out.err(),
        "fanout: This job finished:\nsleep 0.1; echo 1; exit 1\nfanout: This job finished:\nsleep 0.0; echo 0; exit 0\n"
    );
    // A zero threshold halts at the first failure and exits 0, as GNU.
    halt("now,fail=0").code(0).stdout_is("");
}

#[test]
fn halt_percent_counts_against_all_jobs_and_exits_with_the_failed_percentage() {
    halt("now,fail=50%").code(60).stdout_is("3\n1\n0\n4\n");
    // Never reached: the status is still the failed percentage.
    fanout(["--halt", "soon,fail=90%", "exit", ":::", "0", "1", "0", "0"])
        .run()
        .code(25);
}

#[test]
fn bad_halt_values_are_rejected() {
    for bad in ["foo", "now", "now,fail", "soon,oops=1", "now,fail=x"] {
        fanout(["--halt", bad, "true", ":::", "1"])
            .run()
            .fanout_error("--halt");
    }
}

#[test]
fn delay_spaces_out_job_starts() {
    let dir = tempfile::tempdir().unwrap();
    fanout([
        "-j3", "--delay", "0.3", "--joblog", "log", "true", ":::", "1", "2", "3",
    ])
    .dir(dir.path())
    .run()
    .code(0);
    let log = std::fs::read_to_string(dir.path().join("log")).unwrap();
    let mut starts: Vec<f64> = log
        .lines()
        .skip(1)
        .map(|l| l.split('\t').nth(2).unwrap().parse().unwrap())
        .collect();
    starts.sort_by(f64::total_cmp);
    for w in starts.windows(2) {
        // A lower bound only: never a timing assertion that noise can break.
        assert!(w[1] - w[0] >= 0.29, "starts {starts:?}");
    }
}

#[test]
fn load_limit_lets_jobs_run_when_the_machine_is_not_busy() {
    fanout(["--load", "1000", "-k", "echo", ":::", "a", "b"])
        .run()
        .stdout_is("a\nb\n");
    fanout(["--load", "100%", "echo", ":::", "a"])
        .run()
        .stdout_is("a\n");
    fanout(["--load", "x", "echo", ":::", "a"])
        .run()
        .fanout_error("--load");
}

fn meminfo(path: &Path, kib: u64) {
    // Written whole through a rename, so a reader never sees half a file.
    let tmp = path.with_extension("tmp");
    std::fs::write(
        &tmp,
        format!("MemFree: {kib} kB\nBuffers: 0 kB\nCached: 0 kB\n"),
    )
    .unwrap();
    std::fs::rename(tmp, path).unwrap();
}

#[test]
fn memfree_holds_jobs_back_and_requeues_the_youngest_under_pressure() {
    let dir = tempfile::tempdir().unwrap();
    let mi = dir.path().join("meminfo");
    meminfo(&mi, 4 << 20); // 4 GiB free, --memfree 1G: jobs start.
    let mut c = fanout([
        "-j2",
        "--memfree",
        "1G",
        "--joblog",
        "log",
        "echo {} >> started; sleep 1",
        ":::",
        "a",
        "b",
    ])
    .command();
    c.current_dir(dir.path()).env("FANOUT_MEMINFO", &mi);
    let mut child = c.spawn().unwrap();
    let started = dir.path().join("started");
    let t0 = Instant::now();
    while count_lines(&started) < 2 {
        assert!(t0.elapsed() < Duration::from_secs(10), "jobs did not start");
        std::thread::sleep(Duration::from_millis(10));
    }
    // Under half of --memfree: the youngest job is killed and requeued;
    // with less than --memfree free, nothing new starts.
    meminfo(&mi, 100 << 10);
    std::thread::sleep(Duration::from_millis(700));
    let after_pressure = count_lines(&started);
    meminfo(&mi, 4 << 20);
    assert!(child.wait().unwrap().success());
    assert_eq!(after_pressure, 2, "nothing started while memory was short");
    let runs = std::fs::read_to_string(&started).unwrap();
    assert!(runs.lines().count() >= 3, "a killed job ran again: {runs}");
    // Each job finished exactly once.
    assert_eq!(count_lines(&dir.path().join("log")), 3);
}

#[test]
fn huge_durations_regression_instant_overflow_panicked() {
    fanout(["--timeout", "1e19", "echo", ":::", "a"])
        .run()
        .stdout_is("a\n");
    fanout(["--timeout", "1e300%", "-k", "echo", ":::", "a", "b"])
        .run()
        .stdout_is("a\nb\n");
    fanout(["--delay", "1e19", "echo", ":::", "a"])
        .run()
        .stdout_is("a\n");
}

#[test]
fn spawn_failure_regression_retried_forever_ignoring_signals() {
    // Not even the shell can start: retrying cannot help.
    let out = fanout(["--retries", "0", "echo a; false", ":::", "1"])
        .env("PARALLEL_SHELL", "/nonexistent/shell")
        .run()
        .code(1);
    assert!(out.err().contains("cannot start job 1"), "{}", out.err());
}

#[test]
fn term_seq_without_kill_regression_interrupt_hung() {
    use std::process::Stdio;
    let dir = tempfile::tempdir().unwrap();
    let mut c = fanout([
        "--term-seq",
        "TERM,100",
        "trap '' TERM; echo started > up; sleep 30; : {}",
        ":::",
        "1",
    ])
    .command();
    c.current_dir(dir.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let mut child = c.spawn().unwrap();
    let t0 = Instant::now();
    while !dir.path().join("up").exists() {
        assert!(t0.elapsed() < Duration::from_secs(10), "job did not start");
        std::thread::sleep(Duration::from_millis(10));
    }
    // SAFETY: plain kill(2) on our child.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let t1 = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            assert_eq!(status.code(), Some(255));
            break;
        }
        assert!(
            t1.elapsed() < Duration::from_secs(5),
            "fanout hung after the term sequence"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}
