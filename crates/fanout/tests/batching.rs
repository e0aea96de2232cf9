//! -n, -N, -X, -m, --xargs and -s, against GNU parallel's output.

mod common;
use common::fanout;

#[test]
fn fixed_number_of_arguments() {
    fanout([
        "-k",
        "-n2",
        "--dry-run",
        "echo",
        ":::",
        "a",
        "b",
        "c",
        "d",
        "e",
    ])
    .run()
    .stdout_is("echo a b\necho c d\necho e\n");
    fanout(["-k", "-N2", "echo", "{1}-{2}", ":::", "a", "b", "c"])
        .run()
        .stdout_is("a-b\nc-\n");
}

#[test]
fn n_zero_runs_the_command_without_arguments() {
    fanout(["-k", "-N0", "echo", "hi", ":::", "a", "b"])
        .run()
        .stdout_is("hi\nhi\n");
}

#[test]
fn context_replace_spreads_the_tail_over_job_slots() {
    fanout([
        "-k",
        "-j2",
        "-X",
        "--dry-run",
        "echo",
        "pre{}post",
        ":::",
        "a",
        "b",
        "c",
        "d",
        "e",
    ])
    .run()
    .stdout_is("echo preapost prebpost precpost\necho predpost preepost\n");
}

#[test]
fn multi_inserts_all_arguments_at_the_replacement_string() {
    fanout([
        "-k",
        "-j2",
        "-m",
        "--dry-run",
        "echo",
        "pre{}post",
        ":::",
        "a",
        "b",
        "c",
        "d",
        "e",
    ])
    .run()
    .stdout_is("echo prea b cpost\necho pred epost\n");
}

#[test]
fn xargs_fills_one_line() {
    fanout([
        "-k",
        "-j2",
        "--xargs",
        "--dry-run",
        "echo",
        "pre{}post",
        ":::",
        "a",
        "b",
        "c",
        "d",
        "e",
    ])
    .run()
    .stdout_is("echo prea b c d epost\n");
}

#[test]
fn max_chars_limits_each_line() {
    let args = [
        "-k",
        "-j2",
        "-X",
        "--dry-run",
        "echo",
        ":::",
        "aaaa",
        "bbbb",
        "cccc",
        "dddd",
        "eeee",
        "ffff",
    ];
    let mut a20 = vec!["-s", "20"];
    a20.extend(args);
    fanout(a20)
        .run()
        .stdout_is("echo aaaa bbbb cccc\necho dddd eeee\necho ffff\n");
    let mut a19 = vec!["-s", "19"];
    a19.extend(&args[..args.len() - 2]);
    fanout(a19)
        .run()
        .stdout_is("echo aaaa bbbb\necho cccc\necho dddd\n");
}

#[test]
fn batched_arguments_really_run() {
    fanout([
        "-q", "-X", "-j1", "sh", "-c", "echo $#", "sh", ":::", "a", "b", "c",
    ])
    .run()
    .stdout_is("3\n");
}

#[test]
fn max_args_with_context_replace_spreads_the_tail() {
    fanout([
        "-k",
        "-j2",
        "-n2",
        "-X",
        "--dry-run",
        "echo",
        ":::",
        "a",
        "b",
        "c",
        "d",
    ])
    .run()
    .stdout_is("echo a b\necho c\necho d\n");
}

#[test]
fn a_line_longer_than_max_chars_is_an_error() {
    fanout(["-s", "5", "echo", ":::", "abcdefgh"])
        .run()
        .fanout_error("too long (13 >= 5)");
    fanout(["-X", "-s", "5", "echo", ":::", "abcdefgh"])
        .run()
        .fanout_error("too long");
}

#[test]
fn bad_input_stops_new_jobs_but_lets_running_ones_finish() {
    let out = fanout([
        "-k", "-j1", "-s", "12", "echo", ":::", "abc", "abcdefgh", "x",
    ])
    .run();
    assert_eq!(out.code, Some(255));
    assert_eq!(out.out(), "abc\n");
    assert!(
        out.err().starts_with("fanout: command line too long"),
        "{}",
        out.err()
    );
}

#[test]
fn the_tail_is_cut_in_chunks_of_ceil_n_over_slots() {
    fanout([
        "-k",
        "-j3",
        "-m",
        "--dry-run",
        "echo",
        ":::",
        "1",
        "2",
        "3",
        "4",
    ])
    .run()
    .stdout_is("echo 1 2\necho 3 4\n");
    fanout([
        "-k",
        "-j3",
        "-m",
        "--dry-run",
        "echo",
        ":::",
        "1",
        "2",
        "3",
        "4",
        "5",
        "6",
        "7",
    ])
    .run()
    .stdout_is("echo 1 2 3\necho 4 5 6\necho 7\n");
}

