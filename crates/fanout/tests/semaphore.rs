//! `sem` (and `fanout --semaphore`): a counting semaphore shared by
//! unrelated processes, released when a holder dies, SIGKILL included.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

/// `sem` as a symlink to fanout in `dir`, with `dir` as its home.
fn sem(dir: &Path) -> (PathBuf, impl Fn(&[&str]) -> Command + '_) {
    let link = dir.join("sem");
    if !link.exists() {
        std::os::unix::fs::symlink(common::bin(), &link).unwrap();
    }
    let home = dir.join("home");
    std::fs::create_dir_all(&home).unwrap();
    let run = move |args: &[&str]| {
        let mut c = Command::new(dir.join("sem"));
        c.args(args).env("HOME", &home).env_remove("PARALLEL_HOME");
        c
    };
    (link, run)
}

fn wait_all(children: Vec<Child>) -> Vec<i32> {
    children
        .into_iter()
        .map(|mut c| c.wait().unwrap().code().unwrap_or(-1))
        .collect()
}

#[test]
fn fifty_callers_on_a_semaphore_of_three_never_more_than_three_inside() {
    let dir = tempfile::tempdir().unwrap();
    let (_, sem) = sem(dir.path());
    let inside = dir.path().join("inside");
    std::fs::create_dir(&inside).unwrap();
    let counts = dir.path().join("counts");
    let callers: Vec<Child> = (0..50)
        .map(|i| {
            let script = format!(
                "touch {d}/{i}; ls {d} | wc -l >> {c}; sleep 0.02; rm {d}/{i}",
                d = inside.display(),
                c = counts.display()
            );
            sem(&["-j3", "--id", "fifty", "--fg", &script])
                .spawn()
                .unwrap()
        })
        .collect();
    let codes = wait_all(callers);
    assert!(codes.iter().all(|&c| c == 0), "{codes:?}");
    let seen: Vec<usize> = std::fs::read_to_string(&counts)
        .unwrap()
        .lines()
        .map(|l| l.trim().parse().unwrap())
        .collect();
    assert_eq!(seen.len(), 50, "every caller got in: none starved");
    assert!(seen.iter().all(|&n| (1..=3).contains(&n)), "{seen:?}");
}

#[test]
fn a_holder_killed_with_sigkill_frees_its_slot() {
    let dir = tempfile::tempdir().unwrap();
    let (_, sem) = sem(dir.path());
    let pid_file = dir.path().join("pid");
    // In the background (sem's default): the command itself holds the slot.
    let st = sem(&[
        "--id",
        "k",
        &format!("echo $$ > {}; exec sleep 60", pid_file.display()),
    ])
    .status()
    .unwrap();
    assert!(st.success());
    let t0 = Instant::now();
    let pid: i32 = loop {
        if let Some(p) = std::fs::read_to_string(&pid_file)
            .ok()
            .and_then(|s| s.trim().parse().ok())
        {
            break p;
        }
        assert!(t0.elapsed() < Duration::from_secs(10));
        std::thread::sleep(Duration::from_millis(10));
    };
    let waiter = sem(&["--id", "k", "--fg", "echo got it"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(200));
    // SAFETY: kill(2) on the holder's pid.
    unsafe { libc::kill(pid, libc::SIGKILL) };
    let out = waiter.wait_with_output().unwrap();
    assert!(out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stdout), "got it\n");
}

#[test]
fn wait_returns_when_every_holder_has_finished() {
    let dir = tempfile::tempdir().unwrap();
    let (_, sem) = sem(dir.path());
    let done = dir.path().join("done");
    for i in 0..3 {
        let cmd = format!("sleep 0.3; echo {i} >> {}", done.display());
        assert!(sem(&["-j3", "--id", "w", &cmd]).status().unwrap().success());
    }
    assert!(sem(&["--wait", "--id", "w"]).status().unwrap().success());
    let lines = std::fs::read_to_string(&done).unwrap();
    assert_eq!(lines.lines().count(), 3, "{lines}");
}

#[test]
fn fg_gives_the_commands_status_and_a_negative_timeout_gives_up() {
    let dir = tempfile::tempdir().unwrap();
    let (_, sem) = sem(dir.path());
    assert_eq!(
        sem(&["--id", "s", "--fg", "exit 7"])
            .status()
            .unwrap()
            .code(),
        Some(7)
    );
    let holder = sem(&["--id", "t", "--fg", "sleep 2"]).spawn().unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let t0 = Instant::now();
    let st = sem(&["--id", "t", "--st", "-0.3", "--fg", "echo never"])
        .output()
        .unwrap();
    assert_eq!(st.status.code(), Some(1));
    assert!(st.stdout.is_empty());
    assert!(t0.elapsed() < Duration::from_millis(1500));
    wait_all(vec![holder]);
    // As `fanout --semaphore` too.
    let out = common::fanout(["--semaphore", "--id", "u", "--fg", "echo via fanout"])
        .env("HOME", dir.path().join("home").into_os_string())
        .run();
    assert_eq!(out.out(), "via fanout\n");
}

#[test]
fn sem_speaks_under_its_own_name() {
    let dir = tempfile::tempdir().unwrap();
    let (_, sem) = sem(dir.path());
    let out = sem(&["--id", "n"]).output().unwrap();
    assert_eq!(out.status.code(), Some(255));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "sem: Error: --semaphore needs a command to run (or --wait)\n"
    );
}
