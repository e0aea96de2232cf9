//! Input sources and how they combine, checked against GNU parallel's output.

mod common;
use common::fanout;

#[test]
fn cartesian_product_varies_the_last_source_fastest() {
    fanout(["-k", "echo", ":::", "a", "b", ":::", "1", "2"])
        .run()
        .code(0)
        .stdout_is("a 1\na 2\nb 1\nb 2\n");
}

#[test]
fn linked_sources_zip_and_stop_at_the_shortest() {
    fanout(["-k", "echo", ":::", "a", "b", "c", ":::+", "1", "2"])
        .run()
        .stdout_is("a 1\nb 2\n");
}

#[test]
fn link_option_wraps_the_shorter_source() {
    fanout([
        "-k", "--link", "echo", ":::", "a", "b", "c", ":::", "1", "2",
    ])
    .run()
    .stdout_is("a 1\nb 2\nc 1\n");
}

#[test]
fn argument_files_and_linked_files() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("f1"), "x\ny\n").unwrap();
    std::fs::write(dir.path().join("f2"), "1\n2\n").unwrap();
    fanout(["-k", "echo", "::::", "f1", "::::+", "f2"])
        .dir(dir.path())
        .run()
        .stdout_is("x 1\ny 2\n");
    fanout(["-k", "echo", "::::", "f1", "f2"])
        .dir(dir.path())
        .run()
        .stdout_is("x 1\nx 2\ny 1\ny 2\n");
    fanout(["-k", "-a", "f1", "-a", "f2", "echo"])
        .dir(dir.path())
        .run()
        .stdout_is("x 1\nx 2\ny 1\ny 2\n");
    fanout(["-k", "-a", "-", "echo"])
        .stdin("p\nq\n")
        .run()
        .stdout_is("p\nq\n");
}

#[test]
fn stdin_lines_are_the_default_source_and_empty_lines_are_jobs() {
    fanout(["-k", "echo", "x{}y"])
        .stdin("a\n\nb\n")
        .run()
        .stdout_is("xay\nxy\nxby\n");
    fanout(["-k", "-r", "echo", "x{}y"])
        .stdin("a\n \nb\n")
        .run()
        .stdout_is("xay\nxby\n");
}

#[test]
fn no_input_runs_nothing() {
    fanout(["echo", "x"]).stdin("").run().code(0).stdout_is("");
}

#[test]
fn delimiters_null_and_eof_string() {
    fanout(["-k", "-d", ",", "echo"])
        .stdin("a,b,c")
        .run()
        .stdout_is("a\nb\nc\n");
    fanout(["-k", "-d", "::", "echo"])
        .stdin("a::b::c")
        .run()
        .stdout_is("a\nb\nc\n");
    fanout(["-k", "-d", "\\t", "echo", "[{}]"])
        .stdin("a\tb\n")
        .run()
        .stdout_is("[a]\n[b\n]\n");
    fanout(["-k", "-0", "echo"])
        .stdin("a b\0c\0")
        .run()
        .stdout_is("a b\nc\n");
    fanout(["-k", "-E", "STOP", "echo"])
        .stdin("a\nSTOP\nb\n")
        .run()
        .stdout_is("a\n");
}

#[test]
fn colsep_and_header_name_columns() {
    fanout(["-k", "--colsep", "\\t", "echo", "{2}{1}"])
        .stdin("a\tb\nc\td\n")
        .run()
        .stdout_is("ba\ndc\n");
    fanout([
        "-k", "--header", ":", "--colsep", "\\t", "echo", "{y}{x}", "{1}",
    ])
    .stdin("x\ty\na\tb\nc\td\n")
    .run()
    .stdout_is("ba a\ndc c\n");
    fanout([
        "-k", "--header", ":", "echo", "{f}-{g}", ":::", "f", "1", "2", ":::", "g", "3",
    ])
    .run()
    .stdout_is("1-3\n2-3\n");
}

#[test]
fn renamed_separators() {
    fanout(["-k", "--arg-sep", ",,", "echo", ",,", "a", "b"])
        .run()
        .stdout_is("a\nb\n");
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("f"), "z\n").unwrap();
    fanout(["--arg-file-sep", "//", "echo", "//", "f"])
        .dir(dir.path())
        .run()
        .stdout_is("z\n");
}

#[test]
fn first_job_starts_before_stdin_ends() {
    use std::io::{BufRead, BufReader, Write};
    use std::process::Stdio;
    let mut c = fanout(["echo", "got"]).command();
    c.stdin(Stdio::piped()).stdout(Stdio::piped());
    let mut child = c.spawn().unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(b"first\n").unwrap();
    stdin.flush().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let stdout = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).unwrap();
        let _ = tx.send(line);
    });
    // stdin is still open: the job's output must arrive anyway.
    let line = rx
        .recv_timeout(std::time::Duration::from_secs(10))
        .expect("first job ran before stdin closed");
    assert_eq!(line, "got first\n");
    drop(stdin);
    assert!(child.wait().unwrap().success());
}

#[test]
fn million_input_lines_keep_memory_flat() {
    let dir = tempfile::tempdir().unwrap();
    let measure = |n: u64| {
        let path = dir.path().join(format!("in{n}"));
        let data: String = (1..=n).map(|i| format!("{i}\n")).collect();
        std::fs::write(&path, data).unwrap();
        let mut c = fanout(["--dry-run", "-k", "-j4", "-a"]).command();
        c.arg(&path).arg("echo");
        let (status, _bytes, lines, rss) = common::run_measuring_rss(c);
        assert!(status.success());
        assert_eq!(lines, n, "every input line became a job");
        rss
    };
    let small = measure(20_000);
    let big = measure(1_000_000);
    assert!(
        big < small + 4096,
        "RSS grew from {small} KiB to {big} KiB over 1,000,000 lines"
    );
}

#[test]
fn header_names_take_modifiers() {
    fanout([
        "-k", "--header", ":", "--colsep", ",", "echo", "{path.}", "{path/}", "{path//}",
        "{path/.}",
    ])
    .stdin("path,x\n/a/b.txt,1\n")
    .run()
    .stdout_is("/a/b b.txt /a b\n");
}

#[test]
fn empty_eof_string_means_no_eof_string() {
    fanout(["-k", "-E", "", "echo"])
        .stdin("a\n\nb\n")
        .run()
        .stdout_is("a\n\nb\n");
}

#[test]
fn header_zero_regression_dropped_the_first_value() {
    // GNU parallel: `--header 0` means no header line.
    fanout(["-k", "--header", "0", "echo"])
        .stdin("h\na\nb\n")
        .run()
        .stdout_is("h\na\nb\n");
    fanout(["-k", "--header", "0", "echo", ":::", "x", "y"])
        .run()
        .stdout_is("x\ny\n");
}

#[test]
fn os_error_regression_printed_twice_in_one_message() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing-input");
    for mode in [&[][..], &["--pipe", "cat"][..], &["--pipepart", "cat"][..]] {
        let out = fanout(mode.iter().copied())
            .args(["echo", "::::"])
            .arg_path(&missing)
            .run()
            .fanout_error("missing-input");
        let err = out.err();
        assert_eq!(
            err.matches("No such file or directory").count(),
            1,
            "{err:?}"
        );
        assert!(!err.contains("os error"), "{err:?}");
    }
    // A directory that cannot be created for --files.
    let out = fanout(["--files", "--tmpdir"])
        .arg_path(&missing)
        .args(["echo", ":::", "a"])
        .run()
        .fanout_error("missing-input");
    let err = out.err();
    assert_eq!(
        err.matches("No such file or directory").count(),
        1,
        "{err:?}"
    );
}
