//! [`Shared<T>`]: a value in shared memory that the pool's child processes
//! see and change — Python's `multiprocessing.Value` and `Array`.

use std::marker::PhantomData;
use std::sync::Arc;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::region::Region;
use super::ShareError;

/// A type that may live in memory several processes change at once: valid
/// when all zero, no pointers, and changed only through `&self` methods
/// that are atomic (the atomics, and arrays of them).
///
/// # Safety
/// An all-zero bit pattern is a valid value, the type holds no pointer or
/// fd, and every change through `&T` is atomic.
pub unsafe trait Plain: Sync + Send + 'static {}

macro_rules! plain {
    ($($t:ty),*) => { $(
        // SAFETY: atomics are zero-valid, pointer-free and change atomically.
        unsafe impl Plain for $t {}
    )* };
}
use std::sync::atomic::*;
plain!(
    AtomicBool,
    AtomicU8,
    AtomicU16,
    AtomicU32,
    AtomicU64,
    AtomicUsize
);
plain!(AtomicI8, AtomicI16, AtomicI32, AtomicI64, AtomicIsize);
// SAFETY: an array of plain values is plain.
unsafe impl<T: Plain, const N: usize> Plain for [T; N] {}

/// A `T` in shared memory. Cloning, or passing it to a task (in a thread
/// or, encoded, in a child process), gives another handle to the same
/// memory; it lives while any handle in the process that made it does.
///
/// ```
/// use std::sync::atomic::{AtomicU64, Ordering};
/// let hits = fanout_tasks::Shared::<AtomicU64>::new().unwrap();
/// hits.fetch_add(2, Ordering::Relaxed);
/// assert_eq!(hits.load(Ordering::Relaxed), 2);
/// ```
pub struct Shared<T: Plain> {
    region: Arc<Region>,
    _t: PhantomData<T>,
}

impl<T: Plain> Shared<T> {
    /// A new, zeroed `T` (an atomic starting at 0 or false), visible to the
    /// process pools started after this.
    pub fn new() -> Result<Shared<T>, ShareError> {
        Ok(Shared {
            region: Region::create(std::mem::size_of::<T>())?,
            _t: PhantomData,
        })
    }
}

impl<T: Plain> std::ops::Deref for Shared<T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: the region is size_of::<T>() bytes, page-aligned, and a
        // Plain T is valid in any state other processes leave it in.
        unsafe { self.region.ptr().cast::<T>().as_ref() }
    }
}

impl<T: Plain> Clone for Shared<T> {
    fn clone(&self) -> Self {
        Shared {
            region: self.region.clone(),
            _t: PhantomData,
        }
    }
}

impl<T: Plain> std::fmt::Debug for Shared<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared")
            .field("fd", &self.region.fd())
            .finish()
    }
}

impl<T: Plain> Serialize for Shared<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        (self.region.fd(), std::mem::size_of::<T>() as u64).serialize(s)
    }
}

impl<'de, T: Plain> Deserialize<'de> for Shared<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let (fd, len) = <(i32, u64)>::deserialize(d)?;
        let region = Region::open(fd, len as usize).map_err(super::decode_error)?;
        Ok(Shared {
            region,
            _t: PhantomData,
        })
    }
}
