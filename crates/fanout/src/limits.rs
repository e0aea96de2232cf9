//! The open-file limit: each running job holds three descriptors, so a
//! large `-j` needs more than the usual soft limit of 1024.

/// Raises the soft RLIMIT_NOFILE towards `want` (never above the hard
/// limit) when it is lower, and returns the soft limit now in force.
pub fn raise_nofile(want: usize) -> usize {
    let mut rl = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: rl is a valid out-pointer.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut rl) } != 0 {
        return 1024;
    }
    let cur = usize::try_from(rl.rlim_cur).unwrap_or(usize::MAX);
    if cur >= want {
        return cur;
    }
    let new = rl.rlim_max.min(want as libc::rlim_t);
    let raised = libc::rlimit {
        rlim_cur: new,
        rlim_max: rl.rlim_max,
    };
    // SAFETY: a valid rlimit within the hard limit.
    if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) } == 0 {
        usize::try_from(new).unwrap_or(usize::MAX)
    } else {
        cur
    }
}
