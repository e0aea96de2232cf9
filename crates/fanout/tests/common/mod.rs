//! A small DSL for running the real `fanout` binary in tests:
//! `fanout(["-k", "echo", ":::", "a"]).run().stdout_is("a\n")`.

#![allow(dead_code)]

pub mod cluster;
pub mod nats;

use std::ffi::OsString;
use std::io::Write;
use std::process::{Command, Stdio};

/// A fanout invocation being built.
pub struct Fanout {
    args: Vec<OsString>,
    stdin: Option<Vec<u8>>,
    env: Vec<(String, OsString)>,
    dir: Option<std::path::PathBuf>,
    fsize: Option<u64>,
}

/// Starts an invocation with these arguments.
pub fn fanout<I, A>(args: I) -> Fanout
where
    I: IntoIterator<Item = A>,
    A: Into<OsString>,
{
    Fanout {
        args: args.into_iter().map(Into::into).collect(),
        stdin: None,
        env: Vec::new(),
        dir: None,
        fsize: None,
    }
}

/// The path of the binary under test.
pub fn bin() -> std::path::PathBuf {
    assert_cmd::cargo::cargo_bin("fanout")
}

impl Fanout {
    /// Adds arguments.
    pub fn args<I, A>(mut self, more: I) -> Self
    where
        I: IntoIterator<Item = A>,
        A: Into<OsString>,
    {
        self.args.extend(more.into_iter().map(Into::into));
        self
    }

    /// Adds a path argument.
    pub fn arg_path(mut self, p: &std::path::Path) -> Self {
        self.args.push(p.as_os_str().to_owned());
        self
    }

    /// Adds an argument that may not be UTF-8.
    pub fn arg_os(mut self, a: OsString) -> Self {
        self.args.push(a);
        self
    }

    /// Feeds this to fanout's stdin (otherwise stdin is empty).
    pub fn stdin(mut self, data: impl Into<Vec<u8>>) -> Self {
        self.stdin = Some(data.into());
        self
    }

    /// Sets an environment variable for fanout.
    pub fn env(mut self, k: &str, v: impl Into<OsString>) -> Self {
        self.env.push((k.to_string(), v.into()));
        self
    }

    /// Runs fanout in this directory.
    pub fn dir(mut self, d: impl Into<std::path::PathBuf>) -> Self {
        self.dir = Some(d.into());
        self
    }

    /// Runs fanout as if every disk were full past `bytes`: regular files
    /// cannot grow beyond it (`RLIMIT_FSIZE`, with SIGXFSZ ignored, so a
    /// write past it is short or fails with EFBIG, as on a full disk).
    /// Pipes are not limited, so stdout and stderr still work.
    pub fn disk_full_at(mut self, bytes: u64) -> Self {
        self.fsize = Some(bytes);
        self
    }

    /// The command, ready to spawn.
    pub fn command(&self) -> Command {
        let mut c = Command::new(bin());
        c.args(&self.args);
        if let Some(limit) = self.fsize {
            use std::os::unix::process::CommandExt;
            // SAFETY: setrlimit and signal are async-signal-safe; nothing
            // else runs between fork and exec.
            unsafe {
                c.pre_exec(move || {
                    let lim = libc::rlimit {
                        rlim_cur: limit,
                        rlim_max: limit,
                    };
                    if libc::setrlimit(libc::RLIMIT_FSIZE, &lim) != 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                    libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
                    Ok(())
                });
            }
        }
        // The developer's own options must not change what tests see.
        c.env_remove("PARALLEL").env_remove("PARALLEL_HOME");
        for (k, v) in &self.env {
            c.env(k, v);
        }
        if let Some(d) = &self.dir {
            c.current_dir(d);
        }
        c
    }

    /// Runs to completion.
    pub fn run(self) -> Output {
        let mut c = self.command();
        c.stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = c.spawn().expect("fanout starts");
        let mut stdin = child.stdin.take().expect("stdin");
        let data = self.stdin.unwrap_or_default();
        let writer = std::thread::spawn(move || {
            let _ = stdin.write_all(&data);
        });
        let out = child.wait_with_output().expect("fanout runs");
        writer.join().expect("stdin writer");
        Output {
            stdout: out.stdout,
            stderr: out.stderr,
            code: out.status.code(),
        }
    }
}

/// What a finished fanout printed and returned.
#[derive(Debug)]
pub struct Output {
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    pub code: Option<i32>,
}

impl Output {
    pub fn out(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }

    pub fn err(&self) -> String {
        String::from_utf8_lossy(&self.stderr).into_owned()
    }

    /// Asserts the exit status.
    #[track_caller]
    pub fn code(self, code: i32) -> Self {
        assert_eq!(
            self.code,
            Some(code),
            "exit status; stdout:\n{}\nstderr:\n{}",
            self.out(),
            self.err()
        );
        self
    }

