//! A real nats-server per test (ephemeral port, temporary store), which a
//! test can kill and restart, and fanout workers attached to it.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A nats-server with JetStream, stopped when dropped.
pub struct Nats {
    child: Child,
    pub dir: tempfile::TempDir,
    pub port: u16,
    extra: Vec<String>,
}

impl Nats {
    /// Starts a server on a free port with these extra arguments (auth).
    pub fn start(extra: &[&str]) -> Nats {
        let dir = tempfile::tempdir().unwrap();
        let extra: Vec<String> = extra.iter().map(|s| s.to_string()).collect();
        let child = spawn(dir.path(), "-1", &extra);
        let port = wait_port(dir.path(), child.id());
        wait_ready(port);
        Nats {
            child,
            dir,
            port,
            extra,
        }
    }

    /// Its URL.
    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// SIGKILLs the server and starts it again on the same port and store.
    pub fn restart_after(&mut self, down: Duration) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
        std::thread::sleep(down);
        self.child = spawn(self.dir.path(), &self.port.to_string(), &self.extra);
        wait_ready(self.port);
    }
}

impl Drop for Nats {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn spawn(dir: &Path, port: &str, extra: &[String]) -> Child {
    let server = std::env::var("NATS_SERVER").unwrap_or_else(|_| "nats-server".into());
    Command::new(server)
        .args(["-a", "127.0.0.1", "-p", port, "-js", "-sd"])
        .arg(dir.join("store"))
        .arg("--ports_file_dir")
        .arg(dir)
        .arg("-l")
        .arg(dir.join("log"))
        .args(extra)
        .stdin(Stdio::null())
        .spawn()
        .expect("nats-server must be installed (scripts/test installs it)")
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
    panic!(
        "nats-server did not start: {:?}",
        std::fs::read_to_string(dir.join("log"))
    );
}

/// Waits until the server greets a client with INFO.
fn wait_ready(port: u16) {
    use std::io::Read;
    let end = Instant::now() + Duration::from_secs(10);
    while Instant::now() < end {
        if let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) {
            let mut buf = [0u8; 4];
            if s.read_exact(&mut buf).is_ok() && &buf == b"INFO" {
                return;
            }
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    panic!("nats-server on port {port} is not ready");
}

/// A `fanout --worker`, SIGKILLed (with its jobs) when dropped.
pub struct Worker {
    pub child: Child,
    pub log: PathBuf,
}

/// The test run's key pairs, made once with `fanout --keygen`: one the
/// coordinators sign with, one the workers sign results with.
pub struct Keys {
    pub coordinator: PathBuf,
    pub worker: PathBuf,
}

impl Keys {
    /// The public key file of a secret key file.
    pub fn public(secret: &Path) -> PathBuf {
        let mut p = secret.as_os_str().to_owned();
        p.push(".pub");
        PathBuf::from(p)
    }
}

/// The key pairs of this test process.
pub fn keys() -> &'static Keys {
    static KEYS: std::sync::OnceLock<Keys> = std::sync::OnceLock::new();
    KEYS.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap().keep();
        let make = |name: &str| {
            let p = dir.join(name);
            let ok = Command::new(super::bin())
                .arg("--keygen")
                .arg(&p)
                .stdout(Stdio::null())
                .status()
                .unwrap();
            assert!(ok.success(), "fanout --keygen");
            p
        };
        Keys {
            coordinator: make("coordinator"),
            worker: make("worker"),
        }
    })
}

/// What a coordinator is given to sign its run and take only the test
/// workers' results.
pub fn coordinator_keys() -> Vec<std::ffi::OsString> {
    let k = keys();
    vec![
        "--sign-key".into(),
        k.coordinator.clone().into(),
        "--trust".into(),
        Keys::public(&k.worker).into(),
    ]
}

/// What a worker is given to trust the test coordinators and sign its
/// results.
pub fn worker_keys() -> Vec<std::ffi::OsString> {
    let k = keys();
    vec![
        "--trust".into(),
        Keys::public(&k.coordinator).into(),
        "--sign-key".into(),
        k.worker.clone().into(),
    ]
}

