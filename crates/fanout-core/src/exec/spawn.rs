//! Starting a job's process and ending it: spawn into a new process group,
//! a pidfd to learn of its exit without SIGCHLD, `wait4` for its status and
//! resource use, and signals to its whole group.

use std::ffi::OsStr;
use std::os::fd::OwnedFd;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::Duration;

use super::Program;
use crate::job::ExitKind;

/// A started job's process.
pub(crate) struct Spawned {
    /// Its pid, which is also its process group id.
    pub pid: i32,
    /// Readable when the process has exited.
    pub pidfd: OwnedFd,
    /// Read end of its stdout pipe, when output is captured.
    pub stdout: Option<OwnedFd>,
    /// Read end of its stderr pipe, when output is captured.
    pub stderr: Option<OwnedFd>,
    /// Write end of its stdin pipe, in pipe mode.
    pub stdin: Option<OwnedFd>,
}

/// What a job's stdin is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StdinKind {
    /// `/dev/null`, as GNU parallel gives jobs built from arguments.
    Null,
    /// A pipe fanout writes the job's chunk into (`--pipe`).
    Pipe,
    /// A Unix socket fanout `sendfile`s a file range into (`--pipepart`).
    /// A pipe would do, but the kernel locks a pipe for each transfer in
    /// and each read out, and the two contend: with a socket the sender
    /// and the job never wait for each other's lock (measured: fanout's
    /// CPU for `--pipepart --block 10M wc -l` fell from 68 to 28 ms).
    Socket,
}

/// A connected pair: fanout writes into the first, the job reads the
/// second as its stdin.
fn stdin_socket() -> std::io::Result<(OwnedFd, OwnedFd)> {
    use rustix::net::{socketpair, AddressFamily, Shutdown, SocketFlags, SocketType};
    let (writer, reader) = socketpair(
        AddressFamily::UNIX,
        SocketType::STREAM,
        SocketFlags::CLOEXEC,
        None,
    )?;
    let _ = rustix::net::shutdown(&writer, Shutdown::Read);
    let _ = rustix::net::shutdown(&reader, Shutdown::Write);
    // As big as allowed (net.core.wmem_max caps it): fewer wake-ups.
    let _ = rustix::net::sockopt::set_socket_send_buffer_size(&writer, 4 << 20);
    Ok((writer, reader))
}

/// Where and how a job's process runs, beyond its command.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Place<'a> {
    /// Its working directory (`--wd`); fanout's own when `None`.
    pub cwd: Option<&'a std::path::Path>,
    /// Added to its niceness (`--nice`).
    pub nice: i32,
    /// Variables it must not inherit from fanout.
    pub unset: &'a [&'a str],
    /// Variables it gets on top of fanout's.
    pub extra: &'a [(std::ffi::OsString, std::ffi::OsString)],
    /// The file a direct command's bare program name was found at in
    /// `PATH` (see `lookup`); the child searches when `None`.
    pub exe: Option<&'a std::path::Path>,
}

