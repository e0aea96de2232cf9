//! Descendants that left their job's process group (`setsid`, `setpgid`):
//! signals to the job's group no longer reach them, so fanout makes itself
//! a child subreaper. When a job's process dies, such a descendant becomes
//! fanout's own child instead of init's, and can be found (a child of
//! fanout that is not a running job), ended with the run, and reaped.
//!
//! Job processes are reaped by pid (`wait4(pid)`) as their pidfds turn
//! readable; this module only ever waits for pids that are not running
//! jobs, so it never takes a job's exit status.

use std::collections::HashSet;
use std::io;

/// Makes exiting descendants reparent to this process (Linux's
/// `PR_SET_CHILD_SUBREAPER`). Process-wide and inherited by nothing: it
/// stays for the life of the process.
pub(crate) fn become_subreaper() -> io::Result<()> {
    // SAFETY: prctl with an integer argument; no memory is passed.
    let r = unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) };
    if r == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// This process's children that are not among `jobs`: descendants that
/// were reparented to it.
fn orphans(jobs: &HashSet<i32>) -> Vec<i32> {
    let mut pids = children().unwrap_or_else(|_| children_by_scan());
    pids.retain(|p| !jobs.contains(p));
    pids.sort_unstable();
    pids.dedup();
    pids
}

/// Children from `/proc/self/task/*/children` (one list per thread: a
/// reparented process is the child of one of them).
fn children() -> io::Result<Vec<i32>> {
    let mut pids = Vec::new();
    let mut read = 0;
    let mut last_err = None;
    for task in std::fs::read_dir("/proc/self/task")? {
        // A thread may end while we look: that is no reason to give up.
        match std::fs::read_to_string(task?.path().join("children")) {
            Ok(text) => {
                read += 1;
                pids.extend(
                    text.split_whitespace()
                        .filter_map(|p| p.parse::<i32>().ok()),
                );
            }
            Err(e) => last_err = Some(e),
        }
    }
    match last_err {
        Some(e) if read == 0 => Err(e),
        _ => Ok(pids),
    }
}

/// Children found by reading every process's parent, for kernels built
/// without `/proc/PID/task/TID/children`.
fn children_by_scan() -> Vec<i32> {
    let me = std::process::id() as i32;
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(|e| {
        let name = e.ok()?.file_name();
        let pid: i32 = name.to_str()?.parse().ok()?;
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        // The command name in parentheses may hold spaces; fields after
        // its closing parenthesis are: state, ppid, ...
        let ppid: i32 = stat
            .rsplit_once(')')?
            .1
            .split_whitespace()
            .nth(1)?
            .parse()
            .ok()?;
        (ppid == me).then_some(pid)
    })
    .collect()
}

/// Reaps the orphans that have exited, and returns how many are still
/// running.
pub(crate) fn reap(jobs: &HashSet<i32>) -> usize {
    orphans(jobs)
        .into_iter()
        .filter(|&pid| {
            let mut status = 0;
            // SAFETY: waitpid on one pid, which is our child and not a
            // job (jobs are reaped by their own driver); WNOHANG: never
            // blocks.
            let r = unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
            r == 0
        })
        .count()
}

/// Sends `sig` to every orphan and its process group (`setsid` made it
/// the leader of one, which its own children share).
pub(crate) fn signal(jobs: &HashSet<i32>, sig: i32) {
    for pid in orphans(jobs) {
        // SAFETY: kill has no memory effects. The pid is our unreaped
        // child, so it cannot have been reused; a group with its id can
        // only be its own.
        unsafe {
            libc::kill(-pid, sig);
            libc::kill(pid, sig);
        }
    }
}
