//! A task queue served through the broker by workers in two other
//! processes: this program starts a nats-server (unless `NATS_URL` names
//! one), starts itself twice as a worker, and maps tasks through the
//! broker; each result says which worker ran it.
//!
//!     cargo run --example broker_queue [TASKS]

use std::process::{Child, Command, Stdio};
use std::time::Duration;

fanout_tasks::task! {
    /// x², after 20 ms of "work", with the pid of the worker that ran it.
    pub fn slow_square(x: u64) -> (u64, u32) {
        std::thread::sleep(Duration::from_millis(20));
        // A worker runs tasks in its child processes: the worker is their parent.
        (x * x, std::os::unix::process::parent_id())
    }
}

/// Kills its processes when dropped.
struct Processes(Vec<Child>, Option<tempfile::TempDir>);

impl Drop for Processes {
    fn drop(&mut self) {
        for c in &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// A nats-server with JetStream on a free port, in a temporary store.
fn nats_server(keep: &mut Processes) -> Result<String, Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let server = Command::new("nats-server")
        .args(["-a", "127.0.0.1", "-p", &port.to_string(), "-js", "-sd"])
        .arg(dir.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot start nats-server (install it, or set NATS_URL): {e}"))?;
    keep.0.push(server);
    keep.1 = Some(dir);
    for _ in 0..500 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Ok(format!("nats://127.0.0.1:{port}"));
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    Err("nats-server did not start".into())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    fanout_tasks::init();
    let mut args = std::env::args().skip(1);
    let first = args.next();
    if first.as_deref() == Some("--worker") {
        let url = args.next().ok_or("--worker URL")?;
        fanout_tasks::Worker::new(url).slots(2).run()?;
        return Ok(());
    }
    let tasks: u64 = first.map_or(Ok(100), |s| s.parse())?;
    let mut keep = Processes(Vec::new(), None);
    let url = match std::env::var("NATS_URL") {
        Ok(u) => u,
        Err(_) => nats_server(&mut keep)?,
    };
    for _ in 0..2 {
        let me = std::env::current_exe()?;
        keep.0
            .push(Command::new(me).args(["--worker", &url]).spawn()?);
    }
    let pool = fanout_tasks::Builder::broker(&url).in_flight(4).start()?;
    let mut by_worker = std::collections::BTreeMap::<u32, u64>::new();
    let mut sum = 0;
    for r in pool.map(slow_square, 0..tasks) {
        let (square, worker) = r?;
        sum += square;
        *by_worker.entry(worker).or_default() += 1;
    }
    for (pid, n) in &by_worker {
        println!("worker pid {pid}: {n} tasks");
    }
    println!(
        "{tasks} tasks through the broker, {} workers; sum of squares {sum}",
        by_worker.len()
    );
    Ok(())
}
