//! Output kept in files and in machine-readable form: `--results DIR`
//! (GNU parallel's layout), `--files`, `--json`; also `--shuf`, and the
//! completions and man page generated from the CLI definition.

mod common;
use common::fanout;

use std::path::Path;

fn read(p: impl AsRef<Path>) -> String {
    std::fs::read_to_string(p.as_ref()).unwrap_or_else(|e| panic!("{}: {e}", p.as_ref().display()))
}

#[test]
fn results_dir_has_a_directory_per_input_value() {
    let dir = tempfile::tempdir().unwrap();
    fanout([
        "-k",
        "--results",
        "out",
        "echo {1} {2}; echo err >&2",
        ":::",
        "a",
        "b/c",
        ":::",
        "x",
    ])
    .dir(dir.path())
    .run()
    .code(0)
    .stdout_is("")
    .stderr_is("");
    let d = dir.path().join("out/1/a/2/x");
    assert_eq!(read(d.join("stdout")), "a x\n");
    assert_eq!(read(d.join("stderr")), "err\n");
    assert_eq!(read(d.join("seq")), "1");
    // A slash in a value is written \_, as GNU parallel does.
    assert_eq!(read(dir.path().join("out/1/b\\_c/2/x/seq")), "2");
}

#[test]
fn results_dir_uses_header_names() {
    let dir = tempfile::tempdir().unwrap();
    fanout([
        "--header",
        ":",
        "--results",
        "out",
        "echo",
        "{name}",
        ":::",
        "name",
        "ann",
    ])
    .dir(dir.path())
    .run()
    .code(0);
    assert_eq!(read(dir.path().join("out/name/ann/stdout")), "ann\n");
}

#[test]
fn results_path_with_replacement_strings_names_files() {
    let dir = tempfile::tempdir().unwrap();
    fanout(["--results", "r/{1}", "echo", ":::", "a", "b"])
        .dir(dir.path())
        .run()
        .code(0);
    assert_eq!(read(dir.path().join("r/a")), "a\n");
    assert_eq!(read(dir.path().join("r/b.seq")), "2");
    assert_eq!(read(dir.path().join("r/b.err")), "");
    fanout(["--results", "d/{}/", "echo", ":::", "a"])
        .dir(dir.path())
        .run()
        .code(0);
    assert_eq!(read(dir.path().join("d/a/stdout")), "a\n");
}

#[test]
fn results_to_a_json_file_is_gnus_json_not_a_directory() {
    let dir = tempfile::tempdir().unwrap();
    fanout(["--results", "x.json", "echo", ":::", "a"])
        .dir(dir.path())
        .run()
        .code(0)
        .stdout_is("");
    let text = std::fs::read_to_string(dir.path().join("x.json")).unwrap();
    assert!(text.starts_with("{ \"Seq\": 1,"), "{text}");
}

#[test]
fn files_prints_names_of_files_holding_the_output() {
    let tmp = tempfile::tempdir().unwrap();
    let out = fanout(["-k", "--files", "--tmpdir"])
        .arg_path(tmp.path())
        .args(["echo {}; echo e >&2", ":::", "a", "b"])
        .run()
        .code(0)
        .stderr_is("");
    let names: Vec<String> = out.out().lines().map(str::to_string).collect();
    assert_eq!(names.len(), 2);
    for (name, want) in names.iter().zip(["a\n", "b\n"]) {
        assert!(
            name.starts_with(tmp.path().to_str().unwrap()) && name.ends_with(".par"),
            "{name}"
        );
        assert_eq!(read(name), want);
    }
}

#[test]
fn json_lines_carry_each_jobs_result() {
    let out = fanout([
        "-k",
        "--json",
        "echo {}; echo e >&2; exit {}",
        ":::",
        "0",
        "3",
    ])
    .run()
    .code(1);
    let jobs: Vec<serde_json::Value> = out
        .out()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(jobs.len(), 2);
    assert_eq!(jobs[0]["seq"], 1);
    assert_eq!(jobs[0]["args"], serde_json::json!(["0"]));
    assert_eq!(jobs[0]["command"], "echo 0; echo e >&2; exit 0");
    assert_eq!(jobs[1]["exit"], 3);
    assert_eq!(jobs[1]["signal"], serde_json::Value::Null);
    assert_eq!(jobs[1]["stdout"], "3\n");
    assert_eq!(jobs[1]["stderr"], "e\n");
    for key in [
        "start",
        "runtime",
        "cpu_time",
        "max_rss_kib",
        "slot",
        "attempt",
    ] {
        assert!(jobs[0][key].is_number(), "{key} in {}", jobs[0]);
    }
    assert_eq!(
        out.err(),
        "",
        "output goes in the JSON, not to the terminal"
    );
}

#[test]
fn json_keeps_bytes_that_are_not_utf8_as_base64() {
    let out = fanout(["--json", "printf", "'\\377\\n'", ":::", "x"]).run();
    let job: serde_json::Value = serde_json::from_str(out.out().trim()).unwrap();
    assert_eq!(job["stdout"]["base64"], "/wo=", "0xff 0x0a");
}

