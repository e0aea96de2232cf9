//! Pipe mode: one big input cut into chunks of whole records, each chunk
//! given to a job on its stdin (or as a file or fifo named by `{}`).
//! `--pipe` reads the input once and cuts it ([`Chunker`]); `--pipepart`
//! cuts a seekable file into byte ranges ([`part_ranges`]) that each job's
//! stdin is fed from directly, by `splice`, so no byte passes through
//! fanout's memory; `--round-robin` feeds a fixed set of jobs from one
//! shared queue of chunks.

mod chunk;
mod part;
mod split;

use std::sync::Arc;

pub use crate::stdin::{Body, Chunk, Delivery, JobInput, JobStdin, SharedChunks};
pub use chunk::{ChunkOptions, Chunker, GrowHook, Header};
pub use part::{file_size, part_ranges};
pub use split::{RecSeps, Splitter};

/// How far the `--round-robin` reader has got: how many chunks it has
/// queued, and whether it is done.
#[derive(Debug, Default)]
pub struct ReaderProgress {
    state: std::sync::Mutex<(u64, bool)>,
    changed: std::sync::Condvar,
}

impl ReaderProgress {
    /// Blocks until the reader has queued `n` chunks (true) or ended with
    /// fewer (false). A run starts its k-th job only when there is a k-th
    /// chunk, so a small input does not start idle jobs.
    pub fn wait_for(&self, n: u64) -> bool {
        let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        while st.0 < n && !st.1 {
            st = self.changed.wait(st).unwrap_or_else(|e| e.into_inner());
        }
        st.0 >= n
    }

    fn update(&self, queued: bool) {
        let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if queued {
            st.0 += 1;
        } else {
            st.1 = true;
        }
        self.changed.notify_all();
    }
}

/// `--round-robin`: cuts chunks on a thread of its own and hands them to
/// `n` jobs' queues in turn, as GNU parallel writes to its jobs: the next
/// job in order, or, when its queue is full (the job is slow), the next
/// one that has room; when none has, it waits for the one in turn. So fast
/// jobs get the chunks in strict rotation, and a slow one does not hold
/// the others up. A read error ends the queues and is left in `error`.
pub fn spawn_reader<R: std::io::Read + Send + 'static>(
    chunker: Chunker<R>,
    n: usize,
    error: Arc<std::sync::Mutex<Option<std::io::Error>>>,
) -> (Vec<SharedChunks>, Arc<ReaderProgress>) {
    let n = n.max(1);
    let mut senders = Vec::with_capacity(n);
    let mut queues = Vec::with_capacity(n);
    for _ in 0..n {
        let (tx, rx) = tokio::sync::mpsc::channel(1);
        senders.push(tx);
        queues.push(Arc::new(tokio::sync::Mutex::new(rx)));
    }
    let progress = Arc::new(ReaderProgress::default());
    let (spawn_error, spawn_progress) = (error.clone(), progress.clone());
    let reader_progress = progress.clone();
    let reader = move || {
        let mut next = 0;
        for c in chunker {
            let c = match c {
                Ok(c) => c,
                Err(e) => {
                    let io = std::io::Error::other(e.to_string());
                    *error.lock().unwrap_or_else(|e| e.into_inner()) = Some(io);
                    break;
                }
            };
            if !hand_out(&senders, &mut next, c) {
                break;
            }
            reader_progress.update(true);
        }
        reader_progress.update(false);
    };
    if let Err(e) = std::thread::Builder::new()
        .name("fanout-round-robin".into())
        .spawn(reader)
    {
        *spawn_error.lock().unwrap_or_else(|e| e.into_inner()) = Some(e);
        spawn_progress.update(false);
    }
    (queues, progress)
}

/// Gives `c` to the job in turn (`next`), or the first after it with room,
/// else waits for the one in turn; false when every job has gone.
fn hand_out(senders: &[tokio::sync::mpsc::Sender<Chunk>], next: &mut usize, c: Chunk) -> bool {
    use tokio::sync::mpsc::error::TrySendError;
    let n = senders.len();
    let mut c = c;
    for k in 0..n {
        let i = (*next + k) % n;
        match senders[i].try_send(c) {
            Ok(()) => {
                *next = (i + 1) % n;
                return true;
            }
            Err(TrySendError::Full(back) | TrySendError::Closed(back)) => c = back,
        }
    }
    // All full (or gone): wait for the first open one in turn.
    for k in 0..n {
        let i = (*next + k) % n;
        match senders[i].blocking_send(c) {
            Ok(()) => {
                *next = (i + 1) % n;
                return true;
            }
            Err(back) => c = back.0,
        }
    }
    false
}

/// `--tee`: cuts chunks on a thread of its own and puts each into all of
/// `n` queues, one per job, so every job reads all of the input; a job
/// that stops reading (its queue closed) is dropped from the fan-out, the
/// others go on. A read error ends the queues and is left in `error`.
pub fn spawn_tee<R: std::io::Read + Send + 'static>(
    chunker: Chunker<R>,
    n: usize,
    error: Arc<std::sync::Mutex<Option<std::io::Error>>>,
) -> Vec<SharedChunks> {
    let mut senders = Vec::with_capacity(n);
    let mut queues = Vec::with_capacity(n);
    for _ in 0..n {
        let (tx, rx) = tokio::sync::mpsc::channel(4);
        senders.push(Some(tx));
        queues.push(Arc::new(tokio::sync::Mutex::new(rx)));
    }
    let spawn_error = error.clone();
    let reader = move || {
        for c in chunker {
            let c = match c {
                Ok(c) => c,
                Err(e) => {
                    let io = std::io::Error::other(e.to_string());
                    *error.lock().unwrap_or_else(|e| e.into_inner()) = Some(io);
                    return;
                }
            };
            for s in &mut senders {
                if s.as_ref()
                    .is_some_and(|tx| tx.blocking_send(c.clone()).is_err())
                {
                    *s = None;
                }
            }
            if senders.iter().all(Option::is_none) {
                return;
            }
        }
    };
    if let Err(e) = std::thread::Builder::new()
        .name("fanout-tee".into())
        .spawn(reader)
    {
        *spawn_error.lock().unwrap_or_else(|e| e.into_inner()) = Some(e);
    }
    queues
}