impl Worker {
    /// Starts a worker with these extra arguments; it trusts the test
    /// coordinators' key and signs its results.
    pub fn start(url: &str, extra: &[&str]) -> Worker {
        let mut args = worker_keys();
        args.extend(extra.iter().map(Into::into));
        Worker::start_with(url, &args)
    }

    /// Starts a worker with exactly these extra arguments (no keys).
    pub fn start_with<A: AsRef<std::ffi::OsStr>>(url: &str, extra: &[A]) -> Worker {
        let log = tempfile::NamedTempFile::new()
            .unwrap()
            .into_temp_path()
            .keep()
            .unwrap();
        Worker::spawn(url, extra, None, log)
    }

    /// Starts a worker, in `dir` if given (its jobs run there), its
    /// stderr to `log`.
    pub fn spawn<A: AsRef<std::ffi::OsStr>>(
        url: &str,
        extra: &[A],
        dir: Option<&Path>,
        log: PathBuf,
    ) -> Worker {
        let mut c = Command::new(super::bin());
        c.args(["--worker", "--broker", url])
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap());
        if let Some(d) = dir {
            c.current_dir(d);
        }
        let child = c.spawn().unwrap();
        Worker { child, log }
    }

    /// SIGKILLs the worker and the process groups of the jobs it ran (a
    /// host that is lost takes its jobs with it).
    pub fn kill_hard(&mut self) {
        let pid = self.child.id() as i32;
        let jobs = children_of(pid);
        unsafe { libc::kill(pid, libc::SIGKILL) };
        let _ = self.child.wait();
        for j in jobs {
            unsafe { libc::kill(-j, libc::SIGKILL) };
        }
    }

    /// Sends SIGTERM and waits for the worker to exit.
    pub fn stop(&mut self) -> std::process::ExitStatus {
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        self.child.wait().unwrap()
    }

    /// What the worker wrote on stderr.
    pub fn stderr(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            self.kill_hard();
        }
        let _ = std::fs::remove_file(&self.log);
    }
}

/// Pids whose parent is `pid`.
pub fn children_of(pid: i32) -> Vec<i32> {
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(p) = e.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{p}/stat")) else {
            continue;
        };
        let after = stat.rsplit(')').next().unwrap_or("");
        let ppid = after
            .split_whitespace()
            .nth(1)
            .and_then(|x| x.parse::<i32>().ok());
        if ppid == Some(pid) {
            out.push(p);
        }
    }
    out
}

/// Starts a coordinator in the background, its output captured.
pub fn start(f: super::Fanout) -> Child {
    let mut c = f.command();
    c.stdout(Stdio::piped()).stderr(Stdio::piped());
    c.spawn().unwrap()
}

/// Waits for a coordinator from [`start`], which must succeed; its
/// output lines.
pub fn finished_ok(child: Child) -> Vec<String> {
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "stderr: {err}");
    let text = String::from_utf8(out.stdout).unwrap();
    text.lines().map(str::to_owned).collect()
}

/// Each of 1..=n exactly once in `got` (lines holding numbers), and
/// nothing else.
pub fn each_once(got: &[String], n: usize) {
    let mut got: Vec<usize> = got.iter().map(|l| l.trim().parse().unwrap()).collect();
    got.sort();
    assert_eq!(got, (1..=n).collect::<Vec<_>>());
}

/// Waits until `f` holds (10 s at most).
pub fn wait_for(what: &str, mut f: impl FnMut() -> bool) {
    let end = Instant::now() + Duration::from_secs(20);
    while Instant::now() < end {
        if f() {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("timed out waiting for {what}");
}

/// Lines of a file (empty when it does not exist).
pub fn lines(p: &Path) -> Vec<String> {
    std::fs::read_to_string(p)
        .unwrap_or_default()
        .lines()
        .map(str::to_owned)
        .collect()
}
