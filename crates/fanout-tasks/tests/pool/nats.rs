//! A real nats-server for the broker pool (ephemeral port, temporary
//! store), and workers: this test binary again, in worker mode.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Set in a worker's environment: the broker's URL.
pub const WORKER_ENV: &str = "FANOUT_TASKS_TEST_WORKER";

/// A nats-server with JetStream and its workers, all killed when dropped.
pub struct Broker {
    server: Child,
    workers: Vec<Child>,
    _dir: tempfile::TempDir,
    pub url: String,
}

impl Broker {
    /// Starts the server and `workers` worker processes of `slots` each.
    pub fn start(workers: usize, slots: usize) -> Broker {
        let dir = tempfile::tempdir().unwrap();
        let exe = std::env::var("NATS_SERVER").unwrap_or_else(|_| "nats-server".into());
        let server = Command::new(exe)
            .args(["-a", "127.0.0.1", "-p", "-1", "-js", "-sd"])
            .arg(dir.path().join("store"))
            .arg("--ports_file_dir")
            .arg(dir.path())
            .arg("-l")
            .arg(dir.path().join("log"))
            .stdin(Stdio::null())
            .spawn()
            .expect("nats-server must be installed (scripts/test installs it)");
        let port = wait_port(dir.path(), server.id());
        let url = format!("nats://127.0.0.1:{port}");
        let mut b = Broker {
            server,
            workers: Vec::new(),
            _dir: dir,
            url,
        };
        for _ in 0..workers {
            b.add_worker(slots);
        }
        b
    }

    /// Starts one more worker.
    pub fn add_worker(&mut self, slots: usize) {
        let w = Command::new(std::env::current_exe().unwrap())
            .env(WORKER_ENV, &self.url)
            .env("FANOUT_TASKS_TEST_SLOTS", slots.to_string())
            .stdin(Stdio::null())
            .spawn()
            .unwrap();
        self.workers.push(w);
    }

    /// SIGKILLs worker `i` (its children die with it).
    pub fn kill_worker(&mut self, i: usize) {
        let _ = self.workers[i].kill();
        let _ = self.workers[i].wait();
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        for w in &mut self.workers {
            let _ = w.kill();
            let _ = w.wait();
        }
        let _ = self.server.kill();
        let _ = self.server.wait();
    }
}

/// In a worker process: serves until killed.
pub fn serve_if_worker() {
    if let Ok(url) = std::env::var(WORKER_ENV) {
        let slots = std::env::var("FANOUT_TASKS_TEST_SLOTS")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(2);
        let e = fanout_tasks::Worker::new(url).slots(slots).run();
        eprintln!("test worker: {e:?}");
        std::process::exit(1);
    }
}

fn wait_port(dir: &Path, pid: u32) -> u16 {
    let file = dir.join(format!("nats-server_{pid}.ports"));
    let end = Instant::now() + Duration::from_secs(10);
    while Instant::now() < end {
        if let Ok(s) = std::fs::read_to_string(&file) {
            if let Some(port) = s
                .split("127.0.0.1:")
                .nth(1)
                .and_then(|r| r.split('"').next())
                .and_then(|p| p.parse().ok())
            {
                return port;
            }
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    panic!("nats-server did not start");
}
