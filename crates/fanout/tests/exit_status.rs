//! Exit status and fanout's own errors.

mod common;
use common::fanout;

#[test]
fn zero_when_every_job_succeeds() {
    fanout(["true", ":::", "a", "b"]).run().code(0);
}

#[test]
fn number_of_failed_jobs() {
    fanout(["exit {}", ":::", "0", "1", "2", "3"]).run().code(3);
}

#[test]
fn more_than_100_failures_is_101() {
    let input: String = (1..=150).map(|i| format!("{i}\n")).collect();
    fanout(["-j8", "false"]).stdin(input).run().code(101);
    let input: String = (1..=100).map(|i| format!("{i}\n")).collect();
    fanout(["-j8", "false"]).stdin(input).run().code(100);
}

#[test]
fn a_job_killed_by_a_signal_counts_as_failed() {
    fanout(["kill -9 $$", ":::", "1"]).run().code(1);
}

#[test]
fn unknown_option() {
    fanout(["--no-such-option", "echo", ":::", "a"])
        .run()
        .fanout_error("--no-such-option");
}

#[test]
fn bad_jobs_value() {
    fanout(["-j", "foo", "echo", ":::", "a"])
        .run()
        .fanout_error("-j");
    fanout(["-j", "1x", "echo", ":::", "a"])
        .run()
        .fanout_error("-j");
}

#[test]
fn missing_argument_file() {
    fanout(["echo", "::::", "/no/such/file"])
        .run()
        .fanout_error("/no/such/file");
    fanout(["-a", "/no/such/file", "echo"])
        .run()
        .fanout_error("/no/such/file");
}

#[test]
fn unbalanced_replacement_string() {
    fanout(["echo", "{1", ":::", "a"]).run().fanout_error("{1");
    fanout(["echo", "{#", ":::", "a"]).run().fanout_error("{#");
}

#[test]
fn bad_colsep_regex() {
    fanout(["--colsep", "(", "echo", ":::", "a"])
        .run()
        .fanout_error("colsep");
}

#[test]
fn help_and_version_succeed() {
    let out = fanout(["--help"]).run().code(0);
    assert!(out.out().contains("Usage"));
    fanout(["--version"]).run().code(0);
}

#[test]
fn gnu_habits_are_accepted() {
    fanout(["--will-cite", "-j", "-1", "echo", ":::", "a"])
        .run()
        .code(0)
        .stdout_is("a\n");
    fanout(["-j", "1", "-j", "2", "-k", "-k", "echo", ":::", "a"])
        .run()
        .code(0)
        .stdout_is("a\n");
    fanout(["--keep", "echo", ":::", "a"])
        .run()
        .code(0)
        .stdout_is("a\n");
}

#[test]
fn a_non_executable_command_fails_as_in_the_shell() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("noexec"), "#!/bin/sh\necho hi\n").unwrap();
    let out = fanout(["./noexec", ":::", "a"])
        .dir(dir.path())
        .run()
        .code(1);
    assert!(out.err().contains("Permission denied"), "{}", out.err());
    assert!(!out.err().contains("fanout:"), "{}", out.err());
}

#[test]
fn a_script_without_shebang_runs_through_the_shell() {
    let dir = tempfile::tempdir().unwrap();
    common::write_executable(&dir.path().join("s"), "echo hi \"$1\"\n");
    fanout(["./s", ":::", "a"])
        .dir(dir.path())
        .run()
        .code(0)
        .stdout_is("hi a\n");
}

#[test]
fn inherited_ignored_sigchld_does_not_fail_jobs() {
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg("trap '' CHLD; exec \"$0\" echo ::: a b")
        .arg(common::bin())
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn a_job_that_cannot_start_is_reported_in_every_output_mode() {
    for mode in ["--group", "--line-buffer", "-u"] {
        // The message is the shell's: dash's, here (bash says "No such file").
        let out = fanout([mode, "./no-such-program", ":::", "a"])
            .env("PARALLEL_SHELL", "/bin/sh")
            .run()
            .code(1);
        assert!(out.err().contains("not found"), "{mode}: {}", out.err());
    }
}
