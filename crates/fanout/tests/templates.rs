//! Replacement strings, quoting and how commands are executed.

mod common;
use common::fanout;

#[test]
fn path_modifiers_match_gnu_parallel() {
    fanout([
        "-k",
        "echo",
        "{.}",
        "{/}",
        "{//}",
        "{/.}",
        ":::",
        "dir/file.tar.gz",
        "/a",
        "file.",
    ])
    .run()
    .stdout_is("dir/file.tar file.tar.gz dir file.tar\n/a a / a\nfile file. . file\n");
}

#[test]
fn positional_strings_with_modifiers() {
    fanout([
        "-k", "echo", "{2}", "{1.}", "{-1/}", ":::", "x/a.b", ":::", "y/c.d",
    ])
    .run()
    .stdout_is("y/c.d x/a c.d\n");
}

#[test]
fn sequence_and_slot() {
    fanout(["-k", "-j1", "echo", "{#}-{%}", ":::", "a", "b", "c"])
        .run()
        .stdout_is("1-1\n2-1\n3-1\n");
    // {#} counts as a replacement string: nothing is appended.
    fanout(["-k", "echo", "{#}", ":::", "a", "b"])
        .run()
        .stdout_is("1\n2\n");
}

#[test]
fn custom_replacement_string() {
    fanout(["-k", "-I", ",,", "echo", ",,", "{}", ":::", "a"])
        .run()
        .stdout_is("a {}\n");
}

#[test]
fn values_are_quoted_as_gnu_parallel_quotes_them() {
    fanout([
        "--dry-run",
        "echo",
        ":::",
        "a b",
        "it's",
        "x$y",
        "",
        "plain-1.txt",
    ])
    .run()
    .stdout_is("echo 'a b'\necho 'it'\"'\"'s'\necho 'x$y'\necho ''\necho plain-1.txt\n");
}

#[test]
fn quote_option_keeps_command_words_whole() {
    fanout(["-q", "--dry-run", "echo", "a b", ":::", "c"])
        .run()
        .stdout_is("echo 'a b' c\n");
    fanout(["-q", "printf", "%s|", "a b", ":::", "c"])
        .run()
        .stdout_is("a b|c|");
}

#[test]
fn shell_syntax_in_the_command_goes_through_the_shell() {
    fanout(["-k", "echo {} | tr a-z A-Z; echo $((1+{}))", ":::", "1"])
        .run()
        .stdout_is("1\n2\n");
    fanout(["-k", "X=5; echo ${X}{}", ":::", "a"])
        .run()
        .stdout_is("5a\n");
    fanout(["exit 3", ":::", "x"]).run().code(1);
}

#[test]
fn parallel_shell_chooses_the_shell() {
    let dir = tempfile::tempdir().unwrap();
    let sh = dir.path().join("mysh");
    common::write_executable(&sh, "#!/bin/sh\necho \"mysh:$2\"\n");
    fanout(["echo {} | cat", ":::", "a"])
        .env("PARALLEL_SHELL", sh.as_os_str())
        .run()
        .stdout_is("mysh:echo a | cat\n");
}

#[test]
fn echo_with_options_or_backslashes_behaves_as_in_the_shell() {
    // dash's builtin echo interprets \t; /bin/echo would not.
    let sh = |args: &[&str]| fanout(args.to_vec()).env("PARALLEL_SHELL", "/bin/sh");
    sh(&["echo", ":::", "a\\tb"]).run().stdout_is("a\tb\n");
    sh(&["echo", "-n", ":::", "x"]).run().stdout_is("x");
}

#[test]
fn functions_exported_from_bash_run_as_commands() {
    let out = std::process::Command::new("bash")
        .arg("-c")
        .arg("f() { echo \"f:$1\"; }; export -f f; exec \"$0\" -k f ::: a b")
        .arg(common::bin())
        .env_remove("PARALLEL_SHELL")
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "f:a\nf:b\n",
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn command_lines_run_in_the_shell_fanout_was_started_from() {
    let run_from = |shell: &str| {
        let out = std::process::Command::new(shell)
            .arg("-c")
            .arg("\"$0\" 'echo ${BASH_VERSION:+bash}' ::: x")
            .arg(common::bin())
            .env_remove("PARALLEL_SHELL")
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    assert_eq!(run_from("bash"), "bash x\n");
    assert_eq!(run_from("dash"), "x\n");
}

#[test]
fn missing_command_runs_the_input_lines() {
    fanout(["-k"])
        .stdin("echo hi\necho \"a b\"\n")
        .run()
        .stdout_is("hi\na b\n");
}

#[test]
fn command_not_found_fails_the_job_with_127_from_the_shell() {
    let out = fanout(["no-such-command-xyz", ":::", "a"]).run().code(1);
    assert!(out.err().contains("not found"), "{}", out.err());
}

#[test]
fn positional_zero_regression_stayed_literal() {
    // GNU parallel renders {0} and {-0} as nothing, and they count as a
    // replacement string (the value is not appended).
    fanout(["-k", "echo", "x{-0}y", "x{0}y", "{0.}", ":::", "a", "b"])
        .run()
        .stdout_is("xy xy\nxy xy\n");
}
