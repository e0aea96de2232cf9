//! Pipe mode: `--pipe` cuts stdin into chunks of whole records, one per
//! job; `--pipepart` cuts a file into byte ranges; `--round-robin`,
//! `--cat`, `--fifo`. Every input byte reaches exactly one job, in order.

mod common;
use common::fanout;

use std::io::Write;
use std::process::{Command, Stdio};

/// `fanout --pipe -k ARGS... cat`-style round trip: output must equal input.
#[track_caller]
fn round_trip(input: &[u8], args: &[&str]) {
    let mut all = vec!["-k"];
    all.extend_from_slice(args);
    let out = fanout(all).stdin(input.to_vec()).run().code(0);
    assert!(
        out.stdout == input,
        "{} bytes in, {} out, args {args:?}",
        input.len(),
        out.stdout.len()
    );
}

/// The numbers a run printed, one per line (`wc -l` per job).
fn numbers(out: &common::Output) -> Vec<u64> {
    out.out()
        .lines()
        .map(|l| l.trim().parse().unwrap())
        .collect()
}

fn lines(n: usize) -> Vec<u8> {
    (1..=n)
        .flat_map(|i| format!("{i}\n").into_bytes())
        .collect()
}

#[test]
fn pipe_cat_gives_back_the_input_byte_for_byte() {
    let mut no_final_newline = lines(10_000);
    no_final_newline.pop();
    let crlf: Vec<u8> = (1..=5000)
        .flat_map(|i| format!("line {i}\r\n").into_bytes())
        .collect();
    for input in [
        lines(10_000),
        no_final_newline,
        crlf,
        Vec::new(),
        b"x".to_vec(),
    ] {
        for block in ["1", "100", "1k", "64k", "10M"] {
            round_trip(&input, &["--pipe", "--block", block, "cat"]);
        }
    }
}

#[test]
fn nul_separated_records_with_null() {
    let input: Vec<u8> = (1..=3000)
        .flat_map(|i| format!("rec\n{i}\0").into_bytes())
        .collect();
    round_trip(&input, &["-0", "--pipe", "--block", "1k", "cat"]);
    // Each chunk ends on a NUL: count chunks that do not.
    let out = fanout(["-0", "--pipe", "--block", "1k", "tail -c1 | od -An -c"])
        .stdin(input)
        .run()
        .code(0);
    assert!(
        out.out().lines().all(|l| l.trim() == "\\0"),
        "{}",
        out.out()
    );
}

#[test]
fn binary_data_with_no_record_separator() {
    let input: Vec<u8> = (0..200_000u32).map(|i| (i * 7 % 256) as u8).collect();
    round_trip(&input, &["--pipe", "--recend", "", "--block", "4k", "cat"]);
}

#[test]
fn chunks_end_on_record_boundaries() {
    // Every job sees whole lines only: its input ends with a newline.
    let out = fanout(["--pipe", "--block", "1k", "tail -c1 | od -An -c"])
        .stdin(lines(5000))
        .run()
        .code(0);
    assert!(out.out().lines().count() > 10);
    assert!(
        out.out().lines().all(|l| l.trim() == "\\n"),
        "{}",
        out.out()
    );
}

#[test]
fn recstart_keeps_records_together() {
    let fasta = b">a\nAC\nGT\n>b\nTT\n>c\nGG\n";
    let out = fanout([
        "-k",
        "--pipe",
        "--recstart",
        ">",
        "-N1",
        "echo \"[$(cat)]\"",
    ])
    .stdin(&fasta[..])
    .run()
    .code(0);
    assert_eq!(out.out(), "[>a\nAC\nGT]\n[>b\nTT]\n[>c\nGG]\n");
    let re = fanout([
        "-k",
        "--pipe",
        "--regexp",
        "--recstart",
        ">[bc]",
        "-N1",
        "echo \"[$(cat)]\"",
    ])
    .stdin(&fasta[..])
    .run()
    .code(0);
    assert_eq!(re.out(), "[>a\nAC\nGT]\n[>b\nTT]\n[>c\nGG]\n");
}

