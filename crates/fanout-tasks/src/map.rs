//! `map` and `map_unordered`: a feeder thread cuts the input into batches
//! and hands them to the pool, at most a window of batches ahead of what
//! the caller has taken, so memory stays flat for any length of input;
//! the results come back through one channel and are put in input order
//! (or not) as the caller takes them, blocking ([`Map`] is an `Iterator`)
//! or async ([`MapStream`] is a `Stream`).

use std::collections::BTreeMap;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

use crate::batch::Sizer;
use crate::outcomes::{self, Outcomes};
use crate::{Pool, Task, TaskError};

/// Batches in flight per worker: enough that no worker waits for the
/// feeder, few enough that held results stay small.
const WINDOW_PER_WORKER: usize = 4;

type Batch<R> = (u64, Outcomes<R>);

/// The caller's side of a map: results in order, and the window.
struct Reorder<R> {
    ordered: bool,
    next: u64,
    held: BTreeMap<u64, Outcomes<R>>,
    current: outcomes::Iter<R>,
    /// Taking a token lets the feeder send one more batch.
    tokens: flume::Receiver<()>,
    stop: Arc<AtomicBool>,
}

impl<R> Reorder<R> {
    /// The next result ready to hand out, if any.
    fn pop(&mut self) -> Option<Result<R, TaskError>> {
        loop {
            if let Some(r) = self.current.next() {
                return Some(r);
            }
            if !self.advance() {
                return None;
            }
        }
    }

    /// Makes the next batch in order current, if it is back; frees its
    /// place in the window.
    fn advance(&mut self) -> bool {
        let Some(batch) = self.held.remove(&self.next) else {
            return false;
        };
        self.next += 1;
        let _ = self.tokens.try_recv();
        self.current = batch.into_iter();
        true
    }

    /// A batch came back.
    fn push(&mut self, (seq, results): Batch<R>) {
        if self.ordered {
            self.held.insert(seq, results);
        } else {
            // Held keys run on from `next`: as they come is their order.
            let key = self.next + self.held.len() as u64;
            self.held.insert(key, results);
        }
    }
}

/// Starts the feeder of a map of `T` over `inputs` and returns the
/// caller's side and the results channel.
fn start<T, I>(
    pool: &Pool,
    inputs: I,
    ordered: bool,
) -> (Reorder<T::Out>, flume::Receiver<Batch<T::Out>>)
where
    T: Task,
    I: IntoIterator<Item = T::Arg>,
    I::IntoIter: Send + 'static,
{
    let window = pool.workers() * WINDOW_PER_WORKER;
    let (tokens_tx, tokens) = flume::bounded(window);
    let (results_tx, results) = flume::unbounded();
    let stop = Arc::new(AtomicBool::new(false));
    let (pool, feeder_stop, mut inputs) = (pool.clone(), stop.clone(), inputs.into_iter());
    let sizer = Arc::new(Sizer::default());
    // The feeder ends when the input does, or when the caller is gone (a
    // token cannot be sent); it never holds more than one batch.
    std::thread::Builder::new()
        .name("fanout-tasks-feeder".into())
        .spawn(move || {
            let mut seq = 0u64;
            while !feeder_stop.load(Ordering::Relaxed) {
                let size = sizer.next(pool.workers(), inputs.size_hint().0);
                let batch: Vec<T::Arg> = inputs.by_ref().take(size).collect();
                if batch.is_empty() || tokens_tx.send(()).is_err() {
                    break;
                }
                let (tx, sizer) = (results_tx.clone(), sizer.clone());
                pool.run_batch::<T>(batch, feeder_stop.clone(), move |results, took| {
                    sizer.record(results.len(), took);
                    let _ = tx.send((seq, results));
                });
                seq += 1;
            }
        })
        .expect("cannot start the feeder thread of a map");
    let reorder = Reorder {
        ordered,
        next: 0,
        held: BTreeMap::new(),
        current: outcomes::Iter::default(),
        tokens,
        stop,
    };
    (reorder, results)
}

/// The results of `map` (in input order) or `map_unordered` (as they
/// finish), one `Result` per input; blocking.
pub struct Map<R> {
    reorder: Reorder<R>,
    results: flume::Receiver<Batch<R>>,
}

impl<R> Map<R> {
    pub(crate) fn new<T, I>(pool: &Pool, inputs: I, ordered: bool) -> Map<T::Out>
    where
        T: Task<Out = R>,
        I: IntoIterator<Item = T::Arg>,
        I::IntoIter: Send + 'static,
    {
        let (reorder, results) = start::<T, I>(pool, inputs, ordered);
        Map { reorder, results }
    }

    /// Stops the map: no more input is read, queued batches are not run
    /// (their tasks come back as [`TaskError::Cancelled`]).
    pub fn cancel(&self) {
        self.reorder.stop.store(true, Ordering::Relaxed);
    }
}

impl<R> Iterator for Map<R> {
    type Item = Result<R, TaskError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(r) = self.reorder.pop() {
                return Some(r);
            }
            // Disconnected: the feeder is done and every batch is back.
            let batch = self.results.recv().ok()?;
            self.reorder.push(batch);
        }
    }

    /// A whole batch at a time: `sum`, `collect` and `for_each` over tiny
    /// tasks run a tight loop over a batch's values, not one `next` each.
    fn fold<B, F>(mut self, init: B, mut f: F) -> B
    where
        F: FnMut(B, Self::Item) -> B,
    {
        let mut acc = init;
        loop {
            acc = std::mem::take(&mut self.reorder.current).fold(acc, &mut f);
            if self.reorder.advance() {
                continue;
            }
            match self.results.recv() {
                Ok(batch) => self.reorder.push(batch),
                Err(_) => return acc,
            }
        }
    }
}

impl<R> Drop for Map<R> {
    fn drop(&mut self) {
        self.cancel();
    }
}

/// The async form of [`Map`]: a `Stream` of the results, to `.next().await`
/// inside any runtime.
pub struct MapStream<R: 'static> {
    reorder: Reorder<R>,
    results: Pin<Box<flume::r#async::RecvStream<'static, Batch<R>>>>,
}

impl<R> MapStream<R> {
    pub(crate) fn new<T, I>(pool: &Pool, inputs: I, ordered: bool) -> MapStream<T::Out>
    where
        T: Task<Out = R>,
        I: IntoIterator<Item = T::Arg>,
        I::IntoIter: Send + 'static,
    {
        let (reorder, results) = start::<T, I>(pool, inputs, ordered);
        MapStream {
            reorder,
            results: Box::pin(results.into_stream()),
        }
    }

    /// As [`Map::cancel`].
    pub fn cancel(&self) {
        self.reorder.stop.store(true, Ordering::Relaxed);
    }
}

// The results are only ever moved whole, in boxes and vectors: nothing of
// `R` is pinned.
impl<R> Unpin for MapStream<R> {}

impl<R> futures_core::Stream for MapStream<R> {
    type Item = Result<R, TaskError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        loop {
            if let Some(r) = this.reorder.pop() {
                return Poll::Ready(Some(r));
            }
            match this.results.as_mut().poll_next(cx) {
                Poll::Ready(Some(batch)) => this.reorder.push(batch),
                Poll::Ready(None) => return Poll::Ready(None),
                Poll::Pending => return Poll::Pending,
            }
        }
    }
}

impl<R> Drop for MapStream<R> {
    fn drop(&mut self) {
        self.cancel();
    }
}
