//! `{= perl =}` replacement strings, `--rpl`, `--plus`, `--parens` and the
//! options that rename built-in strings, with expected outputs taken from
//! GNU parallel (20221122, or 20260422 where the older one lacks a string).

mod common;
use common::{fanout, write_executable};

#[test]
fn a_perl_expression_changes_each_value() {
    fanout([
        "-k",
        "-N2",
        "echo",
        "{= s/a/b/ =}",
        ":::",
        "a1",
        "a2",
        "a3",
        "a4",
    ])
    .run()
    .stdout_is("b1 b2\nb3 b4\n");
}

#[test]
fn a_perl_expression_may_span_several_words_of_the_command() {
    fanout(["echo", "{=", "s/x/y/", "=}", ":::", "x"])
        .run()
        .stdout_is("y\n");
}

#[test]
fn a_positional_expression_takes_one_value_and_arg_holds_them_all() {
    fanout(["-k", "echo", "{=2 s/a/b/ =}", ":::", "a1", ":::", "a2"])
        .run()
        .stdout_is("b2\n");
    fanout(["-k", "echo", "{= $_=$arg[2] =}", ":::", "a1", ":::", "a2"])
        .run()
        .stdout_is("a2 a2\n");
}

#[test]
fn skip_leaves_the_job_out_entirely() {
    fanout([
        "-k",
        "echo",
        "{= $_ > 2 and skip() =}",
        ":::",
        "1",
        "2",
        "3",
        "4",
    ])
    .run()
    .stdout_is("1\n2\n");
}

#[test]
fn seq_slot_and_total_jobs_are_the_jobs_own() {
    fanout([
        "-k",
        "-j1",
        "echo",
        "{= $_=seq().\"-\".slot().\"-\".total_jobs() =}",
        ":::",
        "a",
        "b",
    ])
    .run()
    .stdout_is("1-1-2\n2-1-2\n");
}

#[test]
fn values_are_quoted_unless_uq_is_called() {
    fanout(["echo", "{= $_=\"a  b\" =}", ":::", "x"])
        .run()
        .stdout_is("a  b\n");
    fanout(["echo", "{= $_=\"a;echo b\"; uq() =}", ":::", "x"])
        .run()
        .stdout_is("a\nb\n");
}

#[test]
fn globals_live_for_the_whole_run() {
    fanout(["-k", "-j1", "echo", "{= $_=++$::n =}", ":::", "a", "b", "c"])
        .run()
        .stdout_is("1\n2\n3\n");
}

#[test]
fn a_bad_expression_stops_the_run_before_any_job() {
    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("ran");
    fanout(["touch"])
        .arg_path(&marker)
        .args(["{= s/a/b =}", ":::", "a"])
        .run()
        .fanout_error("cannot use s/a/b");
    assert!(!marker.exists(), "no job may run");
}

#[test]
fn an_expression_that_dies_ends_the_run_with_its_message() {
    fanout(["echo", "{= die \"boom\" =}", ":::", "a"])
        .run()
        .fanout_error("boom");
}

#[test]
fn without_perl_a_perl_template_is_one_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("ran");
    fanout(["touch"])
        .arg_path(&marker)
        .args(["{= s/a/b/ =}", ":::", "a"])
        .env("FANOUT_PERL", "/nonexistent/perl")
        .run()
        .fanout_error("need perl, which is not installed");
    assert!(!marker.exists(), "never passed to the shell");
}

#[test]
fn ten_thousand_jobs_share_one_perl_process() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("starts");
    let perl = dir.path().join("perl");
    let script = format!(
        "#!/bin/sh\necho started >> {}\nexec perl \"$@\"\n",
        log.display()
    );
    write_executable(&perl, &script);
    let out = fanout(["-k", "-X", "-j2", "echo", "{= s/^/x/ =}"])
        .args([":::"])
        .args((1..=10_000).map(|i| i.to_string()))
        .env("FANOUT_PERL", perl.into_os_string())
        .run()
        .code(0);
    let words: Vec<String> = out.out().split_whitespace().map(str::to_owned).collect();
    let want: Vec<String> = (1..=10_000).map(|i| format!("x{i}")).collect();
    assert_eq!(words, want);
    let starts = std::fs::read_to_string(&log).unwrap();
    assert_eq!(starts.lines().count(), 1, "one perl for the run");
}

#[test]
fn plus_strings_match_gnu_parallel() {
    fanout([
        "--plus",
        "-k",
        "echo",
        "{..}",
        "{+..}",
        "{:2}",
        "{%.gz}",
        "{/a/b}",
        "{##}",
        "{0#}",
        "{+/}",
        "{^a}",
        "{:-x}",
        "{/..}",
        "{+.}",
        "{...}",
        ":::",
        "d/a.tar.gz",
    ])
    .run()
    .stdout_is(
        "d/a tar.gz a.tar.gz d/a.tar d/b.tar.gz 1 1 d d/a.tar.gz d/a.tar.gz a gz d/a.tar.gz\n",
    );
}

