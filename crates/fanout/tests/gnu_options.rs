//! GNU parallel's options that scripts reach for, each checked against
//! what GNU parallel 20221122 prints for the same command (its own
//! testsuite's cases where it has one, named after them).

mod common;
use common::fanout;

#[test]
fn tee_gives_every_job_all_of_stdin() {
    // par_tee: one job per argument, all at once, each reading everything.
    fanout(["-k", "--tee", "--pipe", "--tag", "grep -c {}"])
        .args([":::", "1", "2", "3"])
        .stdin((1..=30).map(|i| format!("{i}\n")).collect::<String>())
        .run()
        .stdout_is("1\t12\n2\t12\n3\t4\n");
}

#[test]
fn rrs_removes_the_record_separator() {
    // par_recend_not_regexp.
    fanout([
        "-k",
        "--pipe",
        "--rrs",
        "--recend",
        "+",
        "-N1",
        "cat;echo end",
    ])
    .stdin("a+b\n")
    .run()
    .stdout_is("aend\nb\nend\n");
}

#[test]
fn no_run_if_empty_skips_a_blank_chunk_in_pipe_mode() {
    // par_test_r_with_pipe.
    fanout(["-r", "-N1", "--pipe", "cat"])
        .stdin("\n")
        .run()
        .stdout_is("");
    fanout(["-N1", "--pipe", "cat"])
        .stdin("\n")
        .run()
        .stdout_is("\n");
}

#[test]
fn nice_runs_jobs_at_a_higher_niceness() {
    let out = fanout(["-N0", "--nice", "7", "ps -o ni= -p $$", ":::", "x"]).run();
    assert_eq!(out.out().trim(), "7", "{}", out.err());
}

#[test]
fn wd_runs_jobs_in_a_directory_and_dot_dot_dot_in_a_private_one_removed_after() {
    let home = tempfile::tempdir().unwrap();
    let dir = home.path().join("work/here");
    fanout(["--wd"])
        .arg_path(&dir)
        .args(["pwd", ":::", ""])
        .run()
        .stdout_is(&format!("{}\n", dir.display()));
    let out = fanout(["--wd", "...", "pwd; echo $OLDPWD", ":::", "x"])
        .env("HOME", home.path().as_os_str())
        .dir(home.path())
        .run();
    let text = out.out();
    let lines: Vec<&str> = text.lines().collect();
    let private = home.path().join(".parallel/tmp");
    assert!(lines[0].starts_with(private.to_str().unwrap()), "{lines:?}");
    assert!(
        lines[1].starts_with(&format!("{} ", home.path().display())),
        "{lines:?}"
    );
    assert!(
        !std::path::Path::new(lines[0]).exists(),
        "the job's directory is gone"
    );
}

#[test]
fn retries_from_a_replacement_string_is_each_jobs_own() {
    // par_retries_replacement_string: job N is tried N times.
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("tries");
    fanout(["--retries", "{//}"])
        .arg_os(format!("echo {{/}} >> {}; exit {{/}}", log.display()).into())
        .args([":::", "1/11", "2/22", "3/33"])
        .run()
        .code(3);
    let mut tries: Vec<String> = std::fs::read_to_string(&log)
        .unwrap()
        .lines()
        .map(String::from)
        .collect();
    tries.sort();
    assert_eq!(tries, ["11", "22", "22", "33", "33", "33"]);
}

