//! Driving one running job to its end on the event loop: read its pipes as
//! they fill, notice its exit through the pidfd, take what it left in the
//! pipes, and reap it.
//!
//! Output is read until the job's own process exits, not until the pipes
//! close: a background grandchild (`sleep 100 &`) keeping a pipe open must
//! not hold the job open, just as GNU parallel does not wait for it.

use std::io;
use std::os::fd::{AsFd, OwnedFd};

use tokio::io::unix::{AsyncFd, AsyncFdReadyGuard};
use tokio::io::Interest;
use tokio::sync::mpsc;

use super::spawn::{kill_group, reap, Reaped, Spawned};
use super::stdin::{Fed, Feeder};
use super::Stream;
use crate::job::JobSeq;
use crate::output::{Captured, Spool};

/// A piece of output passed on as it arrives (`--line-buffer`).
#[derive(Debug)]
pub(crate) struct Chunk {
    pub seq: JobSeq,
    pub stream: Stream,
    pub data: Vec<u8>,
}

/// Where a job's output goes while it runs.
pub(crate) struct DriveCtx<'a> {
    pub spool: &'a Spool,
    /// Set for `--line-buffer`: chunks go here instead of being captured.
    pub live: Option<mpsc::Sender<Chunk>>,
}

/// A finished job's process, as the executor saw it.
pub(crate) struct Outcome {
    pub seq: JobSeq,
    pub stdout: Captured,
    pub stderr: Captured,
    pub reaped: Reaped,
    /// Output that could not be kept (spool write failed).
    pub error: Option<io::Error>,
}

/// The drain after exit reads at most this many chunks per pipe, which
/// covers anything the job itself wrote (pipes hold 64 KiB by default, at
/// most 1 MiB) without chasing a grandchild that keeps writing.
const DRAIN_READS: usize = 64;
const BUF: usize = 32 * 1024;

/// One captured stream: the pipe's read end, and where its bytes go.
struct Pipe {
    fd: AsyncFd<OwnedFd>,
    open: bool,
}

fn pipe(fd: Option<OwnedFd>) -> io::Result<Option<Pipe>> {
    let Some(fd) = fd else { return Ok(None) };
    rustix::io::ioctl_fionbio(&fd, true)?;
    Ok(Some(Pipe {
        fd: register(fd)?,
        open: true,
    }))
}

/// Registers a descriptor with the event loop for readability.
fn register(fd: OwnedFd) -> io::Result<AsyncFd<OwnedFd>> {
    // SAFETY: an OwnedFd is open, and the AsyncFd owns it (so it stays the
    // same open file) until the AsyncFd is dropped.
    unsafe { AsyncFd::register_with_interest(fd, Interest::READABLE) }.map_err(io::Error::from)
}

fn read_fd(fd: &OwnedFd, buf: &mut [u8]) -> io::Result<usize> {
    rustix::io::read(fd.as_fd(), buf).map_err(io::Error::from)
}

/// Everything the job's output is delivered to.
struct Out<'c, 'a> {
    ctx: &'c DriveCtx<'a>,
    seq: JobSeq,
    stdout: Captured,
    stderr: Captured,
    error: Option<io::Error>,
}

impl Out<'_, '_> {
    async fn deliver(&mut self, stream: Stream, data: &[u8]) {
        if let Some(tx) = &self.ctx.live {
            let _ = tx
                .send(Chunk {
                    seq: self.seq,
                    stream,
                    data: data.to_vec(),
                })
                .await;
            return;
        }
        let sink = match stream {
            Stream::Stdout => &mut self.stdout,
            Stream::Stderr => &mut self.stderr,
        };
        if let Err(e) = sink.push(data, self.ctx.spool) {
            self.error.get_or_insert(e);
        }
    }
}

