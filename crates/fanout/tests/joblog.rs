//! `--joblog` and resuming from it: GNU parallel's format, written as jobs
//! finish, complete after SIGINT and SIGKILL, and read back by `--resume`,
//! `--resume-failed` and `--retry-failed` (and by GNU parallel itself).

mod common;
use common::fanout;

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

const HEADER: &str = "Seq\tHost\tStarttime\tJobRuntime\tSend\tReceive\tExitval\tSignal\tCommand";

/// The rows of a job log as (seq, exitval, signal, command), sorted by seq.
fn rows(path: &Path) -> Vec<(u64, i64, i64, String)> {
    let text = std::fs::read_to_string(path).unwrap();
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some(HEADER));
    let mut rows: Vec<_> = lines
        .map(|l| {
            let f: Vec<&str> = l.splitn(9, '\t').collect();
            assert_eq!(f.len(), 9, "row {l:?}");
            assert_eq!(f[1], ":");
            assert!(f[2].parse::<f64>().unwrap() > 1.7e9, "start time {l:?}");
            assert_eq!(f[3].len(), 10, "runtime is %10.3f: {l:?}");
            (
                f[0].parse().unwrap(),
                f[6].parse().unwrap(),
                f[7].parse().unwrap(),
                f[8].to_string(),
            )
        })
        .collect();
    rows.sort();
    rows
}

/// Writes a job log: the header, then these rows.
fn write_log(path: &Path, rows: &[&str]) {
    let mut text = format!("{HEADER}\n");
    for r in rows {
        text.push_str(r);
        text.push('\n');
    }
    std::fs::write(path, text).unwrap();
}

/// `fanout --joblog LOG ARGS...`.
fn logged<const N: usize>(log: &Path, args: [&str; N]) -> common::Fanout {
    fanout(["--joblog"]).arg_path(log).args(args)
}

fn row(seq: u64, exit: i64, signal: i64, cmd: &str) -> (u64, i64, i64, String) {
    (seq, exit, signal, cmd.to_string())
}

#[test]
fn joblog_rows_record_exit_status_signal_and_command() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("log");
    logged(
        &log,
        ["-k", ":::", "exit 0", "exit 3", "kill -9 $$", "echo hi"],
    )
    .run()
    .code(2)
    .stdout_is("hi\n");
    assert_eq!(
        rows(&log),
        [
            row(1, 0, 0, "exit 0"),
            row(2, 3, 0, "exit 3"),
            row(3, 0, 9, "kill -9 $$"),
            row(4, 0, 0, "echo hi"),
        ]
    );
    // Receive is the bytes of stdout, as GNU parallel counts them.
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(text.ends_with("\t0\t3\t0\t0\techo hi\n"), "{text}");
}

#[test]
fn plus_file_appends_without_a_second_header() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("log");
    logged(&log, ["true", ":::", "1"]).run().code(0);
    let mut plus = std::ffi::OsString::from("+");
    plus.push(&log);
    fanout(["--joblog"])
        .arg_os(plus)
        .args(["true", ":::", "2"])
        .run()
        .code(0);
    assert_eq!(rows(&log), [row(1, 0, 0, "true 1"), row(1, 0, 0, "true 2")]);
    // Without +, the log starts anew.
    logged(&log, ["true", ":::", "3"]).run().code(0);
    assert_eq!(rows(&log), [row(1, 0, 0, "true 3")]);
}

#[test]
fn newlines_in_commands_are_logged_as_nul() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("log");
    logged(&log, ["echo 'a\nb'", ":::", "x"]).run().code(0);
    assert_eq!(rows(&log), [row(1, 0, 0, "echo 'a\0b' x")]);
}

#[test]
fn resume_skips_logged_jobs_and_runs_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("log");
    write_log(
        &log,
        &[
            "1\t:\t1795632069.242\t     0.001\t0\t0\t0\t0\techo a",
            "3\t:\t1795632069.242\t     0.001\t0\t0\t1\t0\techo c",
        ],
    );
    logged(&log, ["--resume", "-k", "echo", ":::", "a", "b", "c", "d"])
        .run()
        .stdout_is("b\nd\n");
    let seqs: Vec<u64> = rows(&log).iter().map(|r| r.0).collect();
    assert_eq!(seqs, [1, 2, 3, 4], "appended, not rewritten");
}

#[test]
fn resume_failed_reruns_failed_jobs_only() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("log");
    logged(&log, ["exit", ":::", "0", "1", "0", "2"])
        .run()
        .code(2);
    logged(
        &log,
        ["--resume-failed", "-k", "echo", ":::", "0", "1", "0", "2"],
    )
    .run()
    .code(0)
    .stdout_is("1\n2\n");
}

