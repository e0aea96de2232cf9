//! Each example of the lesson runs and prints the right result. The
//! examples are built by `cargo test` (and here, when run alone).

use std::path::PathBuf;
use std::process::Command;

/// Runs example `name` with `args`; its stdout, after checking it exited 0.
fn example(name: &str, args: &[&str]) -> String {
    let exe = examples_dir().join(name);
    if !exe.exists() {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let built = Command::new(cargo)
            .args(["build", "-q", "-p", "fanout-tasks", "--examples"])
            .status()
            .unwrap();
        assert!(built.success(), "cannot build the examples");
    }
    let out = Command::new(&exe).args(args).output().unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(
        out.status.success(),
        "{name} failed: {}\n{stdout}{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// target/<profile>/examples, next to this test's deps directory.
fn examples_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    exe.parent().unwrap().parent().unwrap().join("examples")
}

/// The number after `key` in `text`.
fn number_after(text: &str, key: &str) -> u64 {
    let rest = &text[text
        .find(key)
        .unwrap_or_else(|| panic!("{key:?} in {text}"))
        + key.len()..];
    let digits: String = rest
        .trim_start()
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().unwrap()
}

#[test]
fn downloads_get_the_same_bytes_sequentially_and_concurrently() {
    let out = example("downloads", &[]);
    let seq = number_after(&out, "sequential: 20 pages,");
    let con = number_after(&out, "concurrent: 20 pages,");
    assert_eq!(seq, con);
    assert_eq!(
        seq,
        20 * 10_000
            + (0..20)
                .map(|i| format!("/page/{i}").len() as u64)
                .sum::<u64>()
    );
}

#[test]
fn ping_and_pong_alternate_between_two_processes() {
    let out = example("ping_pong", &["6"]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 12, "{out}");
    let pid = |l: &str| {
        l.rsplit("pid ")
            .next()
            .unwrap()
            .trim_end_matches(')')
            .to_owned()
    };
    for (i, l) in lines.iter().enumerate() {
        let want = if i % 2 == 0 { "ping" } else { "pong" };
        assert!(l.starts_with(&format!("{want} {}", i / 2)), "{out}");
    }
    assert_ne!(pid(lines[0]), pid(lines[1]), "two processes");
}

#[test]
fn deposits_are_lost_without_a_lock_and_exact_with_one() {
    let out = example("bank", &[]);
    assert!(
        number_after(&out, "without a lock: balance") < 10_000,
        "{out}"
    );
    assert_eq!(
        number_after(&out, "threads with a lock: balance"),
        10_000,
        "{out}"
    );
    assert_eq!(
        number_after(&out, "processes with a lock: balance"),
        2_000,
        "{out}"
    );
}

#[test]
fn consumers_take_every_produced_item_once() {
    let out = example("producer_consumer", &["5000"]);
    let total = number_after(&out, "consumed sum");
    assert_eq!(total, 5000 * 5001 / 2, "{out}");
    let c1 = number_after(&out, "consumer 1:");
    let c2 = number_after(&out, "consumer 2:");
    assert_eq!(c1 + c2, 5000, "{out}");
}

#[test]
fn the_split_sum_equals_the_serial_one() {
    let out = example("sum_split", &["3", "10000000"]);
    let expected = 10_000_000u64 * 10_000_001 / 2;
    assert_eq!(number_after(&out, "serial:"), expected, "{out}");
    assert_eq!(number_after(&out, "3 processes:"), expected, "{out}");
}

#[test]
fn cpu_and_io_tasks_give_the_same_results_on_threads_and_processes() {
    let out = example("cpu_vs_io", &["20000"]);
    let results: Vec<u64> = out.lines().map(|l| number_after(l, "(result")).collect();
    // 2262 primes below 20,000, eight times; eight waits of 200 ms.
    assert_eq!(results, [8 * 2262, 8 * 2262, 1600, 1600], "{out}");
}

#[test]
fn two_worker_processes_serve_the_broker_queue() {
    let out = example("broker_queue", &["60"]);
    let sum: u64 = (0..60u64).map(|x| x * x).sum();
    assert_eq!(number_after(&out, "sum of squares"), sum, "{out}");
    assert_eq!(
        number_after(&out, "through the broker,"),
        2,
        "both workers took tasks: {out}"
    );
}