#[test]
fn plus_pads_the_job_number_to_the_number_of_jobs() {
    let mut args = vec![
        "--plus".to_owned(),
        "-k".into(),
        "echo".into(),
        "{0#}".into(),
        ":::".into(),
    ];
    args.extend((1..=12).map(|i| i.to_string()));
    let out = fanout(args).run().code(0);
    assert!(out.out().starts_with("01\n02\n"), "{}", out.out());
    assert!(out.out().ends_with("12\n"));
}

#[test]
fn rpl_defines_a_tag_and_its_positional_form() {
    fanout([
        "-k",
        "--rpl",
        "{..} s:\\.[^.]+$::;s:\\.[^.]+$::",
        "echo",
        "{..}",
        "{2..}",
        ":::",
        "x.y.z",
        ":::",
        "p.q.r",
    ])
    .run()
    .stdout_is("x p p\n");
}

#[test]
fn rpl_tags_take_arguments_from_a_regexp_group() {
    fanout([
        "--rpl",
        "{/(\\.\\S+)/(\\.\\S+)} s/$$1/$$2/g;",
        "echo",
        "{/.gz/.lz}",
        ":::",
        "a.tar.gz",
    ])
    .run()
    .stdout_is("a.tar.lz\n");
}

#[test]
fn builtins_take_a_format() {
    fanout(["-k", "echo", "{#:%03d}", "{.:%5s}", ":::", "a.b"])
        .run()
        .stdout_is("001     a\n");
}

#[test]
fn parens_change_what_opens_and_closes_an_expression() {
    fanout(["--parens", ",,,,", "echo", ",, s/a/b/ ,,", ":::", "a"])
        .run()
        .stdout_is("b\n");
}

#[test]
fn renamed_builtins_answer_to_their_new_names_only() {
    fanout([
        "--er",
        "XX",
        "--bn",
        "BB",
        "--dn",
        "DD",
        "--bne",
        "EE",
        "--seqreplace",
        "SS",
        "--slotreplace",
        "LL",
        "echo",
        "XX",
        "BB",
        "DD",
        "EE",
        "SS",
        "LL",
        "{.}",
        ":::",
        "d/a.b",
    ])
    .run()
    .stdout_is("d/a a.b d a 1 1 {.}\n");
    fanout(["-i", "echo", "x{}y", ":::", "a"])
        .run()
        .stdout_is("xay\n");
    fanout(["--replace=XY", "echo", "xXYy", ":::", "a"])
        .run()
        .stdout_is("xay\n");
}

#[test]
fn rpl_with_broker_is_refused() {
    fanout([
        "--broker",
        "nats://127.0.0.1:1",
        "--plus",
        "echo",
        "{..}",
        ":::",
        "a",
    ])
    .run()
    .fanout_error("do not work with --broker");
}

#[test]
fn a_replacement_string_in_the_first_word_inserts_values_unquoted() {
    fanout(["{}"]).stdin("echo a b\n").run().stdout_is("a b\n");
    fanout(["l{= s/p/s/ =}"])
        .stdin("p /dev/null\n")
        .run()
        .stdout_is("/dev/null\n");
}

#[test]
fn n_zero_jobs_get_no_values_even_where_the_command_names_them() {
    fanout(["-k", "-N0", "echo", "replace", "{}", "curlies"])
        .stdin("1\n2\n")
        .run()
        .stdout_is("replace curlies\nreplace curlies\n");
}

#[test]
fn colsep_columns_are_trimmed_unless_trim_says_otherwise() {
    fanout(["-C", ",", "echo", "\"{1}|{2}\""])
        .stdin(" a , b \n")
        .run()
        .stdout_is("a|b\n");
    fanout(["--trim", "n", "-C", ",", "echo", "\"{1}|{2}\""])
        .stdin(" a , b \n")
        .run()
        .stdout_is("' a '|' b '\n");
    fanout(["--trim", "r", "echo", "\"{}|\""])
        .stdin(" a \n")
        .run()
        .stdout_is("' a'|\n");
    fanout(["--trim", "x", "echo"])
        .run()
        .fanout_error("invalid --trim");
}

#[test]
fn header_columns_are_tab_separated_by_default_and_lose_a_trailing_cr() {
    fanout(["--header", ":", "echo", "{B}", "{A}"])
        .stdin("A\tB\n1\tone\n")
        .run()
        .stdout_is("one 1\n");
    fanout(["--colsep", ",", "--header", ":", "echo", "{foo}"])
        .stdin("foo\r\nbar\r\n")
        .run()
        .stdout_is("bar\n");
}