#[test]
fn n_counts_records_and_l_sets_lines_per_record() {
    fanout(["-k", "--pipe", "-N3", "wc", "-l"])
        .stdin(lines(10))
        .run()
        .stdout_is("3\n3\n3\n1\n");
    fanout(["-k", "--pipe", "-L2", "-N1", "echo {#} $(cat)"])
        .stdin(lines(5))
        .run()
        .stdout_is("1 1 2\n2 3 4\n3 5\n");
    // Lines short of a whole -L record at the end make a chunk of their
    // own (GNU parallel 20221122: [1..6] then [7 8]).
    fanout(["-k", "--pipe", "-L3", "echo \"[$(cat | tr '\\n' ' ')]\""])
        .stdin(lines(8))
        .run()
        .stdout_is("[1 2 3 4 5 6 ]\n[7 8 ]\n");
}

#[test]
fn header_is_repeated_at_the_top_of_every_chunk() {
    let mut input = b"name,n\n".to_vec();
    input.extend(lines(5));
    fanout(["-k", "--pipe", "-N2", "--header", ":", "cat"])
        .stdin(input.clone())
        .run()
        .stdout_is("name,n\n1\n2\nname,n\n3\n4\nname,n\n5\n");
    fanout([
        "-k",
        "--pipe",
        "-N3",
        "--header",
        "2",
        "head -n2 | tail -n1",
    ])
    .stdin(input)
    .run()
    .stdout_is("1\n1\n");
}

#[test]
fn round_robin_spreads_chunks_over_one_job_per_slot() {
    let out = fanout(["--round-robin", "-j3", "--block", "10k", "wc", "-l"])
        .stdin(lines(100_000))
        .run()
        .code(0);
    let counts = numbers(&out);
    assert_eq!(counts.len(), 3, "one job per slot: {counts:?}");
    assert_eq!(counts.iter().sum::<u64>(), 100_000);
}

#[test]
fn cat_and_fifo_name_the_chunk_with_braces() {
    fanout(["-k", "--pipe", "--cat", "-N4", "wc -l < {}"])
        .stdin(lines(10))
        .run()
        .stdout_is("4\n4\n2\n");
    fanout(["-k", "--pipe", "--fifo", "-N4", "wc -l < {}"])
        .stdin(lines(10))
        .run()
        .stdout_is("4\n4\n2\n");
    // The --cat files are gone afterwards, with the private directory.
    let tmp = tempfile::tempdir().unwrap();
    fanout(["--pipe", "--cat", "-N1", "cat {} > /dev/null"])
        .stdin(lines(3))
        .env("TMPDIR", tmp.path())
        .run()
        .code(0);
    assert_eq!(std::fs::read_dir(tmp.path()).unwrap().count(), 0);
}

#[test]
fn pipepart_ranges_cover_the_file_on_record_boundaries() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("data");
    let content = lines(100_000);
    std::fs::write(&file, &content).unwrap();
    let f = file.to_str().unwrap();
    let out = fanout(["-k", "--pipepart", "-a", f, "--block", "10k", "cat"])
        .run()
        .code(0);
    assert!(out.stdout == content, "byte-exact");
    let out = fanout([
        "--pipepart",
        "-a",
        f,
        "--block",
        "10k",
        "tail -c1 | od -An -c",
    ])
    .run()
    .code(0);
    assert!(out.out().lines().count() > 50);
    assert!(out.out().lines().all(|l| l.trim() == "\\n"));
    let out = fanout(["--pipepart", "--block", "-2", "-j2", "wc", "-l", "::::", f])
        .run()
        .code(0);
    let counts = numbers(&out);
    assert_eq!(counts.len(), 4, "--block -2: two chunks per slot");
    assert_eq!(counts.iter().sum::<u64>(), 100_000);
}