#[test]
fn results_to_a_json_csv_or_tsv_file_in_gnu_formats() {
    // par_results_json: the jobs' output goes into the file only.
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("r.json");
    fanout(["-k", "--results"])
        .arg_path(&json)
        .args(["echo", ":::", "a\"b", "c"])
        .run()
        .stdout_is("");
    let text = std::fs::read_to_string(&json).unwrap();
    let first = text.lines().next().unwrap();
    assert!(
        first.starts_with(r#"{ "Seq": 1, "Host": ":", "Starttime": "#),
        "{first}"
    );
    assert!(
        first.ends_with(
            r#""Command": "echo 'a\"b'", "V": [ "a\"b" ], "Stdout": "a\"b\u000a", "Stderr": "" }"#
        ),
        "{first}"
    );
    let out = fanout(["-k", "--results", "-.csv", "echo", ":::", "x y", "z"]).run();
    let text = out.out();
    let rows: Vec<&str> = text.lines().collect();
    assert_eq!(
        rows[0],
        "Seq,Host,Starttime,JobRuntime,Send,Receive,Exitval,Signal,Command,V1,Stdout,Stderr"
    );
    assert!(
        out.out()
            .contains(",0,4,0,0,\"echo 'x y'\",\"x y\",\"x y\n\",\n"),
        "{rows:?}"
    );
}

#[test]
fn parallel_env_is_run_before_each_command_and_not_passed_on() {
    // par_PARALLEL_ENV, par_do_not_export_PARALLEL_ENV.
    fanout(["{}", "$v", ":::", "echo"])
        .env("PARALLEL_ENV", "v='OK as variable'")
        .run()
        .stdout_is("OK as variable\n");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("env");
    std::fs::write(&file, "v='OK as file'").unwrap();
    fanout(["{} $v; echo \"[$PARALLEL_ENV]\"", ":::", "echo"])
        .env("PARALLEL_ENV", file.as_os_str())
        .run()
        .stdout_is("OK as file\n[]\n");
}

#[test]
fn four_colons_plus_links_every_file_after_it() {
    // par_link_files_as_only_arg, par_tricolonplus.
    let dir = tempfile::tempdir().unwrap();
    let f = |name: &str, text: &str| {
        let p = dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        p
    };
    let (a, b) = (f("a", "1\n2\n3\n"), f("b", "x\ny\n"));
    fanout(["-k", "echo", "::::+"])
        .arg_path(&a)
        .arg_path(&b)
        .run()
        .stdout_is("1 x\n2 y\n");
}

#[test]
fn values_after_three_colons_split_at_the_delimiter() {
    // par_delimiter_space.
    fanout(["-k", "-d", " ", "echo", ":::", "1 done"])
        .run()
        .stdout_is("1\ndone\n");
}

#[test]
fn an_empty_source_beside_others_gives_one_empty_value() {
    // par_test_E: -E empties a source.
    fanout([
        "-k", "-E", "3", "echo", ":::", "1", "2", "3", ":::", "3", "4",
    ])
    .run()
    .stdout_is("1 \n2 \n");
}

#[test]
fn max_lines_zero_runs_a_job_per_line_with_no_arguments() {
    // par_test_zero_args.
    fanout(["-k", "-L0", "echo", "L0"])
        .stdin("1\n2\n")
        .run()
        .stdout_is("L0\nL0\n");
}

#[test]
fn a_position_may_be_followed_by_whitespace() {
    // par_newline_in_command.
    fanout(["\n echo {1\n } {2}\n", ":::", "O", ":::", "K"])
        .run()
        .stdout_is("O K\n");
}

#[test]
fn tmpl_writes_a_file_per_job_and_cleanup_removes_it() {
    // par_tmpl1, par_tmpl2.
    let dir = tempfile::tempdir().unwrap();
    let t = dir.path().join("t");
    std::fs::write(
        &t,
        "Job:{#} All:{} Arg[-1]:{-1} Perl:{=$_+=4=} X:{=x $_*=10=}\n",
    )
    .unwrap();
    let mut arg = std::ffi::OsString::from(t.as_os_str());
    arg.push("=out.{#}");
    fanout([
        "-k",
        "--header",
        ":",
        "--colsep",
        ",",
        "--cleanup",
        "--tmpl",
    ])
    .arg_os(arg)
    .args(["cat out.{#}", ":::", "x,y", "1,a", "2,b"])
    .dir(dir.path())
    .run()
    .stdout_is("Job:1 All:1a Arg[-1]:a Perl:54 X:10\nJob:2 All:2b Arg[-1]:b Perl:64 X:20\n");
    assert!(!dir.path().join("out.1").exists(), "--cleanup removes it");
}

#[test]
fn group_by_keeps_lines_with_the_same_column_together() {
    // par_group-by_colsep_space.
    fanout([
        "-k",
        "--pipe",
        "--group-by",
        "2",
        "--colsep",
        ",",
        "-N1",
        "wc -l",
    ])
    .stdin("a,x\nb,x\nc,y\nd,z\ne,z\nf,z\n")
    .run()
    .stdout_is("2\n1\n3\n");
}

#[test]
fn nonall_runs_the_command_once_with_no_arguments() {
    // par_empty_string_quote.
    fanout([
        "-q",
        "--nonall",
        "perl",
        "-le",
        "print scalar @ARGV",
        "a",
        "b",
        "",
    ])
    .run()
    .stdout_is("3\n");
}

#[test]
fn skip_first_line_drops_the_inputs_first_line() {
    fanout(["-k", "--pipe", "--skip-first-line", "-N2", "cat; echo --"])
        .stdin("head\n1\n2\n3\n")
        .run()
        .stdout_is("1\n2\n--\n3\n--\n");
}

#[test]
fn compress_keeps_the_output_and_compresses_results_files() {
    // par_compress_stdout_stderr, par_results_compress.
    let big = fanout([
        "-N0",
        "--compress-program",
        "gzip -1",
        "seq 100000",
        ":::",
        "x",
    ])
    .run();
    assert_eq!(big.out().lines().count(), 100_000);
    assert_eq!(big.out().lines().last(), Some("100000"));
    let dir = tempfile::tempdir().unwrap();
    fanout([
        "--compress-program",
        "gzip",
        "--results",
        "r",
        "echo",
        ":::",
        "hi",
    ])
    .dir(dir.path())
    .run()
    .stdout_is("");
    let raw = std::fs::read(dir.path().join("r/1/hi/stdout")).unwrap();
    assert_eq!(&raw[..2], b"\x1f\x8b", "gzip's magic");
}

#[test]
fn nul_in_the_input_is_replaced_and_warned_about() {
    // par_xargs_nul_char_in_input.
    let out = fanout(["echo"]).stdin(&b"foo\0bar"[..]).run();
    assert_eq!(out.out(), "foo\\0bar\n");
    assert!(out
        .err()
        .contains("A NUL character in the input was replaced with \\0."));
}

#[test]
fn total_completed_counts_ended_jobs_and_a_resumed_log() {
    // par_total_from_joblog.
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("log");
    let run = |resume: bool| {
        let mut f = fanout(["-j1", "--joblog"]).arg_path(&log);
        if resume {
            f = f.args(["--resume"]);
        }
        f.args(["echo {= $_=$Global::total_completed =}", ":::", "a", "b"])
            .run()
    };
    run(false).stdout_is("0\n1\n");
    std::fs::write(
        &log,
        std::fs::read_to_string(&log)
            .unwrap()
            .lines()
            .take(2)
            .collect::<Vec<_>>()
            .join("\n")
            + "\n",
    )
    .unwrap();
    run(true).stdout_is("1\n");
}

#[test]
fn an_unknown_option_is_named_with_the_closest_known_one() {
    fanout(["--jbos", "2", "echo", ":::", "1"])
        .run()
        .code(255)
        .fanout_error("unknown option `--jbos`; did you mean `--jobs`? (see fanout --help)");
}

#[test]
fn a_gnu_option_fanout_lacks_says_so_and_where_it_is_explained() {
    let out = fanout(["--sqlmaster", "x", "echo"]).run().code(255);
    assert!(
        out.err()
            .contains("`--sqlmaster` is a GNU parallel option fanout does not have")
            && out.err().contains("docs/COMPATIBILITY.md"),
        "{}",
        out.err()
    );
    assert_eq!(out.err().lines().count(), 1);
}

#[test]
fn tmux_runs_each_job_in_a_window_and_keeps_its_status() {
    let dir = tempfile::tempdir().unwrap();
    let out = fanout(["--tmux", "--tmpdir"])
        .arg_path(dir.path())
        .args(["echo out-{}; exit {}", ":::", "0", "3"])
        .run()
        .code(1);
    assert_eq!(out.out(), "", "no other output");
    let line = out.err();
    let socket = line
        .trim()
        .strip_prefix("See output with: tmux -S ")
        .and_then(|l| l.strip_suffix(" attach"))
        .unwrap_or_else(|| panic!("{line}"))
        .to_string();
    let tmux = |args: &[&str]| {
        let o = std::process::Command::new("tmux")
            .arg("-S")
            .arg(&socket)
            .args(args)
            .output()
            .unwrap();
        String::from_utf8_lossy(&o.stdout).into_owned()
    };
    let windows = tmux(&["list-windows", "-a", "-F", "#S:#I #W"]);
    let mut seen = Vec::new();
    for w in windows.lines().filter(|w| !w.ends_with(" fanout")) {
        let target = w.split(' ').next().unwrap();
        seen.push(tmux(&["capture-pane", "-p", "-t", target]));
    }
    tmux(&["kill-server"]);
    assert_eq!(seen.len(), 2, "{windows}");
    assert!(seen.iter().any(|s| s.contains("out-0")), "{seen:?}");
    assert!(seen.iter().any(|s| s.contains("out-3")), "{seen:?}");
}

#[test]
fn tmux_that_is_not_there_is_an_error_before_any_job() {
    fanout(["--tmux", "echo", ":::", "1"])
        .env("PARALLEL_TMUX", "not-existing")
        .run()
        .fanout_error("not-existing not found in $PATH.");
}

#[test]
fn a_record_longer_than_the_block_grows_it_with_gnus_warnings() {
    // par_pipepart_recend_recstart (its --pipe half).
    let input: String = (1..=10).map(|i| format!("{i}\n")).collect();
    let out = fanout([
        "-k",
        "--pipe",
        "--recend",
        "\\n",
        "--recstart",
        "6",
        "--block",
        "1",
    ])
    .args(["echo a; cat"])
    .stdin(input)
    .run()
    .code(0);
    assert_eq!(out.out(), "a\n1\n2\n3\n4\n5\na\n6\n7\n8\n9\n10\n");
    let err = out.err();
    let grown: Vec<&str> = err.lines().collect();
    assert_eq!(
        grown,
        [
            "fanout: warning: A record was longer than 1. Increasing to --blocksize 3.",
            "fanout: warning: A record was longer than 3. Increasing to --blocksize 5.",
            "fanout: warning: A record was longer than 5. Increasing to --blocksize 8.",
            "fanout: warning: A record was longer than 8. Increasing to --blocksize 12.",
        ]
    );
}

/// The number fanout prints for `option` (`--number-of-cores`, ...).
fn printed_number(option: &str) -> usize {
    fanout([option]).run().out().trim().parse().unwrap()
}

#[test]
fn gnu_spellings_of_options_fanout_has_are_accepted() {
    fanout([
        "--linebuffer",
        "--keeporder",
        "--ctag",
        "--termseq",
        "TERM,10",
        "--silent",
    ])
    .args(["--tempdir", "/tmp", "echo", ":::", "1"])
    .run()
    .stdout_is("1\t1\n");
    fanout(["--roundrobin", "--pipe", "wc", "-l"])
        .stdin("a\nb\n")
        .run()
        .stdout_is("2\n");
}

#[test]
fn questions_gnu_parallel_answers_and_exits() {
    fanout(["--minversion", "20130722"])
        .run()
        .code(0)
        .stdout_is("20221122\n");
    fanout(["--minversion", "20990101"])
        .run()
        .code(255)
        .stdout_is("20221122\n");
    fanout(["--max-line-length-allowed"])
        .run()
        .stdout_is("130329\n");
    let threads: usize = printed_number("--number-of-threads");
    let cores: usize = printed_number("--number-of-cores");
    assert!(
        cores >= 1 && cores <= threads,
        "{cores} cores, {threads} threads"
    );
}

#[test]
fn shellquote_prints_each_line_quoted_and_runs_nothing() {
    fanout(["--shellquote"])
        .stdin("a b$c\n")
        .run()
        .stdout_is("'a b$c'\n");
    fanout(["--shellquote", "echo", ":::", "x y"])
        .run()
        .stdout_is("'echo '\"'\"'x y'\"'\"\n");
}

#[test]
fn total_jobs_given_is_the_runs_number_of_jobs() {
    // As GNU parallel: the number is taken, not counted.
    fanout(["-k", "--total-jobs", "10", "echo", "{= $_=total_jobs() =}"])
        .args([":::", "a", "b"])
        .run()
        .stdout_is("10\n10\n");
}

#[test]
fn reading_jobs_from_a_terminal_warns_as_gnu_does() {
    // `script` gives fanout a terminal for stdin (and an immediate EOF).
    let out = common::on_a_terminal(&format!("{} echo", common::bin().display()))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("fanout: warning: Input is read from the terminal."),
        "{text}"
    );
    // Not from a pipe.
    let piped = fanout(["echo"]).stdin("x\n").run();
    assert_eq!(piped.err(), "");
}