#[test]
fn retry_failed_runs_the_logged_commands_not_the_input() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("log");
    logged(&log, ["exit", ":::", "0", "1", "0", "2"])
        .run()
        .code(2);
    logged(
        &log,
        ["--retry-failed", "-k", "echo", "ignored", ":::", "x"],
    )
    .run()
    .code(2)
    .stdout_is("");
    let rows = rows(&log);
    assert_eq!(rows.len(), 6);
    assert_eq!(
        rows.iter().filter(|r| r.0 == 2 && r.3 == "exit 1").count(),
        2
    );
    assert_eq!(
        rows.iter().filter(|r| r.0 == 4 && r.3 == "exit 2").count(),
        2
    );
}

#[test]
fn a_foreign_or_corrupt_joblog_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("log");
    std::fs::write(&log, "this is not a joblog\n").unwrap();
    logged(&log, ["--resume", "echo", ":::", "a"])
        .run()
        .fanout_error("line 1");
    write_log(&log, &["1\t:\t1.0\t0.1\t0\t0\t0\t0\tok", "garbage"]);
    logged(&log, ["--resume-failed", "echo", ":::", "a"])
        .run()
        .fanout_error("line 3");
    assert!(
        std::fs::read_to_string(&log)
            .unwrap()
            .ends_with("garbage\n"),
        "log untouched"
    );
}

#[test]
fn resume_without_joblog_is_an_error() {
    fanout(["--resume", "echo", ":::", "a"])
        .run()
        .fanout_error("--joblog");
    fanout(["--joblog", "/nonexistent/dir/log", "echo", ":::", "a"])
        .run()
        .fanout_error("/nonexistent/dir/log");
}

#[test]
fn dry_run_writes_no_joblog() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("log");
    fanout(["--dry-run", "--joblog"])
        .arg_path(&log)
        .args(["echo", ":::", "a"])
        .run()
        .stdout_is("echo a\n");
    assert!(!log.exists());
}

/// Starts `fanout --joblog LOG -j2` over `n` jobs that each append their
/// number to `ran` and sleep; returns the running child.
fn spawn_slow_batch(dir: &Path, n: u32, resume: bool) -> std::process::Child {
    let mut args = vec!["-j2", "--joblog", "log"];
    if resume {
        args.push("--resume");
    }
    args.extend(["echo {} >> ran; sleep 0.{}", ":::"]);
    let mut c = fanout(args).command();
    c.args((1..=n).map(|i| (i % 3 + 1).to_string()));
    c.current_dir(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    c.spawn().unwrap()
}

fn wait_for_rows(log: &Path, n: usize) {
    let t0 = Instant::now();
    while std::fs::read_to_string(log).map_or(0, |t| t.lines().count().saturating_sub(1)) < n {
        assert!(
            t0.elapsed() < Duration::from_secs(30),
            "jobs did not finish"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn sigkill_mid_run_then_resume_runs_every_remaining_job_and_no_finished_one() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("log");
    let mut first = spawn_slow_batch(dir.path(), 12, false);
    wait_for_rows(&log, 4);
    first.kill().unwrap();
    first.wait().unwrap();
    let done_before: Vec<u64> = rows(&log).iter().map(|r| r.0).collect();
    assert!(
        done_before.len() >= 4 && done_before.len() < 12,
        "{done_before:?}"
    );
    // Jobs orphaned by the SIGKILL may still be sleeping; let them end so
    // that `ran` only grows from the resumed run from here on.
    std::thread::sleep(Duration::from_millis(500));
    let ran_before = std::fs::read_to_string(dir.path().join("ran"))
        .unwrap()
        .lines()
        .count();

    let mut second = spawn_slow_batch(dir.path(), 12, true);
    assert!(second.wait().unwrap().success());
    let done_after: Vec<u64> = rows(&log).iter().map(|r| r.0).collect();
    assert_eq!(
        done_after,
        (1..=12).collect::<Vec<_>>(),
        "every job logged exactly once"
    );
    let ran = std::fs::read_to_string(dir.path().join("ran")).unwrap();
    let resumed = ran.lines().count() - ran_before;
    assert_eq!(
        resumed,
        12 - done_before.len(),
        "only the jobs not logged ran again"
    );
}

#[test]
fn sigint_leaves_a_joblog_of_every_finished_job() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("log");
    let mut c = fanout([
        "-j2",
        "--joblog",
        "log",
        "sleep {}; echo {}",
        ":::",
        "0.1",
        "30",
        "30",
    ])
    .command();
    c.current_dir(dir.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let mut child = c.spawn().unwrap();
    wait_for_rows(&log, 1);
    std::thread::sleep(Duration::from_millis(200));
    // SAFETY: plain kill(2) on our child.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    assert_eq!(child.wait().unwrap().code(), Some(255));
    // The finished job is there; the interrupted ones are not, so
    // --resume runs them again.
    assert_eq!(rows(&log), [row(1, 0, 0, "sleep 0.1; echo 0.1")]);
}

#[test]
fn gnu_parallel_resumes_from_our_joblog() {
    // .ci/run installs GNU parallel for this comparison.
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("log");
    logged(&log, ["echo", ":::", "a", "b"]).run().code(0);
    let out = std::process::Command::new("parallel")
        .args(["--will-cite", "--resume", "--joblog"])
        .arg(&log)
        .args(["-k", "echo", ":::", "a", "b", "c"])
        .output()
        .expect("GNU parallel is installed");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "c\n");
    assert_eq!(rows(&log).len(), 3);
}

#[test]
fn absurd_seq_in_joblog_regression_resume_aborted_allocating() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("log");
    write_log(
        &log,
        &["18446744073709551615\t:\t1795632069.242\t     0.001\t0\t0\t0\t0\tx"],
    );
    logged(&log, ["--resume", "echo", ":::", "a"])
        .run()
        .code(0)
        .stdout_is("a\n");
}

#[test]
fn keep_order_halt_now_regression_logged_jobs_never_printed() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("log");
    // Job 2 finishes while job 1 still runs; job 3 fails and halts the run
    // before job 2's output is printed. GNU logs a job when it prints it.
    logged(
        &log,
        [
            "-k",
            "-j3",
            "--halt",
            "now,fail=1",
            ":::",
            "sleep 3",
            "echo B",
            "sleep 0.5; false",
        ],
    )
    .run()
    .code(1)
    .stdout_is("");
    assert!(rows(&log).is_empty(), "{:?}", rows(&log));
}

