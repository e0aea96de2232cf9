//! What a pipe-mode job reads, as data: its chunk (bytes, a file range,
//! or `--round-robin`'s shared queue) and how it gets it (stdin, `--cat`,
//! `--fifo`). Part of the data model, beside `job.rs`: `pipe/` makes
//! these, `exec/` delivers them, and neither is needed to name them.

use std::fs::File;
use std::sync::Arc;

/// One chunk: the header (shared by all chunks) and the records.
#[derive(Debug, Clone)]
pub struct Chunk {
    /// The `--header` bytes, empty without one.
    pub head: Arc<Vec<u8>>,
    /// Whole records, in input order.
    pub body: Vec<u8>,
}

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