    /// Asserts success and the exact stdout.
    #[track_caller]
    pub fn stdout_is(self, expected: &str) -> Self {
        assert_eq!(self.out(), expected, "stderr:\n{}", self.err());
        self
    }

    /// Asserts the exact stderr.
    #[track_caller]
    pub fn stderr_is(self, expected: &str) -> Self {
        assert_eq!(self.err(), expected);
        self
    }

    /// Asserts stdout has exactly these lines, in any order.
    #[track_caller]
    pub fn lines_unordered(self, expected: &[&str]) -> Self {
        let mut got: Vec<String> = self.out().lines().map(str::to_string).collect();
        let mut want: Vec<String> = expected.iter().map(|s| s.to_string()).collect();
        got.sort();
        want.sort();
        assert_eq!(got, want, "stderr:\n{}", self.err());
        self
    }

    /// Asserts fanout failed as fanout: exit 255, nothing on stdout, one
    /// `fanout: ` line on stderr containing `needle`.
    #[track_caller]
    pub fn fanout_error(self, needle: &str) -> Self {
        let err = self.err();
        assert_eq!(self.code, Some(255), "stderr: {err}");
        assert!(self.stdout.is_empty(), "stdout: {}", self.out());
        assert_eq!(err.lines().count(), 1, "one line: {err:?}");
        assert!(err.starts_with("fanout: "), "{err:?}");
        assert!(err.contains(needle), "{err:?} should mention {needle:?}");
        self
    }
}

/// Runs a command to completion and returns its exit status, the number
/// of bytes and of lines it wrote to stdout, and its peak RSS in KiB (from
/// `wait4`, the kernel's accounting of the child).
// Reaped by wait4 below, which also reports resource use; Child::wait can't.
#[allow(clippy::zombie_processes)]
pub fn run_measuring_rss(mut c: Command) -> (std::process::ExitStatus, u64, u64, u64) {
    use std::io::Read;
    c.stdout(Stdio::piped()).stdin(Stdio::null());
    let mut child = c.spawn().expect("spawn");
    let mut out = child.stdout.take().expect("stdout");
    let counter = std::thread::spawn(move || {
        let (mut bytes, mut lines) = (0u64, 0u64);
        let mut buf = vec![0u8; 1 << 16];
        loop {
            let n = out.read(&mut buf).expect("read stdout");
            if n == 0 {
                return (bytes, lines);
            }
            bytes += n as u64;
            lines += buf[..n].iter().filter(|&&b| b == b'\n').count() as u64;
        }
    });
    let (status, rss) = wait_rss(&child);
    let (bytes, lines) = counter.join().expect("counter");
    (status, bytes, lines, rss)
}

/// Waits for `child` with `wait4` and returns its exit status and peak
/// RSS in KiB (the kernel's accounting of the child).
pub fn wait_rss(child: &std::process::Child) -> (std::process::ExitStatus, u64) {
    use std::os::unix::process::ExitStatusExt;
    let pid = child.id() as i32;
    let mut status = 0;
    // SAFETY: rusage is plain data written by wait4.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: valid pointers; pid is our child, not yet reaped.
    let r = unsafe { libc::wait4(pid, &mut status, 0, &mut ru) };
    assert_eq!(r, pid);
    (
        std::process::ExitStatus::from_raw(status),
        ru.ru_maxrss as u64,
    )
}

/// `line` (a shell command line) run on a terminal of its own, as `script`
/// gives it one: its stdin is that terminal (at end of input at once), and
/// what it writes comes back on the command's stdout. Not yet spawned.
pub fn on_a_terminal(line: &str) -> Command {
    let mut c = Command::new("script");
    c.args(["-q", "-e", "-c", line, "/dev/null"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped());
    c
}

/// Writes an executable file (mode 0755).
pub fn write_executable(path: &std::path::Path, content: &str) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(path, content).expect("write script");
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).expect("chmod script");
}

/// True while the process exists and is not a zombie.
pub fn alive(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => {
            let state = stat
                .rsplit(')')
                .next()
                .and_then(|s| s.split_whitespace().next());
            state != Some("Z")
        }
        Err(_) => false,
    }
}

/// Starts fanout with `args` (a `--dashboard` among them), its stdout
/// discarded, and returns it with the dashboard's URL, read from the
/// first line on stderr ("fanout: dashboard [of BROKER] at URL"); the rest
/// of stderr drains away.
pub fn with_dashboard(args: &[&str], stdin: Stdio) -> (std::process::Child, String) {
    use std::io::BufRead;
    let mut child = Command::new(bin())
        .args(args)
        .stdin(stdin)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut err = std::io::BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    err.read_line(&mut line).unwrap();
    let url = line
        .strip_prefix("fanout: dashboard ")
        .and_then(|l| l.rsplit_once("at ").map(|(_, u)| u))
        .unwrap_or_else(|| panic!("no dashboard URL on stderr: `{line}`"))
        .trim()
        .to_owned();
    std::thread::spawn(move || std::io::copy(&mut err, &mut std::io::sink()));
    (child, url)
}