/// Starts `prog` in a new process group, with stdin as `stdin` says. `std::process::Command` uses
/// posix_spawn here (vfork speed) unless `--nice` needs a pre-exec hook.
pub(crate) fn spawn(
    prog: &Program,
    env: &[(&str, &str)],
    capture: bool,
    stdin: StdinKind,
    place: Place<'_>,
) -> std::io::Result<Spawned> {
    let mut cmd = match prog {
        Program::Direct(argv) => {
            let mut words = argv.values().map(OsStr::from_bytes);
            let Some(prog) = words.next() else {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::InvalidInput,
                    "empty command",
                ));
            };
            let mut c = match place.exe {
                Some(file) => {
                    let mut c = Command::new(file);
                    c.arg0(prog);
                    c
                }
                None => Command::new(prog),
            };
            c.args(words);
            c
        }

        Program::Shell { shell, line } => {
            let mut c = Command::new(shell);
            c.arg("-c").arg(line);
            c
        }
    };
    let mut stdin_writer = None;
    let stdin = match stdin {
        StdinKind::Null => Stdio::null(),
        StdinKind::Pipe => Stdio::piped(),
        StdinKind::Socket => {
            let (writer, reader) = stdin_socket()?;
            stdin_writer = Some(writer);
            Stdio::from(reader)
        }
    };
    cmd.envs(env.iter().copied()).stdin(stdin).process_group(0);
    for var in place.unset {
        cmd.env_remove(var);
    }
    cmd.envs(place.extra.iter().map(|(k, v)| (k, v)));
    if let Some(dir) = place.cwd {
        // As `cd DIR` in GNU parallel's wrapper would leave it.
        if let Ok(here) = std::env::current_dir() {
            cmd.env("OLDPWD", here);
        }
        cmd.current_dir(dir);
    }
    if place.nice != 0 {
        let inc = place.nice;
        // SAFETY: nice(2) is async-signal-safe; nothing else runs here.
        unsafe {
            cmd.pre_exec(move || {
                libc::nice(inc);
                Ok(())
            });
        }
    }
    if capture {
        cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    }
    let mut child = cmd.spawn()?;
    let pid = child.id() as i32;
    let pidfd = match pidfd_open(pid) {
        Ok(fd) => fd,
        Err(e) => {
            kill_group(pid, libc::SIGKILL);
            let _ = child.wait();
            return Err(e);
        }
    };
    let stdout = child.stdout.take().map(OwnedFd::from);
    let stderr = child.stderr.take().map(OwnedFd::from);
    let stdin = stdin_writer.or_else(|| child.stdin.take().map(OwnedFd::from));
    Ok(Spawned {
        pid,
        pidfd,
        stdout,
        stderr,
        stdin,
    })
}

fn pidfd_open(pid: i32) -> std::io::Result<OwnedFd> {
    let pid = rustix::process::Pid::from_raw(pid).ok_or(std::io::ErrorKind::InvalidInput)?;
    Ok(rustix::process::pidfd_open(
        pid,
        rustix::process::PidfdFlags::empty(),
    )?)
}

/// What `wait4` reported for an exited process.
pub(crate) struct Reaped {
    pub exit: ExitKind,
    pub cpu_time: Duration,
    pub max_rss_kib: u64,
}

/// Reaps an exited child (its pidfd was readable, so this does not block).
pub(crate) fn reap(pid: i32) -> Reaped {
    let mut status = 0;
    // SAFETY: rusage is plain data, fully written by wait4 on success.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: valid pointers to locals; `pid` is our unreaped child.
    let r = unsafe { libc::wait4(pid, &mut status, 0, &mut ru) };
    if r != pid {
        let errno = std::io::Error::last_os_error().raw_os_error().unwrap_or(0);
        return Reaped {
            exit: ExitKind::SpawnFailed(errno),
            cpu_time: Duration::ZERO,
            max_rss_kib: 0,
        };
    }
    let exit = if libc::WIFSIGNALED(status) {
        ExitKind::Signal(libc::WTERMSIG(status))
    } else {
        ExitKind::Code(libc::WEXITSTATUS(status))
    };
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    Reaped {
        exit,
        cpu_time: tv(ru.ru_utime) + tv(ru.ru_stime),
        max_rss_kib: ru.ru_maxrss as u64,
    }
}

/// Sends `sig` to every process in the job's group.
pub(crate) fn kill_group(pgid: i32, sig: i32) {
    // SAFETY: kill has no memory effects; a vanished group gives ESRCH.
    unsafe { libc::kill(-pgid, sig) };
}

/// True while any process is left in the group.
pub(crate) fn group_alive(pgid: i32) -> bool {
    // SAFETY: signal 0 only checks for existence.
    unsafe { libc::kill(-pgid, 0) == 0 }
}

/// Makes sure exited children stay for `wait4`: with SIGCHLD ignored (a
/// disposition inherited from whoever started us) the kernel reaps them
/// itself and every job would look failed.
pub(crate) fn keep_children_reapable() {
    // SAFETY: querying and setting a signal disposition; no handler code.
    unsafe {
        let mut old: libc::sigaction = std::mem::zeroed();
        if libc::sigaction(libc::SIGCHLD, std::ptr::null(), &mut old) == 0
            && old.sa_sigaction == libc::SIG_IGN
        {
            libc::signal(libc::SIGCHLD, libc::SIG_DFL);
        }
    }
}