#[test]
fn options_that_do_not_combine_are_warned_about() {
    let out = fanout(["-X", "--xargs", "echo", ":::", "1", "2"])
        .run()
        .code(0);
    assert!(out.err().contains("using --xargs"), "{}", out.err());
    let out = fanout(["--tag", "--json", "echo", ":::", "1"])
        .run()
        .code(0);
    assert!(
        out.err().contains("--tag does nothing with --json"),
        "{}",
        out.err()
    );
}

#[test]
fn shebang_scripts_run_their_lines_and_shebang_wrap_its_arguments() {
    let dir = tempfile::tempdir().unwrap();
    let bin = common::bin();
    let script = dir.path().join("lines");
    common::write_executable(
        &script,
        &format!("#!{} --shebang -k echo got\na\nb c\n", bin.display()),
    );
    let out = std::process::Command::new(&script).output().unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "got a\ngot b c\n");
    let wrapped = dir.path().join("wrapped");
    common::write_executable(
        &wrapped,
        &format!(
            "#!{} --shebang-wrap -k /bin/sh\necho \"arg $1\"\n",
            bin.display()
        ),
    );
    let out = std::process::Command::new(&wrapped)
        .args(["x", "y z"])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "arg x\narg y z\n");
}

#[test]
fn use_cores_instead_of_threads_sets_what_percent_jobs_count() {
    let cores: usize = printed_number("--number-of-cores");
    let out = fanout([
        "--use-cores-instead-of-threads",
        "-j",
        "100%",
        "-N0",
        "echo {%}",
    ])
    .args([":::", "a", "b", "c", "d", "e", "f"])
    .run()
    .code(0);
    let text = out.out();
    let mut slots: Vec<&str> = text.lines().collect();
    slots.sort();
    slots.dedup();
    assert!(slots.len() <= cores, "{slots:?} with {cores} cores");
}

