//! Output handling: grouping, order, line buffering, tags, -v, --dry-run,
//! and spooling of large output.

mod common;
use common::fanout;

#[test]
fn group_keeps_each_jobs_output_together() {
    let cmd = "for i in 1 2 3; do echo {}$i; sleep 0.05; done";
    let out = fanout(["-j3", cmd, ":::", "a", "b", "c"]).run().code(0);
    let lines: Vec<String> = out.out().lines().map(str::to_string).collect();
    for chunk in lines.chunks(3) {
        let job = &chunk[0][..1];
        assert!(
            chunk.iter().all(|l| l.starts_with(job)),
            "interleaved: {lines:?}"
        );
    }
}

#[test]
fn stdout_then_stderr_per_job() {
    let out = fanout(["-k", "echo out{}; echo err{} >&2", ":::", "1", "2"])
        .run()
        .code(0);
    assert_eq!(out.out(), "out1\nout2\n");
    assert_eq!(out.err(), "err1\nerr2\n");
}

#[test]
fn keep_order_follows_input_not_completion() {
    fanout(["-k", "-j3", "sleep {}; echo {}", ":::", "0.9", "0.1", "0.5"])
        .run()
        .stdout_is("0.9\n0.1\n0.5\n");
    fanout(["-j3", "sleep {}; echo {}", ":::", "0.9", "0.1", "0.5"])
        .run()
        .stdout_is("0.1\n0.5\n0.9\n");
}

#[test]
fn line_buffer_prints_lines_as_they_come() {
    let cmd = "echo {}-start; sleep {}; echo {}-end";
    let out = fanout(["--line-buffer", "-j2", cmd, ":::", "0.2", "0.8"])
        .run()
        .code(0);
    let lines: Vec<String> = out.out().lines().map(str::to_string).collect();
    // Both jobs print their first line long before either ends; which of
    // the two starts comes first is up to the scheduler.
    let mut starts = lines[..2].to_vec();
    starts.sort();
    assert_eq!(starts, ["0.2-start", "0.8-start"]);
    assert_eq!(lines[2..], ["0.2-end", "0.8-end"]);
}

#[test]
fn line_buffer_with_keep_order_holds_later_jobs() {
    let cmd = "echo {}-start; sleep {}; echo {}-end";
    fanout(["--line-buffer", "-k", "-j2", cmd, ":::", "0.6", "0.2"])
        .run()
        .stdout_is("0.6-start\n0.6-end\n0.2-start\n0.2-end\n");
}

#[test]
fn ungroup_lets_jobs_write_directly() {
    fanout(["-u", "-j1", "printf", "%s", ":::", "a", "b"])
        .run()
        .stdout_is("ab");
}

#[test]
fn tag_and_tagstring_prefix_every_line() {
    fanout(["-k", "--tag", "echo", ":::", "a", "b c"])
        .run()
        .stdout_is("a\ta\nb c\tb c\n");
    fanout(["-k", "--tag", "echo", ":::", "a", ":::", "1"])
        .run()
        .stdout_is("a 1\ta 1\n");
    fanout(["-k", "--tagstring", "T{}-{#}", "echo x; echo y", ":::", "a"])
        .run()
        .stdout_is("Ta-1\tx\nTa-1\ty a\n");
}

#[test]
fn tagstring_decodes_octal_escapes_for_colour() {
    fanout([
        "-k",
        "--tagstring",
        r"\033[3{#}m{}\033[0m\t",
        "echo",
        ":::",
        "a",
    ])
    .run()
    .stdout_is("\x1b[31ma\x1b[0m\t\ta\n");
}

#[test]
fn verbose_prints_the_command_before_its_output() {
    fanout(["-k", "-v", "echo", ":::", "a", "b"])
        .run()
        .stdout_is("echo a\na\necho b\nb\n");
}

#[test]
fn dry_run_prints_commands_without_running_them() {
    let dir = tempfile::tempdir().unwrap();
    fanout(["--dry-run", "touch", ":::", "x"])
        .dir(dir.path())
        .run()
        .code(0)
        .stdout_is("touch x\n");
    assert!(!dir.path().join("x").exists());
}

#[test]
fn large_output_is_spooled_and_the_temp_dir_removed() {
    let tmp = tempfile::tempdir().unwrap();
    let out = fanout([
        "-j2",
        "head",
        "-c",
        "{}",
        "/dev/zero",
        ":::",
        "3000000",
        "5000000",
    ])
    .env("TMPDIR", tmp.path().as_os_str())
    .run()
    .code(0);
    assert_eq!(out.stdout.len(), 8_000_000);
    assert_eq!(
        std::fs::read_dir(tmp.path()).unwrap().count(),
        0,
        "temp files left behind"
    );
}

#[test]
fn two_gib_of_output_under_group_keeps_memory_bounded() {
    let tmp = tempfile::tempdir().unwrap();
    let mut c = fanout(["head", "-c", "{}", "/dev/zero", ":::", "2147483648"]).command();
    c.env("TMPDIR", tmp.path());
    let (status, bytes, _lines, rss_kib) = common::run_measuring_rss(c);
    assert!(status.success());
    assert_eq!(bytes, 2_147_483_648, "all output arrived");

    assert!(
        rss_kib < 64 * 1024,
        "fanout held the output in memory: {rss_kib} KiB"
    );
    assert_eq!(std::fs::read_dir(tmp.path()).unwrap().count(), 0);
}

