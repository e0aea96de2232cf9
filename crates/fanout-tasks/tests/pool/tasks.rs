//! The tasks the suite runs.

fanout_tasks::task! {
    /// x + 1.
    pub fn add_one(x: u64) -> u64 { x + 1 }
}

fanout_tasks::task! {
    /// Panics on 3.
    pub fn panics_on_three(x: u64) -> u64 {
        if x == 3 {
            panic!("three");
        }
        x
    }
}

fanout_tasks::task! {
    /// Sleeps, and returns how long.
    pub fn sleep_ms(ms: u64) -> u64 {
        std::thread::sleep(std::time::Duration::from_millis(ms));
        ms
    }
}

fanout_tasks::task! {
    /// "n:s".
    pub fn describe((n, s): (u32, String)) -> String { format!("{n}:{s}") }
}

fanout_tasks::task! {
    /// 6 aborts, 11 segfaults, anything else comes back.
    pub fn crashes_on(x: u64) -> u64 {
        match x {
            6 => std::process::abort(),
            // SAFETY: none: a write through a null pointer, to crash as
            // a bug would (SIGSEGV).
            11 => unsafe {
                std::ptr::null_mut::<u64>().write_volatile(x);
                x
            },
            _ => x,
        }
    }
}

fanout_tasks::task! {
    /// Writes this process's pid to the file, then sleeps long.
    pub fn write_pid_then_sleep(path: String) -> u64 {
        std::fs::write(&path, std::process::id().to_string()).unwrap();
        std::thread::sleep(std::time::Duration::from_secs(60));
        0
    }
}

fanout_tasks::task! {
    /// Starts `sleep 60` (its pid to the file) and waits for it.
    pub fn spawn_sleeper_and_wait(path: String) -> u64 {
        let mut c = std::process::Command::new("sleep").arg("60").spawn().unwrap();
        std::fs::write(&path, c.id().to_string()).unwrap();
        let _ = c.wait();
        0
    }
}

fanout_tasks::task! {
    /// Aborts when the marker file is missing (making it); 2 after.
    pub fn aborts_first_time(marker: String) -> u64 {
        if std::fs::metadata(&marker).is_err() {
            std::fs::write(&marker, "").unwrap();
            std::process::abort();
        }
        2
    }
}