#[test]
fn jobs_from_a_file_is_read_again_as_jobs_end() {
    // -j FILE: 1 slot, then 3 once the file says so.
    let dir = tempfile::tempdir().unwrap();
    let slots = dir.path().join("slots");
    std::fs::write(&slots, "1\n").unwrap();
    let script = format!(
        "[ {{}} = 1 ] && sleep 0.2 && echo 3 > {}; echo {{%}}; sleep 0.3",
        slots.display()
    );
    let out = fanout(["-j"])
        .arg_path(&slots)
        .args(["-N1", &script, ":::", "1", "2", "3", "4"])
        .run()
        .code(0);
    let text = out.out();
    let used: std::collections::BTreeSet<&str> = text.lines().collect();
    assert!(used.contains("1") && used.len() >= 2, "{text}");
}

#[test]
fn round_robin_hands_chunks_to_jobs_in_turn_as_gnu_does() {
    // par_roundrobin_k: GNU's own figures for these seven 1 MB chunks.
    let input: String = (1..=1_000_000).map(|i| format!("{i}\n")).collect();
    fanout(["-j4", "-k", "--round-robin", "--pipe", "wc"])
        .stdin(input)
        .run()
        .stdout_is(concat!(
            " 315464  315464 2097143\n",
            " 299592  299592 2097144\n",
            " 235148  235148 1646037\n",
            " 149796  149796 1048572\n"
        ));
}