#[test]
fn pipepart_repeats_the_header() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("data.csv");
    let mut content = b"h\n".to_vec();
    content.extend(lines(2000));
    std::fs::write(&file, &content).unwrap();
    let out = fanout([
        "-k",
        "--pipepart",
        "-a",
        file.to_str().unwrap(),
        "--header",
        ":",
        "--block",
        "1k",
        "head -n1",
    ])
    .run()
    .code(0);
    assert!(out.out().lines().count() > 5);
    assert!(out.out().lines().all(|l| l == "h"), "{}", out.out());
}

#[test]
fn pipe_mode_input_errors_are_clear() {
    fanout(["--pipepart", "wc"])
        .run()
        .fanout_error("--pipepart needs a file");
    fanout(["--pipepart", "-a", "/dev/stdin", "wc"])
        .stdin("not seekable")
        .run()
        .fanout_error("not a pipe");
    fanout(["--pipe", "wc", ":::", "a"])
        .run()
        .fanout_error("not ::: values");
    fanout(["--pipe", "--block", "x", "wc"])
        .run()
        .fanout_error("--block");
    fanout(["--pipepart", "-N2", "-a", "/dev/null", "wc"])
        .run()
        .fanout_error("-N");
}

#[test]
#[allow(clippy::zombie_processes)] // reaped by common::wait_rss (wait4)
fn one_gib_through_pipe_mode_keeps_memory_bounded() {
    // 1 GiB of lines from a producer process, cut into 10 MiB chunks.
    let mut producer = Command::new("sh")
        .args([
            "-c",
            "yes 0123456789abcdefghijklmnopqrstu | head -c 1073741824",
        ])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut c = fanout(["--pipe", "--block", "10M", "-j2", "wc", "-c"]).command();
    c.stdin(Stdio::from(producer.stdout.take().unwrap()))
        .stdout(Stdio::piped());
    let mut child = c.spawn().unwrap();
    let mut out = String::new();
    std::io::Read::read_to_string(&mut child.stdout.take().unwrap(), &mut out).unwrap();
    let (status, rss_kib) = common::wait_rss(&child);
    producer.wait().unwrap();
    assert!(status.success());
    let total: u64 = out.lines().map(|l| l.trim().parse::<u64>().unwrap()).sum();
    assert_eq!(total, 1 << 30, "every byte reached a job");
    // Chunks in flight: ~2 queued + 2 running + 1 being read, 10 MiB each.
    assert!(rss_kib < 120 * 1024, "fanout's peak RSS {rss_kib} KiB");
}

