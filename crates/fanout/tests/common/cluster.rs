//! A three-node JetStream cluster of real nats-server processes (free
//! ports picked at run time, a store directory each), one node of which a
//! test can SIGKILL; and workers started in a directory of their own.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::nats::Worker;

/// One node of a [`Cluster`].
struct Node {
    child: Option<Child>,
    port: u16,
}

/// Three nats-servers routed to each other, stopped when dropped.
pub struct Cluster {
    nodes: Vec<Node>,
    pub dir: tempfile::TempDir,
}

/// A port nobody listens on now.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Cluster {
    /// Starts three nodes and waits until JetStream answers on each.
    pub fn start() -> Cluster {
        let dir = tempfile::tempdir().unwrap();
        let ports: Vec<(u16, u16)> = (0..3).map(|_| (free_port(), free_port())).collect();
        let routes: Vec<String> = ports
            .iter()
            .map(|(_, c)| format!("\"nats-route://127.0.0.1:{c}\""))
            .collect();
        let server = std::env::var("NATS_SERVER").unwrap_or_else(|_| "nats-server".into());
        let mut nodes = Vec::new();
        for (i, (port, cport)) in ports.iter().enumerate() {
            let store = dir.path().join(format!("n{i}"));
            let conf = dir.path().join(format!("n{i}.conf"));
            std::fs::write(
                &conf,
                format!(
                    "server_name: n{i}\nlisten: 127.0.0.1:{port}\n\
                     jetstream {{ store_dir: \"{}\" }}\n\
                     cluster {{ name: fanout, listen: 127.0.0.1:{cport}, routes: [{}] }}\n",
                    store.display(),
                    routes.join(", ")
                ),
            )
            .unwrap();
            let child = Command::new(&server)
                .arg("-c")
                .arg(&conf)
                .arg("-l")
                .arg(dir.path().join(format!("n{i}.log")))
                .stdin(Stdio::null())
                .spawn()
                .expect("nats-server must be installed (scripts/test installs it)");
            nodes.push(Node {
                child: Some(child),
                port: *port,
            });
        }
        let c = Cluster { nodes, dir };
        for i in 0..3 {
            c.wait_jetstream(i);
        }
        c
    }

    /// The URL of node `i`.
    pub fn url(&self, i: usize) -> String {
        format!("nats://127.0.0.1:{}", self.nodes[i].port)
    }

    /// URLs of nodes `is`, comma-separated, as `--broker` takes them.
    pub fn urls(&self, is: &[usize]) -> String {
        is.iter()
            .map(|&i| self.url(i))
            .collect::<Vec<_>>()
            .join(",")
    }

    /// SIGKILLs node `i`.
    pub fn kill(&mut self, i: usize) {
        if let Some(mut c) = self.nodes[i].child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// What node `i` logged.
    pub fn log(&self, i: usize) -> String {
        std::fs::read_to_string(self.dir.path().join(format!("n{i}.log"))).unwrap_or_default()
    }

    /// Waits until node `i` answers fanout's questions (its JetStream is
    /// up and the cluster has a leader), by asking `fanout --status`.
    fn wait_jetstream(&self, i: usize) {
        let end = Instant::now() + Duration::from_secs(30);
        while Instant::now() < end {
            let ok = Command::new(super::bin())
                .args(["--status", "--broker", &self.url(i)])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success());
            if ok {
                return;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        panic!("JetStream cluster node {i} is not ready: {}", self.log(i));
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for i in 0..self.nodes.len() {
            self.kill(i);
        }
    }
}

/// A `fanout --worker` started in `dir` (its jobs run there), stderr to
/// a file there.
pub fn worker_in(dir: &Path, url: &str, extra: &[&str]) -> Worker {
    let mut args = super::nats::worker_keys();
    args.extend(extra.iter().map(Into::into));
    Worker::spawn(url, &args, Some(dir), dir.join("worker.err"))
}