#[test]
fn bin_sends_each_line_to_its_value_modulo_the_jobs() {
    fanout([
        "--pipe",
        "--bin",
        "1",
        "-j3",
        "-k",
        "echo {%}: $(cat | tr '\\n' ' ')",
    ])
    .stdin("1\n2\n3\n4\n5\n6\n")
    .run()
    .stdout_is("1: 1 4\n2: 2 5\n3: 3 6\n");
}

#[test]
fn shard_keeps_equal_values_in_one_job() {
    let input: String = (0..300).map(|i| format!("k{}\t{i}\n", i % 7)).collect();
    let out = fanout([
        "--pipe",
        "--shard",
        "1",
        "-j3",
        "-k",
        "cut -f1 | sort -u | tr '\\n' ' '; echo",
    ])
    .stdin(input)
    .run()
    .code(0);
    let text = out.out();
    let mut seen: Vec<&str> = text.split_whitespace().collect();
    let all = seen.len();
    seen.sort();
    seen.dedup();
    assert_eq!(
        (all, seen.len()),
        (7, 7),
        "each key in exactly one job: {}",
        out.out()
    );
}

#[test]
fn line_buffer_with_tag_tags_a_long_line_once() {
    let out = fanout(["--line-buffer", "--tag"])
        .args([
            "head -c 300000 /dev/zero | tr '\\0' x; echo; echo short; : {}",
            ":::",
            "a",
        ])
        .run()
        .code(0);
    let text = out.out();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0].len(), 300_002);
    assert!(lines[0].starts_with("a\tx") && lines[0][2..].bytes().all(|b| b == b'x'));
    assert_eq!(lines[1], "a\tshort");
}

