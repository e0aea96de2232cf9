//! A small runner for a suite with its own `main`: runs each check,
//! reports it as libtest does, and exits non-zero if one failed.

use std::time::{Duration, Instant};

/// The checks run so far.
pub struct Tests {
    passed: usize,
    failed: Vec<String>,
    start: Instant,
}

impl Tests {
    /// No checks yet.
    pub fn new() -> Tests {
        Tests {
            passed: 0,
            failed: Vec::new(),
            start: Instant::now(),
        }
    }

    /// Runs one check; a panic fails it.
    pub fn run(&mut self, name: &str, check: impl FnOnce()) {
        let ok = std::panic::catch_unwind(std::panic::AssertUnwindSafe(check)).is_ok();
        println!("test {name} ... {}", if ok { "ok" } else { "FAILED" });
        if ok {
            self.passed += 1;
        } else {
            self.failed.push(name.to_owned());
        }
    }

    /// Prints the summary line and exits.
    pub fn finish(self) -> ! {
        let verdict = if self.failed.is_empty() {
            "ok"
        } else {
            "FAILED"
        };
        for f in &self.failed {
            println!("failed: {f}");
        }
        println!(
            "\ntest result: {verdict}. {} passed; {} failed; 0 ignored; 0 measured; 0 filtered out; finished in {:.2}s",
            self.passed,
            self.failed.len(),
            self.start.elapsed().as_secs_f64()
        );
        std::process::exit(i32::from(!self.failed.is_empty()));
    }
}

/// This process's resident memory.
pub fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// The pid a task wrote to `path`, once it is there.
pub fn wait_for_pid(path: &std::path::Path) -> i32 {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(pid) = std::fs::read_to_string(path)
            .ok()
            .and_then(|s| s.trim().parse().ok())
        {
            return pid;
        }
        assert!(Instant::now() < deadline, "no pid in {}", path.display());
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Waits until process `pid` is gone (or a zombie nobody reaps).
pub fn wait_gone(pid: i32) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let state = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok();
        let alive = state.is_some_and(|s| {
            s.rsplit(')')
                .next()
                .is_some_and(|r| !r.trim_start().starts_with('Z'))
        });
        if !alive {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "process {pid} outlived its task's timeout"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}