/// Runs the job to completion and returns what it produced.
pub(crate) async fn drive(
    seq: JobSeq,
    sp: Spawned,
    ctx: DriveCtx<'_>,
    mut feeder: Option<Feeder>,
) -> Outcome {
    let mut out = Out {
        ctx: &ctx,
        seq,
        stdout: Captured::default(),
        stderr: Captured::default(),
        error: None,
    };
    let mut pipes = [(None, Stream::Stdout), (None, Stream::Stderr)];
    for ((slot, _), fd) in pipes.iter_mut().zip([sp.stdout, sp.stderr]) {
        match pipe(fd) {
            Ok(p) => *slot = p,
            Err(err) => out.error = Some(err),
        }
    }
    let capturing = pipes.iter().any(|p| p.0.is_some());
    let mut buf = vec![0u8; if capturing { BUF } else { 0 }];
    let mut killed = false;
    match register(sp.pidfd) {
        Ok(pidfd) => loop {
            let closed = tokio::select! {
                biased;
                g = ready(pipes[0].0.as_ref()) => {
                    read_ready(g, &mut buf, &mut out, Stream::Stdout).await.then_some(0)
                }
                g = ready(pipes[1].0.as_ref()) => {
                    read_ready(g, &mut buf, &mut out, Stream::Stderr).await.then_some(1)
                }
                fed = feed(feeder.as_mut()) => {
                    if matches!(fed, Fed::Done) {
                        // Closing stdin gives the job its end of input.
                        feeder = None;
                    }
                    None
                }
                _ = pidfd.readable() => break,
            };
            if let Some(p) = closed.and_then(|i| pipes[i].0.as_mut()) {
                p.open = false;
            }
            if out.error.is_some() && !killed {
                // Output can no longer be kept (disk full): stop the job
                // rather than read and drop what it writes.
                kill_group(sp.pid, libc::SIGKILL);
                killed = true;
            }
        },
        Err(err) => {
            // Without the pidfd nothing would read the pipes while wait4
            // blocks below; end the job first.
            kill_group(sp.pid, libc::SIGKILL);
            out.error = Some(err);
        }
    }
    // The job's stdin closes now, not after the drain: a grandchild that
    // waits for the end of stdin must not hold the job open.
    drop(feeder);
    for (p, stream) in &mut pipes {
        if let Some(p) = p.as_mut().filter(|p| p.open) {
            drain(p, &mut buf, &mut out, *stream).await;
        }
    }
    let reaped = reap(sp.pid);
    for c in [&mut out.stdout, &mut out.stderr] {
        if let Err(e) = c.seal() {
            out.error.get_or_insert(e);
        }
    }
    Outcome {
        seq,
        stdout: out.stdout,
        stderr: out.stderr,
        reaped,
        error: out.error,
    }
}

/// Feeds the job's stdin; never, when there is nothing to feed.
async fn feed(f: Option<&mut Feeder>) -> Fed {
    match f {
        Some(f) => f.step().await,
        None => std::future::pending().await,
    }
}

/// Waits until the pipe has data or hung up; never, when it is absent or
/// closed. (`select!` builds every branch's future even when disabled, so
/// absence is handled here rather than by a branch precondition.)
async fn ready(p: Option<&Pipe>) -> io::Result<AsyncFdReadyGuard<'_, OwnedFd>> {
    match p {
        Some(p) if p.open => p.fd.readable().await,
        _ => std::future::pending().await,
    }
}

/// Reads once from a pipe that polled readable; true when it closed.
async fn read_ready(
    guard: io::Result<AsyncFdReadyGuard<'_, OwnedFd>>,
    buf: &mut [u8],
    out: &mut Out<'_, '_>,
    stream: Stream,
) -> bool {
    let Ok(mut guard) = guard else { return true };
    match guard.try_io(|fd| read_fd(fd.get_ref(), buf)) {
        Ok(Ok(0)) | Ok(Err(_)) => true,
        Ok(Ok(n)) => {
            out.deliver(stream, &buf[..n]).await;
            false
        }
        Err(_would_block) => false,
    }
}

/// Takes what the exited job left in a pipe, without waiting for more.
async fn drain(p: &mut Pipe, buf: &mut [u8], out: &mut Out<'_, '_>, stream: Stream) {
    for _ in 0..DRAIN_READS {
        match read_fd(p.fd.get_ref(), buf) {
            Ok(n) if n > 0 => out.deliver(stream, &buf[..n]).await,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            _ => break,
        }
    }
    p.open = false;
}