#[test]
fn csv_input_keeps_quoted_separators_and_newlines_in_one_field() {
    fanout(["--csv", "-k", "printf '[%s][%s]\\n'", "{2}", "{1}"])
        .stdin("a,\"b,c\",d\n\"x\ny\",z\n")
        .run()
        .stdout_is("[b,c][a]\n[z][x\ny]\n");
    fanout([
        "--csv", "--colsep", ";", "--header", ":", "-k", "echo", "{v}", "{n}",
    ])
    .stdin("n;v\n\"a;b\";1\n")
    .run()
    .stdout_is("1 a;b\n");
    fanout(["--csv", "--colsep", "::", "echo"])
        .stdin("a\n")
        .run()
        .fanout_error("one character");
}

#[test]
fn filter_runs_only_the_jobs_perl_finds_true() {
    // GNU parallel's own example.
    fanout([
        "-k",
        "--filter",
        "{1} < {2}",
        "echo",
        ":::",
        "1",
        "2",
        "3",
        ":::",
        "1",
        "2",
        "3",
    ])
    .run()
    .stdout_is("1 2\n1 3\n2 3\n");
    // Code that dies is false, as perl's eval makes it.
    fanout(["--filter", "die", "echo", ":::", "a"])
        .run()
        .code(0)
        .stdout_is("");
}

#[test]
fn block_timeout_passes_a_partial_block_on_when_stdin_is_quiet() {
    let run = |extra: &[&str]| {
        let mut c = fanout(["--pipe", "-k"])
            .args(extra.iter().copied())
            .args(["echo \"job {#}: $(cat | tr '\\n' ' ')\""])
            .command();
        c.stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped());
        let mut child = c.spawn().unwrap();
        let mut w = child.stdin.take().unwrap();
        use std::io::Write as _;
        w.write_all(b"a\nb\n").unwrap();
        w.flush().unwrap();
        std::thread::sleep(std::time::Duration::from_millis(1500));
        w.write_all(b"c\n").unwrap();
        drop(w);
        let out = child.wait_with_output().unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    assert_eq!(
        run(&["--block-timeout", "0.3s"]),
        "job 1: a b \njob 2: c \n"
    );
    assert_eq!(run(&[]), "job 1: a b c \n");
}

#[test]
fn record_env_lists_the_variables_gnu_parallel_sets_for_itself() {
    let home = tempfile::tempdir().unwrap();
    fanout(["--record-env"])
        .env("HOME", home.path().as_os_str())
        .run()
        .code(0);
    let names = std::fs::read_to_string(home.path().join(".parallel/ignored_vars")).unwrap();
    for own in [
        "PARALLEL_HOME",
        "PARALLEL_REMOTE_TMPDIR",
        "PARALLEL_RSYNC_OPTS",
        "TMPDIR",
        "HOME",
    ] {
        assert_eq!(
            names.lines().filter(|l| *l == own).count(),
            1,
            "{own}: {names}"
        );
    }
}

#[test]
fn noswap_runs_jobs_on_a_machine_that_is_not_swapping() {
    // Blocking while swapping is the throttle's unit test (a fake
    // machine); here the option reaches the run and jobs start.
    fanout([
        "--noswap",
        "echo",
        "the system is not swapping",
        ":::",
        "now",
    ])
    .run()
    .code(0)
    .stdout_is("the system is not swapping now\n");
}