#[test]
fn sum_of_one_to_a_million_divided_over_processes() {
    // The README example, smaller: each job sums its slice, then the sums.
    let mut seq = Command::new("seq")
        .args(["1", "1000000"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut c = fanout(["--pipe", "--block", "1M", "awk '{s+=$1} END {print s}'"]).command();
    c.stdin(Stdio::from(seq.stdout.take().unwrap()));
    let out = c.output().unwrap();
    seq.wait().unwrap();
    let total: u64 = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| l.trim().parse::<u64>().unwrap())
        .sum();
    assert_eq!(total, 500_000_500_000);
    let _ = std::io::stdout().flush();
}

#[test]
fn header_that_does_not_match_regression_swallowed_the_input() {
    fanout(["--pipe", "--header", "X", "cat"])
        .stdin("a\nb\n")
        .run()
        .stdout_is("a\nb\n");
    fanout(["--pipe", "--header", ":", "cat"])
        .stdin("h")
        .run()
        .stdout_is("h");
}

#[test]
fn cat_without_braces_regression_job_read_nothing() {
    let out = fanout(["--pipe", "--cat", "wc", "-l"])
        .stdin(lines(3))
        .run()
        .code(0);
    assert!(out.out().starts_with("3 /"), "{}", out.out());
    // A dry run names the file without writing it.
    let tmp = tempfile::tempdir().unwrap();
    fanout(["--dry-run", "--pipe", "--cat", "wc", "-l"])
        .stdin(lines(3))
        .env("TMPDIR", tmp.path())
        .run()
        .code(0);
    assert_eq!(std::fs::read_dir(tmp.path()).unwrap().count(), 0);
}

#[test]
fn round_robin_small_input_regression_started_idle_jobs() {
    fanout(["--round-robin", "-j3", "wc", "-l"])
        .stdin("")
        .run()
        .stdout_is("");
    fanout(["--round-robin", "-j3", "wc", "-l"])
        .stdin("a\nb\n")
        .run()
        .stdout_is("2\n");
}

#[test]
fn one_record_chunks_regression_copied_the_buffer_per_chunk() {
    // 200,000 chunks of one short line each: linear, not a buffer's worth
    // of copying per chunk.
    let out = fanout(["--round-robin", "-j2", "-N1", "wc", "-l"])
        .stdin(lines(200_000))
        .run()
        .code(0);
    let total: u64 = numbers(&out).iter().sum();
    assert_eq!(total, 200_000);
}

#[test]
fn progress_and_shuffle_are_refused_in_pipe_mode() {
    for opt in [
        ["--bar", "--pipe"],
        ["--shuf", "--pipe"],
        ["--eta", "--pipepart"],
    ] {
        fanout([opt[0], opt[1], "wc"])
            .run()
            .fanout_error("incompatible");
    }
    fanout(["--pipe", "--halt", "now,fail=50%", "wc"])
        .run()
        .fanout_error("incompatible");
}

/// `-k --pipe --block BLOCK`, each chunk's output ended by a `|` line.
fn marking_chunks(block: &str) -> common::Fanout {
    fanout(["-k", "--pipe", "--block", block, "cat; echo '|'"])
}

/// Its output with stdin from `stdin`.
fn chunks_marked(block: &str, stdin: Stdio) -> Vec<u8> {
    let out = marking_chunks(block)
        .command()
        .stdin(stdin)
        .stderr(Stdio::null())
        .output()
        .unwrap();
    assert!(out.status.success());
    out.stdout
}

/// Its output with `data` written into a pipe.
fn chunks_marked_from_a_pipe(block: &str, data: &[u8]) -> Vec<u8> {
    marking_chunks(block)
        .stdin(data.to_vec())
        .run()
        .code(0)
        .stdout
}

#[test]
fn pipe_from_a_regular_file_cuts_the_chunks_a_pipe_would() {
    // Lines of every length from 0 to 40 bytes, some longer than the
    // block, and a last one with no newline.
    let mut data = Vec::new();
    let mut x: u32 = 7;
    for i in 0..3000 {
        x = x.wrapping_mul(1_103_515_245).wrapping_add(12_345);
        let len = (x >> 16) as usize % 41;
        data.extend(std::iter::repeat_n(b'a' + (i % 26) as u8, len));
        data.push(b'\n');
    }
    data.extend_from_slice(b"tail without newline");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("in");
    std::fs::write(&path, &data).unwrap();
    let file = || std::fs::File::open(&path).unwrap();
    for block in ["1", "16", "30", "100", "1k"] {
        let from_file = chunks_marked(block, Stdio::from(file()));
        let from_pipe = chunks_marked_from_a_pipe(block, &data);
        assert!(from_file == from_pipe, "--block {block}: the chunks differ");
    }
    // A file already read into (by a shell's `read`, say): the chunks
    // start at its offset.
    let mut f = file();
    std::io::Seek::seek(&mut f, std::io::SeekFrom::Start(1000)).unwrap();
    let from_file = chunks_marked("100", Stdio::from(f));
    let from_pipe = chunks_marked_from_a_pipe("100", &data[1000..]);
    assert!(
        from_file == from_pipe,
        "from offset 1000: the chunks differ"
    );
}

#[test]
fn pipe_from_a_regular_file_leaves_stdin_read_to_the_end() {
    // `{ fanout --pipe ...; cat; } < FILE`: cat finds nothing left, as
    // after a run that read the file through.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("in");
    std::fs::write(&path, "1\n2\n3\n").unwrap();
    let script = format!(
        "{{ {} --pipe --block 2 wc -l >/dev/null; cat; }} < {}",
        common::bin().display(),
        path.display()
    );
    let out = Command::new("sh").args(["-c", &script]).output().unwrap();
    assert!(out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stdout), "");
}
