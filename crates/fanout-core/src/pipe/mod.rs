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

use std::fs::File;
use std::sync::Arc;

pub use chunk::{Chunk, ChunkOptions, Chunker, Header};
pub use part::{file_size, part_ranges};
pub use split::Splitter;

/// What a job reads.
#[derive(Debug, Clone)]
pub enum JobStdin {
    /// One chunk: a header, then records.
    Block {
        /// `--header` bytes, empty without one.
        head: Arc<Vec<u8>>,
        /// The records.
        body: Arc<Body>,
    },
    /// `--round-robin`: the header, then chunks from a queue shared by all
    /// jobs, as fast as this job reads them, until the input ends.
    Shared(SharedChunks),
}

/// A pipe-mode job's input: its chunk and how the job gets it, together,
/// so the two are never matched up from separate places.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobInput {
    /// What the job reads.
    pub chunk: JobStdin,
    /// On stdin, or as the file or fifo `{}` names.
    pub delivery: Delivery,
}

/// The records of one chunk.
#[derive(Debug)]
pub enum Body {
    /// In memory (`--pipe`).
    Bytes(Vec<u8>),
    /// A byte range of a file (`--pipepart`).
    File {
        /// The file.
        file: Arc<File>,
        /// Where the range starts.
        offset: u64,
        /// Its length.
        len: u64,
    },
}

impl Body {
    /// Its length in bytes.
    pub fn len(&self) -> u64 {
        match self {
            Body::Bytes(b) => b.len() as u64,
            Body::File { len, .. } => *len,
        }
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The queue `--round-robin` jobs take chunks from.
pub type SharedChunks = Arc<tokio::sync::Mutex<tokio::sync::mpsc::Receiver<Chunk>>>;

impl PartialEq for JobStdin {
    /// Same chunk (the same bytes or the same file range), or the same queue.
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (JobStdin::Block { head: h1, body: b1 }, JobStdin::Block { head: h2, body: b2 }) => {
                h1 == h2
                    && match (&**b1, &**b2) {
                        (Body::Bytes(x), Body::Bytes(y)) => x == y,
                        (
                            Body::File {
                                file: f1,
                                offset: o1,
                                len: l1,
                            },
                            Body::File {
                                file: f2,
                                offset: o2,
                                len: l2,
                            },
                        ) => Arc::ptr_eq(f1, f2) && o1 == o2 && l1 == l2,
                        _ => false,
                    }
            }
            (JobStdin::Shared(a), JobStdin::Shared(b)) => Arc::ptr_eq(a, b),
            _ => false,
        }
    }
}

impl Eq for JobStdin {}

/// How a job receives its chunk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Delivery {
    /// On stdin (the default).
    #[default]
    Stdin,
    /// `--cat`: in a temporary file named by `{}`, removed after the job.
    Cat,
    /// `--fifo`: through a named pipe named by `{}`.
    Fifo,
}

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

/// `--round-robin`: cuts chunks on a thread of its own into a queue of
/// `capacity` chunks that jobs share ([`JobStdin::Shared`]). A read error
/// ends the queue and is left in `error`.
pub fn spawn_reader<R: std::io::Read + Send + 'static>(
    chunker: Chunker<R>,
    capacity: usize,
    error: Arc<std::sync::Mutex<Option<std::io::Error>>>,
) -> (SharedChunks, Arc<ReaderProgress>) {
    let (tx, rx) = tokio::sync::mpsc::channel(capacity.max(1));
    let progress = Arc::new(ReaderProgress::default());
    let (spawn_error, spawn_progress) = (error.clone(), progress.clone());
    let reader_progress = progress.clone();
    let reader = move || {
        for c in chunker {
            match c {
                Ok(c) => {
                    if tx.blocking_send(c).is_err() {
                        break;
                    }
                    reader_progress.update(true);
                }
                Err(e) => {
                    let io = std::io::Error::other(e.to_string());
                    *error.lock().unwrap_or_else(|e| e.into_inner()) = Some(io);
                    break;
                }
            }
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
    (Arc::new(tokio::sync::Mutex::new(rx)), progress)
}