#[test]
fn json_reports_signals_and_timeouts() {
    let out = fanout(["--json", "--timeout", "0.2", "sleep", ":::", "5"])
        .run()
        .code(1);
    let job: serde_json::Value = serde_json::from_str(out.out().trim()).unwrap();
    assert_eq!(job["signal"], 15);
    assert_eq!(job["exit"], serde_json::Value::Null);
    assert_eq!(job["killed"], "timeout");
}

#[test]
fn json_with_large_output_streams_it_whole() {
    let out = fanout(["--json", "seq", ":::", "200000"]).run().code(0);
    let job: serde_json::Value = serde_json::from_str(out.out().trim()).unwrap();
    let want: String = (1..=200_000).map(|i| format!("{i}\n")).collect();
    assert_eq!(job["stdout"], want.as_str());
}

#[test]
fn shuf_runs_every_job_once_in_random_order_numbered_as_run() {
    let mut c = vec![
        "-j1".to_string(),
        "--shuf".into(),
        "echo {#} {}".into(),
        ":::".into(),
    ];
    c.extend((1..=200).map(|i| i.to_string()));
    let out = fanout(c).run().code(0);
    let pairs: Vec<(u32, u32)> = out
        .out()
        .lines()
        .map(|l| {
            let (a, b) = l.split_once(' ').unwrap();
            (a.parse().unwrap(), b.parse().unwrap())
        })
        .collect();
    let seqs: Vec<u32> = pairs.iter().map(|p| p.0).collect();
    assert_eq!(
        seqs,
        (1..=200).collect::<Vec<_>>(),
        "{{#}} counts in run order, as GNU"
    );
    let mut values: Vec<u32> = pairs.iter().map(|p| p.1).collect();
    let run_order = values.clone();
    values.sort();
    assert_eq!(values, (1..=200).collect::<Vec<_>>(), "every value once");
    // 200 values in input order by chance: 1 in 200!.
    assert_ne!(run_order, values, "run in another order");
}

#[test]
fn completions_and_man_page_come_from_the_cli_definition() {
    let bash = fanout(["--completions", "bash"]).run().code(0).out();
    assert!(
        bash.contains("--joblog") && bash.contains("--halt"),
        "bash completion lists options"
    );
    let zsh = fanout(["--completions", "zsh"]).run().code(0).out();
    assert!(zsh.contains("#compdef fanout"));
    let man = fanout(["--man"]).run().code(0).out();
    assert!(
        man.contains(".TH fanout 1") && man.contains("\\-\\-retry\\-failed"),
        "{}",
        &man[..200]
    );
    for section in [
        ".SH \"REPLACEMENT STRINGS\"",
        ".SH EXAMPLES",
        ".SH \"EXIT STATUS\"",
        ".SH ENVIRONMENT",
    ] {
        assert!(man.contains(section), "{section}");
    }
    let help = fanout(["--help"]).run().code(0).out();
    assert!(
        help.contains("Replacement strings") && help.contains("{/.}"),
        "{help}"
    );
    fanout(["--completions", "tcsh"]).run().fanout_error("tcsh");
}

#[test]
fn bash_completion_registers_for_parallel_and_sem_and_offers_option_values() {
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("fanout.bash");
    let bash = fanout(["--completions", "bash"]).run().code(0).out();
    std::fs::write(&script, bash).unwrap();
    let probe = format!(
        "source {}; complete -p parallel sem | wc -l; \
         COMP_WORDS=(parallel --halt ''); COMP_CWORD=2; COMP_LINE='parallel --halt '; \
         COMP_POINT=${{#COMP_LINE}}; _fanout parallel '' --halt; printf '%s\\n' \"${{COMPREPLY[@]}}\"",
        script.display()
    );
    let out = std::process::Command::new("bash")
        .args(["-c", &probe])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let mut lines = text.lines();
    assert_eq!(
        lines.next(),
        Some("2"),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let offered: Vec<&str> = lines.collect();
    assert!(offered.contains(&"now,fail=1"), "{offered:?}");
    assert!(offered.contains(&"never"), "{offered:?}");
}

#[test]
fn header_names_regression_could_write_outside_the_results_dir() {
    let dir = tempfile::tempdir().unwrap();
    let escape = dir.path().join("escaped");
    let name = escape.to_str().unwrap().to_string();
    fanout([
        "--header",
        ":",
        "--results",
        "out",
        "echo",
        ":::",
        name.as_str(),
        "ann",
    ])
    .dir(dir.path())
    .run()
    .code(0);
    assert!(!escape.exists(), "wrote outside the results dir");
    let inside = dir
        .path()
        .join("out")
        .join(name.replace('/', "\\_"))
        .join("ann/stdout");
    assert_eq!(read(inside), "ann\n");
    fanout(["--results", "out2", "echo", ":::", ".."])
        .dir(dir.path())
        .run()
        .code(0);
    assert_eq!(read(dir.path().join("out2/1/\\../stdout")), "..\n");
}

#[test]
fn results_files_are_readable_as_umask_allows() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    fanout(["--results", "out", "echo", ":::", "a"])
        .dir(dir.path())
        .run()
        .code(0);
    let mode = std::fs::metadata(dir.path().join("out/1/a/stdout"))
        .unwrap()
        .permissions()
        .mode();
    assert_ne!(mode & 0o044, 0, "mode {mode:o}: not 0600 as a temp file");
}
