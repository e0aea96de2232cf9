//! Which task a child is running, in 16 bytes of memory the child and the
//! pool share (a memfd both map): the child writes it before each task,
//! without a system call, so when the child dies the pool knows which task
//! killed it and which ones never started, and a timeout knows how long
//! the current task has run.

use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU64, Ordering};

/// The shared words: `[batch << 32 | index + 1, start time in ns]`.
pub struct Progress {
    words: NonNull<[AtomicU64; 2]>,
    fd: OwnedFd,
}

// SAFETY: the mapping is two atomics, valid until drop, usable from any
// thread.
unsafe impl Send for Progress {}
// SAFETY: as above; every access is atomic.
unsafe impl Sync for Progress {}

const SIZE: usize = std::mem::size_of::<[AtomicU64; 2]>();

impl Progress {
    /// New shared words, for a child about to be started.
    pub fn new() -> io::Result<Progress> {
        let fd =
            rustix::fs::memfd_create("fanout-tasks-progress", rustix::fs::MemfdFlags::CLOEXEC)?;
        rustix::fs::ftruncate(&fd, SIZE as u64)?;
        Progress::map(fd)
    }

    /// The words the parent made, in the child, from the inherited fd.
    pub fn map(fd: OwnedFd) -> io::Result<Progress> {
        use rustix::mm::{mmap, MapFlags, ProtFlags};
        // SAFETY: a fresh shared mapping of a file at least SIZE long; no
        // Rust object aliases it but the atomics handed out below.
        let p = unsafe {
            mmap(
                std::ptr::null_mut(),
                SIZE,
                ProtFlags::READ | ProtFlags::WRITE,
                MapFlags::SHARED,
                &fd,
                0,
            )?
        };
        let words = NonNull::new(p.cast()).ok_or_else(|| io::Error::other("mmap returned null"))?;
        Ok(Progress { words, fd })
    }

    fn words(&self) -> &[AtomicU64; 2] {
        // SAFETY: mapped in `map`, unmapped only in drop.
        unsafe { self.words.as_ref() }
    }

    /// The child: task `index` of `batch` starts now; the time now.
    pub fn start(&self, batch: u64, index: u32) -> u64 {
        let w = self.words();
        let now = now_ns();
        w[1].store(now, Ordering::Relaxed);
        w[0].store(
            ((batch & 0xffff_ffff) << 32) | (u64::from(index) + 1),
            Ordering::Release,
        );
        now
    }

    /// The parent: the task of `batch` running now, and when it started.
    pub fn running(&self, batch: u64) -> Option<(u32, u64)> {
        let w = self.words();
        let v = w[0].load(Ordering::Acquire);
        let started = w[1].load(Ordering::Relaxed);
        let index = (v & 0xffff_ffff) as u32;
        (v >> 32 == batch & 0xffff_ffff && index > 0).then(|| (index - 1, started))
    }

    /// The memfd, for the child to inherit.
    pub fn fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        // SAFETY: the mapping made in `map`, not used after this.
        let _ = unsafe { rustix::mm::munmap(self.words.as_ptr().cast(), SIZE) };
    }
}

/// CLOCK_MONOTONIC in nanoseconds: the same clock in every process.
pub fn now_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: a valid timespec to fill; CLOCK_MONOTONIC always exists.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}