#[test]
fn fixed_batches_that_do_not_fit_take_fewer_arguments() {
    fanout([
        "-N2",
        "-s",
        "12",
        "--dry-run",
        "echo",
        "{1}{2}",
        ":::",
        "aaaaaa",
        "bbbbbb",
    ])
    .run()
    .stdout_is("echo aaaaaa\necho bbbbbb\n");
}

#[test]
fn multi_arg_read_ahead_regression_hundreds_of_mb_for_3m_inputs() {
    // A -X job holds a whole line of values (some 16,000 here); reading
    // 256 of them ahead held 3,000,000 inputs at once. Memory must stay
    // flat: 100 times the input, a few MiB more RSS at most.
    use std::io::Write as _;
    let dir = tempfile::tempdir().unwrap();
    let peak = |mode: &str, n: u64| {
        let input = dir.path().join(format!("input{n}"));
        // Written a line at a time: the child's peak RSS, as wait4 reports
        // it, includes this process's RSS when it spawned the child (the
        // child starts as a copy of it: the kernel keeps that copy's high-water
        // mark), so a 21 MB string built here would count as fanout's.
        let mut w = std::io::BufWriter::new(std::fs::File::create(&input).unwrap());
        for i in 1..=n {
            writeln!(w, "{i}").unwrap();
        }
        w.into_inner().unwrap();
        let mut c = fanout([mode, "true", "::::"]).arg_path(&input).command();
        c.stderr(std::process::Stdio::null());
        let (status, _, _, rss_kib) = common::run_measuring_rss(c);
        assert!(status.success(), "{mode}: {status:?}");
        rss_kib
    };
    for mode in ["-X", "-m", "--xargs"] {
        let small = peak(mode, 30_000);
        let big = peak(mode, 3_000_000);
        assert!(
            big <= small + 6 * 1024,
            "{mode}: peak RSS {small} KiB for 30,000 inputs, {big} KiB for 3,000,000"
        );
    }
}

#[test]
fn max_lines_outside_pipe_mode_is_lines_per_command_line_with_the_word_repeated() {
    // As GNU parallel (its par_test_L_context_replace): -L repeats the
    // word around {} per value, as -N does.
    fanout(["-k", "-L", "2", "echo", "a{}b"])
        .stdin("1\n2\n3\n")
        .run()
        .stdout_is("a1b a2b\na3b\n");
}

#[test]
fn a_line_ending_in_a_blank_continues_under_max_lines_as_xargs_reads_it() {
    fanout(["-k", "-r", "-L", "2", "echo"])
        .stdin("foo\n\nole \nbar\nquux\n")
        .run()
        .stdout_is("foo ole bar\nquux\n");
}

#[test]
fn max_replace_args_repeats_the_word_around_braces_as_gnu_does() {
    fanout(["-k", "-N", "2", "echo", "a{}b"])
        .stdin("1\n2\n3\n")
        .run()
        .stdout_is("a1b a2b\na3b\n");
}

#[test]
fn old_short_options_with_attached_values_read_as_gnu_reads_them() {
    fanout(["-k", "-l0", "echo", "l0"])
        .stdin("1\n2\n")
        .run()
        .stdout_is("l0 1\nl0 2\n");
    fanout(["-k", "-l2", "echo"])
        .stdin("1\n2\n3\n")
        .run()
        .stdout_is("1 2\n3\n");
    fanout(["-k", "-i", "-eEND", "echo", "repl{.}ce"])
        .stdin("a\nEND\nb\n")
        .run()
        .stdout_is("replace\n");
    fanout(["-k", "-iXX", "echo", "xXXy"])
        .stdin("a\n")
        .run()
        .stdout_is("xay\n");
}

#[test]
fn xargs_lines_are_as_long_as_gnu_parallels() {
    // GNU's usable length: (130,329 - 3,000) / 2 = 63,664 bytes a line.
    let numbers: String = (1..=30_000).map(|n| format!("{n}\n")).collect();
    let out = fanout(["-k", "--xargs", "echo"])
        .stdin(numbers.clone())
        .run();
    let lines: Vec<(usize, usize)> = out
        .out()
        .lines()
        .map(|l| (l.split(' ').count(), l.len()))
        .collect();
    assert_eq!(lines, [(12460, 63653), (10609, 63653), (6931, 41585)]);
    let out = fanout(["-k", "-j4", "-m", "echo"]).stdin(numbers).run();
    let counts: Vec<usize> = out.out().lines().map(|l| l.split(' ').count()).collect();
    assert_eq!(counts, [12460, 10609, 1733, 1733, 1733, 1732]);
}

#[test]
fn max_chars_above_gnus_usable_length_warns_as_gnu() {
    fanout(["-s", "100000", "--xargs", "--dry-run", "echo", ":::", "a"])
        .run()
        .stdout_is("echo a\n")
        .stderr_is("fanout: warning: Value for option -s should be < 63664.\n");
}
