//! The child side of a process pool: [`init`] at the top of `main` turns a
//! process started by the pool into a server of task batches (it never
//! returns to `main`), and lets the parent start pools.

use std::fs::File;
use std::io::{self, BufReader, BufWriter, Write};
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
    let (input, output, shared) = unsafe {
        (
            File::from(OwnedFd::from_raw_fd(FDS[0])),
            File::from(OwnedFd::from_raw_fd(FDS[1])),
            OwnedFd::from_raw_fd(FDS[2]),
        )
    };
    let progress = Progress::map(shared)?;
    let mut input = BufReader::with_capacity(1 << 16, input);
    let mut output = BufWriter::with_capacity(1 << 16, output);
    let mut frame_buf = Vec::new();
    while let Some(frame) = wire::read_frame(&mut input)? {
        if frame.kind != Kind::Batch {
            return Err(wire::bad(format!("{:?} frame from the pool", frame.kind)));
        }
        run_batch(&frame.body, &progress, &mut output, &mut frame_buf)?;
    }
    Ok(())
}

/// Runs one batch, sending each result as it is ready (at most
/// `FLUSH_NS` late), then the end of the batch.
fn run_batch(
    body: &[u8],
    progress: &Progress,
    out: &mut BufWriter<File>,
    buf: &mut Vec<u8>,
) -> io::Result<()> {
    let mut f = Fields(body);
    let batch = f.u64()?;
    let name_len = f.u16()? as usize;
    let name = std::str::from_utf8(f.bytes(name_len)?).map_err(|e| wire::bad(e.to_string()))?;
    let count = f.u32()?;
    let run = lookup(name);
    let start = now_ns();
    let mut flushed = start;
    for index in 0..count {
        let len = f.u32()? as usize;
        let arg = f.bytes(len)?;
        progress.start(batch, index);
        let result = match run {
            Some(run) => run(arg),
            None => Err(TaskError::Unregistered {
                name: name.to_owned(),
            }),
        };
        let mut head = [0u8; 12];
        head[..8].copy_from_slice(&batch.to_le_bytes());
        head[8..].copy_from_slice(&index.to_le_bytes());
        match result {
            Ok(bytes) => wire::write_frame(out, buf, Kind::Done, &[&head, &bytes])?,
            Err(e) => {
                let (why, text) = Failure::of(&e);
                wire::write_frame(
                    out,
                    buf,
                    Kind::Failed,
                    &[&head, &[why as u8], text.as_bytes()],
                )?
            }
        }
        let now = now_ns();
        if now - flushed > FLUSH_NS {
            out.flush()?;
            flushed = now;
        }
    }
    let took = now_ns() - start;
    wire::write_frame(
        out,
        buf,
        Kind::End,
        &[&batch.to_le_bytes(), &took.to_le_bytes()],
    )?;
    out.flush()
}
