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
pub use chunk::{ChunkOptions, Chunker, GrowHook, Header, Timed};
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
    let (senders, queues) = queues(n.max(1), 1);
    let progress = Arc::new(ReaderProgress::default());
    let (spawn_error, spawn_progress) = (error.clone(), progress.clone());
    let reader_progress = progress.clone();
    let reader = move || {
        let mut next = 0;
        for c in chunker {
            let c = match c {
                Ok(c) => c,
                Err(e) => {
                    keep(&error, std::io::Error::other(e.to_string()));
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
    if !start("fanout-round-robin", &spawn_error, reader) {
        spawn_progress.update(false);
    }
    (queues, progress)
}

/// `n` bounded queues of `cap` chunks, one per job: the reader's ends and
/// the jobs' ends.
fn queues(n: usize, cap: usize) -> (Vec<tokio::sync::mpsc::Sender<Chunk>>, Vec<SharedChunks>) {
    (0..n)
        .map(|_| {
            let (tx, rx) = tokio::sync::mpsc::channel(cap);
            (tx, Arc::new(tokio::sync::Mutex::new(rx)))
        })
        .unzip()
}

/// Leaves a reader thread's error for the run to report.
fn keep(slot: &std::sync::Mutex<Option<std::io::Error>>, e: std::io::Error) {
    *slot.lock().unwrap_or_else(|e| e.into_inner()) = Some(e);
}

/// Starts a reader thread; false (its error kept) when it cannot start.
fn start(
    name: &str,
    slot: &std::sync::Mutex<Option<std::io::Error>>,
    f: impl FnOnce() + Send + 'static,
) -> bool {
    match std::thread::Builder::new().name(name.into()).spawn(f) {
        Ok(_) => true,
        Err(e) => {
            keep(slot, e);
            false
        }
    }
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
    let (senders, queues) = queues(n, 4);
    let mut senders: Vec<Option<_>> = senders.into_iter().map(Some).collect();
    let spawn_error = error.clone();
    let reader = move || {
        for c in chunker {
            let c = match c {
                Ok(c) => c,
                Err(e) => {
                    keep(&error, std::io::Error::other(e.to_string()));
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
    start("fanout-tee", &spawn_error, reader);
    queues
}

/// `--shard` and `--bin`: which job a line goes to, by one column's value.
#[derive(Debug, Clone)]
pub struct Route {
    /// The column (from 1).
    pub col: usize,
    /// What separates columns (`--colsep`, else TAB).
    pub colsep: regex::bytes::Regex,
    /// By a hash of the value, or by the value as a number.
    pub by: RouteBy,
}

/// How a column's value picks a job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RouteBy {
    /// `--shard`: the same value always goes to the same job.
    Hash,
    /// `--bin`: the value (a whole number) modulo the number of jobs.
    Number,
}

impl Route {
    /// The job (0-based of `n`) for one line.
    fn job(&self, line: &[u8], n: usize) -> usize {
        let line = line.strip_suffix(b"\n").unwrap_or(line);
        let v = self
            .colsep
            .split(line)
            .nth(self.col.saturating_sub(1))
            .unwrap_or(b"");
        let k = match self.by {
            RouteBy::Hash => {
                use std::hash::{Hash, Hasher};
                // Fixed keys: the same value lands on the same job in
                // every run.
                let mut h = std::collections::hash_map::DefaultHasher::new();
                v.hash(&mut h);
                h.finish()
            }
            RouteBy::Number => std::str::from_utf8(v)
                .ok()
                .and_then(|t| t.trim().parse::<i64>().ok())
                .map_or(0, |x| x.rem_euclid(n as i64) as u64),
        };
        // Bin 0 is the last job, as GNU parallel numbers them.
        ((k as usize) % n + n - 1) % n
    }
}

/// `--shard`/`--bin`: reads lines on a thread of its own and gives each to
/// the job its column picks, in chunks of about `block` bytes per job; all
/// `n` jobs run at once. A read error ends the queues and is left in
/// `error`.
pub fn spawn_router<R: std::io::Read + Send + 'static>(
    src: R,
    n: usize,
    route: Route,
    block: usize,
    error: Arc<std::sync::Mutex<Option<std::io::Error>>>,
) -> Vec<SharedChunks> {
    use std::io::BufRead;
    let n = n.max(1);
    let (senders, queues) = queues(n, 2);
    let spawn_error = error.clone();
    let reader = move || {
        let head = Arc::new(Vec::new());
        let mut bufs: Vec<Vec<u8>> = vec![Vec::new(); n];
        let mut r = std::io::BufReader::with_capacity(1 << 16, src);
        let mut line = Vec::new();
        let send = |i: usize, body: Vec<u8>| {
            let _ = senders[i].blocking_send(Chunk {
                head: head.clone(),
                body,
            });
        };
        loop {
            line.clear();
            match r.read_until(b'\n', &mut line) {
                Ok(0) => break,
                Ok(_) => {
                    let i = route.job(&line, n);
                    bufs[i].extend_from_slice(&line);
                    if bufs[i].len() >= block {
                        send(i, std::mem::take(&mut bufs[i]));
                    }
                }
                Err(e) => {
                    keep(&error, e);
                    break;
                }
            }
        }
        for (i, b) in bufs.into_iter().enumerate() {
            if !b.is_empty() {
                send(i, b);
            }
        }
    };
    start("fanout-shard", &spawn_error, reader);
    queues
}
