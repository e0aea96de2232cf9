//! The child side of a process pool: [`init`] at the top of `main` turns a
//! process started by the pool into a server of task batches (it never
//! returns to `main`), and lets the parent start pools.

use std::fs::File;
use std::io::{self, BufReader, Write};
use std::os::fd::{FromRawFd, OwnedFd};
use std::sync::atomic::{AtomicBool, Ordering};

use crate::processes::progress::{now_ns, Progress};
use crate::task::lookup;
use crate::wire::{self, Failure, Fields, Kind};
use crate::TaskError;

/// Set in a child's environment by the pool that starts it.
pub(crate) const CHILD_ENV: &str = "FANOUT_TASKS_CHILD";
/// The fds a child gets: batches in, results out, the shared progress.
pub(crate) const FDS: [i32; 3] = [3, 4, 5];
/// How long a finished task's result may wait in the child's buffer.
const FLUSH_NS: u64 = 1_000_000;
/// How many bytes of results may wait.
const SEND_BYTES: usize = 1 << 20;
/// The longest result a task may return (a frame holds at most
/// `wire::MAX_FRAME`).
const MAX_RESULT: usize = wire::MAX_FRAME / 2;

static INITIALISED: AtomicBool = AtomicBool::new(false);

/// Call first in `main`. In a child process of a pool it serves the
/// pool's tasks and exits without returning; in any other process it
/// returns at once and allows `processes(n)` pools (which run this same
/// program as their children, so a `main` that skipped this would start
/// them again and again).
pub fn init() {
    if std::env::var_os(CHILD_ENV).is_some() {
        // SAFETY: first thing in main, before any other thread reads the
        // environment; the tasks' own children must not inherit it.
        unsafe { std::env::remove_var(CHILD_ENV) };
        let code = match serve() {
            Ok(()) => 0,
            Err(e) => {
                eprintln!("fanout-tasks child: {e}");
                70
            }
        };
        std::process::exit(code);
    }
    INITIALISED.store(true, Ordering::SeqCst);
}

/// True once [`init`] ran in a process that is not a child.
pub(crate) fn initialised() -> bool {
    INITIALISED.load(Ordering::SeqCst)
}

/// Runs batches until the parent closes the pipe.
fn serve() -> io::Result<()> {
    for fd in FDS {
        // SAFETY: fcntl on any number is harmless; it checks the parent
        // really passed the fd before we own it.
        if unsafe { libc::fcntl(fd, libc::F_GETFD) } < 0 {
            return Err(io::Error::other(format!("fd {fd} not passed by the pool")));
        }
    }
    // SAFETY: the pool passed these three fds to this process alone.
    let (input, mut output, shared) = unsafe {
        (
            File::from(OwnedFd::from_raw_fd(FDS[0])),
            File::from(OwnedFd::from_raw_fd(FDS[1])),
            OwnedFd::from_raw_fd(FDS[2]),
        )
    };
    let progress = Progress::map(shared)?;
    let mut input = BufReader::with_capacity(1 << 16, input);
    let mut buf = Vec::with_capacity(1 << 16);
    while let Some(frame) = wire::read_frame(&mut input)? {
        if frame.kind != Kind::Batch {
            return Err(wire::bad(format!("{:?} frame from the pool", frame.kind)));
        }
        run_batch(&frame.body, &progress, &mut output, &mut buf)?;
    }
    Ok(())
}

