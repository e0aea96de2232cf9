//! Feeding a pipe-mode job its chunk: the header, then the records, into
//! the job's stdin pipe (or `--fifo`), as fast as the job reads, on the
//! event loop. A `--pipepart` range goes from the file to the job by
//! `sendfile`, so its bytes never pass through fanout's memory.

use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::unix::AsyncFd;
use tokio::io::Interest;

use crate::pipe::{Body, Chunk, JobStdin, SharedChunks};

/// A job's stdin (or fifo) and what is left to write into it.
pub(crate) struct Feeder {
    fd: Option<AsyncFd<OwnedFd>>,
    /// `--fifo`: opened for writing once the job opens it for reading.
    fifo: Option<PathBuf>,
    head: Arc<Vec<u8>>,
    head_pos: usize,
    body: Option<(Arc<Body>, u64)>,
    queue: Option<SharedChunks>,
}

/// What a step of feeding came to.
pub(crate) enum Fed {
    /// Some bytes went in; more to come.
    More,
    /// All written, or the job stopped reading: close its stdin.
    Done,
}

/// Pipes this big let a reader and fanout move a chunk in few wake-ups.
const PIPE_SIZE: usize = 1 << 20;

/// Bytes sent from a file at once.
const SEND_MAX: u64 = 16 << 20;

impl Feeder {
    /// Feeds `stdin` into a pipe's write end.
    pub(crate) fn pipe(fd: OwnedFd, stdin: JobStdin) -> io::Result<Feeder> {
        // Fails harmlessly on a socket (`--pipepart`).
        let _ = rustix::pipe::fcntl_setpipe_size(&fd, PIPE_SIZE);
        let mut f = Feeder::new(stdin);
        f.fd = Some(writable(fd)?);
        Ok(f)
    }

    /// Feeds `stdin` into the fifo at `path`, once the job opens it.
    pub(crate) fn fifo(path: PathBuf, stdin: JobStdin) -> Feeder {
        let mut f = Feeder::new(stdin);
        f.fifo = Some(path);
        f
    }

    fn new(stdin: JobStdin) -> Feeder {
        let (head, body, queue) = match stdin {
            JobStdin::Block { head, body } => (head, Some((body, 0)), None),
            JobStdin::Shared(q) => (Arc::new(Vec::new()), None, Some(q)),
        };
        Feeder {
            fd: None,
            fifo: None,
            head,
            head_pos: 0,
            body,
            queue,
        }
    }

    /// Writes what the reader takes now; waits for room, the fifo's reader
    /// or the next shared chunk as needed.
    pub(crate) async fn step(&mut self) -> Fed {
        if self.fd.is_none() {
            return self.open_fifo().await;
        }
        if self.head_pos >= self.head.len() && self.body_done() {
            match self.next_shared().await {
                Some(()) => {}
                None => return Fed::Done,
            }
        }
        let fd = self.fd.as_ref().expect("opened above");
        let Ok(mut guard) = fd.writable().await else {
            return Fed::Done;
        };
        let res = guard.try_io(|fd| {
            let fd = fd.get_ref();
            if self.head_pos < self.head.len() {
                let n = rustix::io::write(fd, &self.head[self.head_pos..])?;
                self.head_pos += n;
                return Ok(());
            }
            let (body, pos) = self.body.as_mut().expect("not done");
            let n = write_body(fd, body, *pos)?;
            if n == 0 {
                // The file ended early (truncated while running): nothing
                // more will come, and asking again would spin.
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
            *pos += n as u64;
            Ok(())
        });
        match res {
            Ok(Ok(())) | Err(_) => Fed::More,
            // EPIPE: the job does not want the rest; anything else (a file
            // cut short, an I/O error) ends its input too.
            Ok(Err(_)) => Fed::Done,
        }
    }

    fn body_done(&self) -> bool {
        self.body.as_ref().is_none_or(|(b, pos)| *pos >= b.len())
    }

    /// `--round-robin`: takes the next chunk from the shared queue; `None`
    /// when there is none left (or this job has a single chunk).
    async fn next_shared(&mut self) -> Option<()> {
        let queue = self.queue.as_ref()?;
        let Chunk { head, body } = queue.lock().await.recv().await?;
        // Every job gets the header once, before its first chunk.
        if self.head.is_empty() && self.head_pos == 0 && !head.is_empty() {
            self.head = head;
        }
        self.body = Some((Arc::new(Body::Bytes(body)), 0));
        Some(())
    }

    async fn open_fifo(&mut self) -> Fed {
        let Some(path) = &self.fifo else {
            return Fed::Done;
        };
        // Opening for writing fails with ENXIO until a reader has it open;
        // opening read-write would not, but data written before the job
        // opens the fifo would be lost when fanout closes it.
        let opened = rustix::fs::open(
            path,
            rustix::fs::OFlags::WRONLY | rustix::fs::OFlags::NONBLOCK | rustix::fs::OFlags::CLOEXEC,
            rustix::fs::Mode::empty(),
        );
        match opened.map_err(io::Error::from).and_then(writable) {
            Ok(fd) => {
                self.fd = Some(fd);
                Fed::More
            }
            Err(e) if e.raw_os_error() == Some(libc::ENXIO) => {
                tokio::time::sleep(Duration::from_millis(5)).await;
                Fed::More
            }
            Err(_) => Fed::Done,
        }
    }
}

fn write_body(fd: &OwnedFd, body: &Body, pos: u64) -> io::Result<usize> {
    match body {
        Body::Bytes(b) => Ok(rustix::io::write(fd, &b[pos as usize..])?),
        Body::File { file, offset, len } => {
            let mut off = offset + pos;
            let left = (len - pos).min(SEND_MAX) as usize;
            // In the kernel from the page cache to the job's socket (or
            // fifo): no byte passes through fanout's memory.
            Ok(rustix::fs::sendfile(
                fd,
                file.as_fd(),
                Some(&mut off),
                left,
            )?)
        }
    }
}

fn writable(fd: OwnedFd) -> io::Result<AsyncFd<OwnedFd>> {
    rustix::io::ioctl_fionbio(&fd, true)?;
    // SAFETY: an OwnedFd is open, and the AsyncFd owns it (so it stays the
    // same open file) until the AsyncFd is dropped.
    unsafe { AsyncFd::register_with_interest(fd, Interest::WRITABLE) }.map_err(io::Error::from)
}
