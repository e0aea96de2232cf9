//! [`Handle`]: the result of a task submitted now and collected later,
//! by blocking ([`Handle::join`]) or by `.await`.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

use crate::TaskError;

/// Awaiting a result.
type Waiting<R> = Pin<Box<flume::r#async::RecvFut<'static, Result<R, TaskError>>>>;

/// A submitted task's result to come.
pub struct Handle<R: 'static> {
    rx: flume::Receiver<Result<R, TaskError>>,
    waiting: Option<Waiting<R>>,
    cancelled: Arc<AtomicBool>,
}

impl<R> Handle<R> {
    pub(crate) fn new(
        rx: flume::Receiver<Result<R, TaskError>>,
        cancelled: Arc<AtomicBool>,
    ) -> Self {
        Handle {
            rx,
            waiting: None,
            cancelled,
        }
    }

    /// Waits for the result.
    pub fn join(self) -> Result<R, TaskError> {
        self.rx.recv().unwrap_or(Err(TaskError::Cancelled))
    }

    /// The result, if the task has finished.
    pub fn try_join(&self) -> Option<Result<R, TaskError>> {
        self.rx.try_recv().ok()
    }

    /// Cancels the task if it has not started: its result is then
    /// [`TaskError::Cancelled`]. A running task finishes.
    pub fn cancel(&self) {
        self.cancelled.store(true, Ordering::Relaxed);
    }
}

// The result is only moved whole, out of a channel: nothing of `R` is
// pinned.
impl<R> Unpin for Handle<R> {}

impl<R> Future for Handle<R> {
    type Output = Result<R, TaskError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let rx = &this.rx;
        let fut = this
            .waiting
            .get_or_insert_with(|| Box::pin(rx.clone().into_recv_async()));
        fut.as_mut()
            .poll(cx)
            .map(|r| r.unwrap_or(Err(TaskError::Cancelled)))
    }
}
