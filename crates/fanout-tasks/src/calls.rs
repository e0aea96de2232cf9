//! The calls of a [`Pool`], each blocking and async: `map`,
//! `map_unordered`, `submit`.

use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use crate::{Handle, Map, MapStream, Pool, Task, TaskError};

impl Pool {
    /// Runs `task` on every input; the results in input order, as they
    /// are ready (the input is read as the results are taken, so it may
    /// be endless).
    pub fn map<T, I>(&self, _task: T, inputs: I) -> Map<T::Out>
    where
        T: Task,
        I: IntoIterator<Item = T::Arg>,
        I::IntoIter: Send + 'static,
    {
        Map::new::<T, I>(self, inputs, true)
    }

    /// As [`Pool::map`], the results in the order they finish.
    pub fn map_unordered<T, I>(&self, _task: T, inputs: I) -> Map<T::Out>
    where
        T: Task,
        I: IntoIterator<Item = T::Arg>,
        I::IntoIter: Send + 'static,
    {
        Map::new::<T, I>(self, inputs, false)
    }

    /// [`Pool::map`] as a `Stream`.
    pub fn map_async<T, I>(&self, _task: T, inputs: I) -> MapStream<T::Out>
    where
        T: Task,
        I: IntoIterator<Item = T::Arg>,
        I::IntoIter: Send + 'static,
    {
        MapStream::new::<T, I>(self, inputs, true)
    }

    /// [`Pool::map_unordered`] as a `Stream`.
    pub fn map_unordered_async<T, I>(&self, _task: T, inputs: I) -> MapStream<T::Out>
    where
        T: Task,
        I: IntoIterator<Item = T::Arg>,
        I::IntoIter: Send + 'static,
    {
        MapStream::new::<T, I>(self, inputs, false)
    }

    /// Starts `task` on `arg` now; the handle's `join()` or `.await` gives
    /// its result.
    pub fn submit<T: Task>(&self, _task: T, arg: T::Arg) -> Handle<T::Out> {
        let (tx, rx) = flume::bounded(1);
        let cancelled = Arc::new(AtomicBool::new(false));
        self.run_batch::<T>(vec![arg], cancelled.clone(), move |results, _| {
            let first = results.into_iter().next();
            let _ = tx.send(first.unwrap_or(Err(TaskError::Cancelled)));
        });
        Handle::new(rx, cancelled)
    }
}
