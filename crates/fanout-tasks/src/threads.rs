//! The thread pool: `n` threads taking jobs from one queue. A job is a
//! whole batch of tasks, run with panics caught, so a tiny task costs a
//! function call, not a channel message.

use std::thread::JoinHandle;

use crate::PoolError;

/// One batch, ready to run.
pub(crate) type Job = Box<dyn FnOnce() + Send>;

/// The pool's threads.
pub(crate) struct Threads {
    queue: Option<flume::Sender<Job>>,
    threads: Vec<JoinHandle<()>>,
}

impl Threads {
    /// Starts `n` threads.
    pub fn start(n: usize) -> Result<Threads, PoolError> {
        let (queue, rx) = flume::unbounded::<Job>();
        let mut threads = Vec::with_capacity(n);
        for i in 0..n {
            let rx = rx.clone();
            let t = std::thread::Builder::new()
                .name(format!("fanout-tasks-{i}"))
                .spawn(move || {
                    while let Ok(job) = rx.recv() {
                        job();
                    }
                })
                .map_err(PoolError::Spawn)?;
            threads.push(t);
        }
        Ok(Threads {
            queue: Some(queue),
            threads,
        })
    }

    /// Queues a batch.
    pub fn submit(&self, job: Job) {
        if let Some(q) = &self.queue {
            let _ = q.send(job);
        }
    }
}

impl Drop for Threads {
    fn drop(&mut self) {
        self.queue = None;
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}