/// Runs one batch, sending the results finished so far in one frame
/// whenever `FLUSH_NS` passed since the last (or `SEND_BYTES` wait), then
/// the end of the batch.
fn run_batch(
    body: &[u8],
    progress: &Progress,
    out: &mut File,
    buf: &mut Vec<u8>,
) -> io::Result<()> {
    let mut f = Fields(body);
    let batch = f.u64()?;
    let name_len = f.u16()? as usize;
    let name = std::str::from_utf8(f.bytes(name_len)?).map_err(|e| wire::bad(e.to_string()))?;
    let count = f.u32()?;
    let mut lens = Fields(f.bytes(count as usize * 4)?);
    let mut args = f;
    let run = lookup(name);
    let start = now_ns();
    let mut sent = start;
    let mut run_of = Run::new(buf, batch, 0);
    for index in 0..count {
        let arg = args.bytes(lens.u32()? as usize)?;
        let now = progress.start(batch, index);
        if run_of.count > 0 && (now - sent > FLUSH_NS || run_of.buf.len() > SEND_BYTES) {
            run_of.send(out, index)?;
            sent = now;
        }
        run_of.push(|out| match run {
            Some(run) => run(arg, out),
            None => Err(TaskError::Unregistered {
                name: name.to_owned(),
            }),
        });
    }
    let took = now_ns() - start;
    run_of.end(out, took)
}

/// Results waiting in the child to be sent: one frame, built in place.
struct Run<'a> {
    buf: &'a mut Vec<u8>,
    batch: u64,
    /// The batch index of the first task in the frame.
    first: u32,
    count: u32,
}

/// Frame head, then batch, first index and count.
const RUN_HEAD: usize = 6 + 8 + 4 + 4;

impl<'a> Run<'a> {
    fn new(buf: &'a mut Vec<u8>, batch: u64, first: u32) -> Run<'a> {
        buf.clear();
        buf.resize(RUN_HEAD, 0);
        Run {
            buf,
            batch,
            first,
            count: 0,
        }
    }

    /// Adds the next task's result, which `run` appends to the buffer.
    fn push(&mut self, run: impl FnOnce(&mut Vec<u8>) -> Result<(), TaskError>) {
        let at = self.buf.len();
        self.buf.extend_from_slice(&[wire::VALUE, 0, 0, 0, 0]);
        let mut status = wire::VALUE;
        let mut fail = |buf: &mut Vec<u8>, e: &TaskError| {
            buf.truncate(at + 5);
            let (why, text) = Failure::of(e);
            buf.extend_from_slice(text.as_bytes());
            status = why as u8;
        };
        match run(self.buf) {
            Ok(()) if self.buf.len() - at - 5 > MAX_RESULT => {
                let e = TaskError::Codec(format!(
                    "a result of {} bytes is too long",
                    self.buf.len() - at - 5
                ));
                fail(self.buf, &e);
            }
            Ok(()) => {}
            Err(e) => fail(self.buf, &e),
        }
        let len = (self.buf.len() - at - 5) as u32;
        self.buf[at] = status;
        self.buf[at + 1..at + 5].copy_from_slice(&len.to_le_bytes());
        self.count += 1;
    }

    /// Fills in the frame's head.
    fn seal(&mut self) -> io::Result<()> {
        let head = wire::head(Kind::Results, self.buf.len() - 6)?;
        self.buf[..6].copy_from_slice(&head);
        self.buf[6..14].copy_from_slice(&self.batch.to_le_bytes());
        self.buf[14..18].copy_from_slice(&self.first.to_le_bytes());
        self.buf[18..22].copy_from_slice(&self.count.to_le_bytes());
        Ok(())
    }

    /// Sends the results so far; the next starts at task `next`.
    fn send(&mut self, out: &mut File, next: u32) -> io::Result<()> {
        self.seal()?;
        out.write_all(self.buf)?;
        self.buf.truncate(RUN_HEAD);
        (self.first, self.count) = (next, 0);
        Ok(())
    }

    /// Sends the rest and the end of the batch, in one write.
    fn end(mut self, out: &mut File, took: u64) -> io::Result<()> {
        if self.count > 0 {
            self.seal()?;
        } else {
            self.buf.clear();
        }
        let mut end = Vec::with_capacity(22);
        wire::write_frame(
            &mut end,
            &mut Vec::new(),
            Kind::End,
            &[&self.batch.to_le_bytes(), &took.to_le_bytes()],
        )?;
        self.buf.extend_from_slice(&end);
        out.write_all(self.buf)
    }
}
