//! The process pool: `n` children running this same program, one thread
//! of the pool per child feeding it batches from a shared queue and
//! reading back its results. A child that dies fails only the task it was
//! running (the shared [`progress`] words say which); the slot starts a new
//! child and goes on with the rest of the batch.

use std::path::PathBuf;
use std::thread::JoinHandle;

use crate::pool::Options;
use crate::work::Work;
use crate::PoolError;

pub(crate) mod progress;
mod slot;
mod spawn;

/// The pool's children and the threads that serve them.
pub(crate) struct Processes {
    queue: Option<flume::Sender<Work>>,
    slots: Vec<JoinHandle<()>>,
}

impl Processes {
    /// Starts `n` children (all of them now, so a program that cannot run
    /// is an error here, not at the first task).
    pub fn start(n: usize, opts: Options) -> Result<Processes, PoolError> {
        if !crate::child::initialised() {
            return Err(PoolError::NotInitialised);
        }
        let exe: PathBuf = std::env::current_exe().map_err(PoolError::Spawn)?;
        let (queue, rx) = flume::unbounded();
        let mut slots = Vec::with_capacity(n);
        for i in 0..n {
            let (exe, rx, opts) = (exe.clone(), rx.clone(), opts.clone());
            // The slot's thread starts its child (the kernel ties the
            // child's life to that thread), and says whether it could.
            let (ready_tx, ready_rx) = flume::bounded(1);
            let slot = std::thread::Builder::new()
                .name(format!("fanout-tasks-{i}"))
                .spawn(move || slot::serve(&exe, rx, &opts, ready_tx))
                .map_err(PoolError::Spawn)?;
            slots.push(slot);
            match ready_rx.recv() {
                Ok(Ok(())) => {}
                Ok(Err(e)) => return Err(PoolError::Spawn(e)),
                Err(_) => return Err(PoolError::Spawn(std::io::Error::other("slot thread died"))),
            }
        }
        Ok(Processes {
            queue: Some(queue),
            slots,
        })
    }

    /// Queues a batch for the next free child.
    pub fn submit(&self, work: Work) {
        if let Some(q) = &self.queue {
            // A send fails only once every slot is gone; the work's drop
            // then reports its tasks cancelled.
            let _ = q.send(work);
        }
    }
}

impl Drop for Processes {
    fn drop(&mut self) {
        self.queue = None;
        for s in self.slots.drain(..) {
            let _ = s.join();
        }
    }
}