#[test]
fn output_without_final_newline_is_kept_as_is() {
    fanout(["-k", "printf", "%s", ":::", "a", "b"])
        .run()
        .stdout_is("ab");
}

#[test]
fn closed_stdout_ends_the_run_quietly() {
    use std::io::Read;
    use std::process::Stdio;
    use std::time::{Duration, Instant};
    // Every job ends by itself, so a fanout that ignored the closed pipe
    // would still finish; it must stop early, quietly, without a signal.
    let mut c = fanout(["-j2", "seq", "1", "{}"]).command();
    c.arg(":::").args((0..40).map(|_| "200000"));
    c.stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = c.spawn().unwrap();
    let mut out = child.stdout.take().unwrap();
    let mut buf = [0u8; 10];
    out.read_exact(&mut buf).unwrap();
    drop(out);
    let t0 = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if t0.elapsed() > Duration::from_secs(30) {
            let _ = child.kill();
            panic!("fanout kept running after its stdout closed");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    assert_eq!(
        status.code(),
        Some(141),
        "closed stdout: 128 + SIGPIPE, as GNU parallel; {status:?}"
    );

    assert!(err.is_empty(), "{err}");
}

#[test]
fn trace_prints_commands_on_stderr() {
    let out = fanout(["-k", "--verbose", "echo", ":::", "a"])
        .run()
        .code(0)
        .stdout_is("a\n");
    assert_eq!(out.err(), "echo a\n");
    fanout(["-k", "-t", "echo", ":::", "a"])
        .run()
        .stderr_is("echo a\n");
}

#[test]
fn ungroup_with_one_slot_regression_select_evaluated_absent_pipes() {
    // -u has no pipes to watch; this once panicked in the executor.
    fanout(["-j1", "-u", "echo", ":::", "a", "b"])
        .run()
        .code(0)
        .stdout_is("a\nb\n");
    fanout(["-k", "-u", "printf", "{}", ":::", "a", "b"])
        .run()
        .code(0);
}

#[test]
fn keep_order_line_buffer_regression_last_line_lost() {
    // The last chunk of a job once reached the sink after the job's end
    // and was dropped.
    fanout(["-k", "--line-buffer", "echo", ":::", "a", "b", "c"])
        .run()
        .stdout_is("a\nb\nc\n");
    fanout([
        "-k",
        "-j3",
        "--lb",
        "sleep 0.{}; echo {}",
        ":::",
        "3",
        "2",
        "1",
    ])
    .run()
    .stdout_is("3\n2\n1\n");
}

#[test]
fn verbose_command_lines_are_tagged_too() {
    fanout(["-k", "--tag", "-v", "echo", ":::", "a", "b"])
        .run()
        .stdout_is("a\techo a\na\ta\nb\techo b\nb\tb\n");
}

#[test]
fn tmpdir_regression_ignored_unless_files() {
    let dir = tempfile::tempdir().unwrap();
    let tmp = dir.path().join("tmp");
    let env_tmp = dir.path().join("env-tmp");
    std::fs::create_dir(&tmp).unwrap();
    std::fs::create_dir(&env_tmp).unwrap();
    let listing = dir.path().join("listing");
    // More output than fanout keeps in memory: by the time head is done,
    // fanout has spooled it to an unnamed file in --tmpdir, which its
    // descriptors show (the job's parent is fanout).
    let job = format!(
        "head -c 300000 /dev/zero; ls -l /proc/$PPID/fd > {}; : {{}}",
        listing.display()
    );
    let out = fanout(["--tmpdir"])
        .arg_path(&tmp)
        .args([job.as_str(), ":::", "a"])
        .env("TMPDIR", &env_tmp)
        .run()
        .code(0);
    assert_eq!(out.stdout.len(), 300000);
    let seen = std::fs::read_to_string(&listing).unwrap();
    assert!(
        seen.contains(tmp.to_str().unwrap()) && !seen.contains(env_tmp.to_str().unwrap()),
        "spool file not in --tmpdir: {seen:?}"
    );
    assert_eq!(std::fs::read_dir(&tmp).unwrap().count(), 0, "left behind");
    assert_eq!(
        std::fs::read_dir(&env_tmp).unwrap().count(),
        0,
        "used $TMPDIR"
    );
}

#[test]
fn full_spool_disk_regression_printed_a_truncated_output() {
    let dir = tempfile::tempdir().unwrap();
    // The second job is running when the first one's spool fails: it is
    // ended with the run, and nothing of it is printed either.
    let out = fanout(["-j2", "head -c 5000000 /dev/zero; : {}", ":::", "a", "b"])
        .env("TMPDIR", dir.path())
        .disk_full_at(1 << 20)
        .run();
    assert_eq!(out.stdout.len(), 0, "part of a grouped output was printed");
    let err = out.err();
    assert_eq!(out.code, Some(255), "{err:?}");
    assert_eq!(err.lines().count(), 1, "one line: {err:?}");
    assert!(
        err.starts_with("fanout: ")
            && (err.contains("job 1 (") || err.contains("job 2 ("))
            && err.contains("head -c 5000000"),
        "{err:?}"
    );
    assert_eq!(err.matches("File too large").count(), 1, "{err:?}");
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        0,
        "temp left"
    );
}