#[test]
fn shuf_with_resume_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("log");
    logged(&log, ["--shuf", "--resume", "echo", ":::", "a"])
        .run()
        .fanout_error("--shuf");
}

#[test]
fn full_disk_regression_joblog_row_torn_then_resume_refused() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("log");
    let inputs: Vec<String> = (1..=200).map(|i| i.to_string()).collect();
    // Room for the header and a few rows: the disk fills mid-row.
    let out = logged(&log, ["-j1", "true"])
        .args([":::"])
        .args(&inputs)
        .disk_full_at(400)
        .run()
        .code(255);
    let err = out.err();
    assert_eq!(err.lines().count(), 1, "one line: {err:?}");
    assert!(
        err.starts_with("fanout: cannot write joblog")
            && err.contains(log.to_str().unwrap())
            && err.contains("File too large"),
        "{err:?}"
    );
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(text.ends_with('\n'), "a torn row is left: {text:?}");
    let logged_rows = rows(&log);
    assert!(!logged_rows.is_empty() && logged_rows.len() < 200);
    // Resuming runs exactly the jobs the log does not have.
    let out = logged(&log, ["--resume", "-j1", "echo"])
        .args([":::"])
        .args(&inputs)
        .run()
        .code(0);
    assert_eq!(out.out().lines().count(), 200 - logged_rows.len());
    let seqs: Vec<u64> = rows(&log).iter().map(|r| r.0).collect();
    assert_eq!(seqs, (1..=200).collect::<Vec<u64>>());
}

#[test]
fn torn_final_joblog_row_from_a_crash_is_dropped_with_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("log");
    let mut text = format!("{HEADER}\n");
    text.push_str("1\t:\t1795632069.242\t     0.001\t0\t0\t0\t0\techo a\n");
    text.push_str("2\t:\t1");
    std::fs::write(&log, text).unwrap();
    logged(&log, ["--resume", "-k", "echo", ":::", "a", "b", "c"])
        .run()
        .code(0)
        .stdout_is("b\nc\n");
    let seqs: Vec<u64> = rows(&log).iter().map(|r| r.0).collect();
    assert_eq!(seqs, [1, 2, 3], "the torn row is gone, not glued to");
    // The warning, once, as one line.
    std::fs::write(
        &log,
        format!("{HEADER}\n1\t:\t1795632069.242\t     0.001\t0\t0\t0\t0\techo a\n2\t:\t1"),
    )
    .unwrap();
    let out = logged(&log, ["--resume", "echo", ":::", "a", "b"])
        .run()
        .code(0)
        .stdout_is("b\n");
    let err = out.err();
    assert_eq!(err.lines().count(), 1, "{err:?}");
    assert!(
        err.starts_with("fanout: warning: ") && err.contains("line 3"),
        "{err:?}"
    );
}

#[test]
fn results_write_failure_regression_reported_as_cannot_write_output() {
    let dir = tempfile::tempdir().unwrap();
    let out = fanout([
        "--results",
        "res",
        "head",
        "-c",
        "5000",
        "/dev/zero",
        ":::",
        "a",
    ])
    .dir(dir.path())
    .disk_full_at(1000)
    .run()
    .code(255);
    let err = out.err();
    assert_eq!(err.lines().count(), 1, "one line: {err:?}");
    assert!(
        err.starts_with("fanout: cannot write results file") && err.contains("res/1/a/stdout"),
        "{err:?}"
    );
    assert_eq!(err.matches("File too large").count(), 1, "{err:?}");
}
