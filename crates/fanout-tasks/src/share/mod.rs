//! What tasks share across the pool's processes: [`Shared`] values in
//! shared memory, a [`Lock`], a [`Semaphore`] and a [`Condition`] that a
//! dying holder releases, and [`Queue`] / [`Pipe`] between processes.
//!
//! Each is one fd: a memfd mapped in every process, or a socket pair. This
//! module owns the table of those fds. A process pool's children inherit
//! every fd in it when they start (at the same number, so a handle
//! serialised into a task's argument names the same object on both
//! sides); a handle created after a child started is not in that child,
//! and decoding it there fails with [`ShareError::NotInherited`].

use std::any::Any;
use std::collections::HashMap;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::{Arc, Mutex, Weak};

mod lock;
mod queue;
mod region;
mod shared;

pub use lock::{Condition, Lock, LockGuard, Permit, Semaphore};
pub use queue::{Pipe, Queue};
pub use shared::{Plain, Shared};

/// Why a shared object could not be made or used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ShareError {
    /// The system call behind it failed.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: &'static str,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// A handle names an fd this process did not inherit: the object was
    /// made after the pool's child started.
    #[error("shared object fd {fd} is not in this process (make it before the pool starts)")]
    NotInherited {
        /// The fd the handle names.
        fd: RawFd,
    },
    /// An item would not encode or decode.
    #[error("cannot encode or decode a queued item: {0}")]
    Codec(String),
    /// An item is larger than the queue's largest message.
    #[error("item of {len} bytes is over the queue's {max}-byte limit")]
    TooLarge {
        /// The encoded item's size.
        len: usize,
        /// The queue's limit.
        max: usize,
    },
}

thread_local! {
    /// Why the last handle failed to decode in this thread: serde formats
    /// such as postcard keep only that a custom error happened.
    static DECODE_ERROR: std::cell::RefCell<Option<String>> = const { std::cell::RefCell::new(None) };
}

/// A decoding error for `e`, remembered for [`take_decode_error`].
pub(crate) fn decode_error<E: serde::de::Error>(e: ShareError) -> E {
    let text = e.to_string();
    DECODE_ERROR.with(|d| *d.borrow_mut() = Some(text.clone()));
    E::custom(text)
}

/// Why a handle in the argument just decoded was refused, if one was.
pub(crate) fn take_decode_error() -> Option<String> {
    DECODE_ERROR.with(|d| d.borrow_mut().take())
}

pub(crate) fn io_err(what: &'static str) -> impl FnOnce(io::Error) -> ShareError {
    move |source| ShareError::Io { what, source }
}

/// The lowest fd a shared object takes, clear of the 3, 4, 5 a child gets
/// its pipes on.
const FIRST_FD: RawFd = 64;

#[derive(Default)]
struct Table {
    /// fd → the object, for decoding a handle in the process that has it.
    live: HashMap<RawFd, Weak<dyn Any + Send + Sync>>,
    /// Objects a child decoded: kept for the child's whole life.
    kept: Vec<Arc<dyn Any + Send + Sync>>,
}

static TABLE: Mutex<Option<Table>> = Mutex::new(None);

fn with_table<R>(f: impl FnOnce(&mut Table) -> R) -> R {
    let mut t = TABLE.lock().unwrap_or_else(|p| p.into_inner());
    f(t.get_or_insert_with(Table::default))
}

/// The fds a child about to start must inherit.
pub(crate) fn passed_fds() -> Vec<RawFd> {
    with_table(|t| t.live.keys().copied().collect())
}

/// Moves `fd` to a number at or above [`FIRST_FD`] (close-on-exec: only a
/// pool's children get it, and they by name).
pub(crate) fn high(fd: OwnedFd) -> Result<OwnedFd, ShareError> {
    // SAFETY: fcntl on an fd we own.
    let n = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_DUPFD_CLOEXEC, FIRST_FD) };
    if n < 0 {
        return Err(io_err("cannot move a shared fd")(io::Error::last_os_error()));
    }
    // SAFETY: fcntl just made `n`, and nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(n) })
}

/// Records a new object under its fds.
pub(crate) fn register<T: Any + Send + Sync>(fds: &[RawFd], obj: &Arc<T>) {
    let weak: Weak<dyn Any + Send + Sync> = Arc::downgrade(obj) as _;
    with_table(|t| {
        for fd in fds {
            t.live.insert(*fd, weak.clone());
        }
    });
}

/// Forgets an object being dropped.
pub(crate) fn unregister(fds: &[RawFd]) {
    with_table(|t| {
        for fd in fds {
            t.live.remove(fd);
        }
    });
}

/// The object behind `fd`, made with `open` (and kept) the first time a
/// child decodes it. `kind` is what `/proc/self/fd/N` must name, so a
/// stale handle never reads some other fd.
pub(crate) fn find_or_open<T: Any + Send + Sync>(
    fd: RawFd,
    kind: &str,
    open: impl FnOnce() -> Result<Arc<T>, ShareError>,
) -> Result<Arc<T>, ShareError> {
    let found = with_table(|t| t.live.get(&fd).and_then(Weak::upgrade));
    if let Some(obj) = found {
        return obj
            .downcast::<T>()
            .map_err(|_| ShareError::NotInherited { fd });
    }
    let target = std::fs::read_link(format!("/proc/self/fd/{fd}"))
        .map_err(|_| ShareError::NotInherited { fd })?;
    if !target.to_string_lossy().starts_with(kind) {
        return Err(ShareError::NotInherited { fd });
    }
    let obj = open()?;
    let any: Arc<dyn Any + Send + Sync> = obj.clone();
    with_table(|t| {
        t.live.insert(fd, Arc::downgrade(&any));
        t.kept.push(any);
    });
    Ok(obj)
}
