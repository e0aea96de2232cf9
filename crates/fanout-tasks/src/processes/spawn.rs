//! Starting one child: this program again, in a process group of its own
//! (a timeout kills the task's own children too), with the batch pipe,
//! the result pipe and the progress memfd as fds 3, 4 and 5, killed by the
//! kernel if the pool's thread that started it goes away.

use std::fs::File;
use std::io::{self, BufReader, BufWriter};
use std::os::fd::AsRawFd;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::Path;
use std::process::{Command, Stdio};

use super::progress::Progress;
use crate::child::{CHILD_ENV, FDS};
use crate::TaskError;

/// A running child and the pool's ends of its pipes.
pub struct Child {
    process: std::process::Child,
    /// Batches to the child.
    pub to: BufWriter<File>,
    /// Results from it.
    pub from: BufReader<File>,
    /// Which task it runs.
    pub progress: Progress,
}

impl Child {
    /// Starts `exe` as a child of the pool.
    pub fn start(exe: &Path) -> io::Result<Child> {
        use rustix::pipe::{pipe_with, PipeFlags};
        let (batch_r, batch_w) = pipe_with(PipeFlags::CLOEXEC)?;
        let (result_r, result_w) = pipe_with(PipeFlags::CLOEXEC)?;
        let progress = Progress::new()?;
        let given = [
            batch_r.as_raw_fd(),
            result_w.as_raw_fd(),
            progress.fd().as_raw_fd(),
        ];
        let shared = crate::share::passed_fds();
        let mut cmd = Command::new(exe);
        cmd.env(CHILD_ENV, "1")
            .stdin(Stdio::null())
            .process_group(0);
        // SAFETY: only async-signal-safe calls (fcntl, dup2, prctl) between
        // fork and exec.
        unsafe { cmd.pre_exec(move || pass_fds(given, &shared)) };
        let process = cmd.spawn()?;
        drop((batch_r, result_w));
        Ok(Child {
            process,
            to: BufWriter::with_capacity(1 << 16, File::from(batch_w)),
            from: BufReader::with_capacity(1 << 16, File::from(result_r)),
            progress,
        })
    }

    /// The process id (also its process group's).
    pub fn pid(&self) -> i32 {
        self.process.id() as i32
    }

    /// Kills the child's process group and reaps the child: how it died,
    /// as a task error.
    pub fn kill(self) -> TaskError {
        // SAFETY: kill(2) on our child's own process group.
        unsafe { libc::kill(-self.pid(), libc::SIGKILL) };
        self.reap()
    }

    /// Reaps a child that died (or was killed): how, as a task error.
    pub fn reap(mut self) -> TaskError {
        match self.process.wait() {
            Ok(s) => TaskError::Crashed {
                signal: s.signal(),
                code: s.code(),
            },
            Err(_) => TaskError::Crashed {
                signal: None,
                code: None,
            },
        }
    }

    /// Ends an idle child: closing its batch pipe makes it exit.
    pub fn close(self) {
        let Child {
            mut process,
            to,
            from,
            progress,
        } = self;
        drop((to, from, progress));
        let _ = process.wait();
    }
}

/// In the forked child: `given` becomes fds 3, 4, 5 (through copies above
/// 10 first, so that no move overwrites another), the `shared` objects'
/// fds stay open at their numbers, and the child dies with the thread
/// that started it.
fn pass_fds(given: [i32; 3], shared: &[i32]) -> io::Result<()> {
    for fd in shared {
        // SAFETY: fcntl is async-signal-safe; a shared fd is at 64 or above,
        // clear of the three below.
        if unsafe { libc::fcntl(*fd, libc::F_SETFD, 0) } < 0 {
            return Err(io::Error::last_os_error());
        }
    }
    let mut high = [0; 3];
    for (h, fd) in high.iter_mut().zip(given) {
        // SAFETY: fcntl/dup2/prctl are async-signal-safe.
        *h = unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 10) };
        if *h < 0 {
            return Err(io::Error::last_os_error());
        }
    }
    for (h, to) in high.into_iter().zip(FDS) {
        // SAFETY: as above; dup2 leaves the new fd without FD_CLOEXEC.
        if unsafe { libc::dup2(h, to) } < 0 {
            return Err(io::Error::last_os_error());
        }
    }
    // SAFETY: as above.
    if unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}
