//! [`Lock`], [`Semaphore`] and [`Condition`] in shared memory, for the
//! threads and the child processes of pools alike. The lock and the
//! semaphore's slots are robust process-shared pthread mutexes: when a
//! holder dies (a panic unwinds its guard; `kill -9` makes the kernel mark
//! the mutex), the next taker gets it and [`LockGuard::recovered`] says so.
//! Waiting uses a shared futex word.

use std::marker::PhantomData;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::region::Region;
use super::{io_err, ShareError};

const MUTEX: usize = std::mem::size_of::<libc::pthread_mutex_t>();
/// The semaphore's futex word sits in a cache line of its own.
const HEADER: usize = 64;
/// How often a waiting taker looks again for a slot freed by a death
/// (which wakes nobody).
const DEATH_POLL: Duration = Duration::from_millis(20);

fn init_mutex(m: *mut libc::pthread_mutex_t) -> Result<(), ShareError> {
    // SAFETY: `m` is zeroed shared memory of MUTEX bytes, initialised once
    // here before any other process can see it; attr lives on our stack.
    let rc = unsafe {
        let mut attr: libc::pthread_mutexattr_t = std::mem::zeroed();
        libc::pthread_mutexattr_init(&mut attr);
        libc::pthread_mutexattr_setpshared(&mut attr, libc::PTHREAD_PROCESS_SHARED);
        libc::pthread_mutexattr_setrobust(&mut attr, libc::PTHREAD_MUTEX_ROBUST);
        let rc = libc::pthread_mutex_init(m, &attr);
        libc::pthread_mutexattr_destroy(&mut attr);
        rc
    };
    match rc {
        0 => Ok(()),
        e => Err(io_err("cannot make a lock")(
            std::io::Error::from_raw_os_error(e),
        )),
    }
}

/// Takes `m` (blocking or not); `Some(recovered)` when taken.
fn take(m: *mut libc::pthread_mutex_t, block: bool) -> Option<bool> {
    // SAFETY: `m` is an initialised robust mutex in a live mapping.
    let rc = unsafe {
        if block {
            libc::pthread_mutex_lock(m)
        } else {
            libc::pthread_mutex_trylock(m)
        }
    };
    match rc {
        0 => Some(false),
        libc::EOWNERDEAD => {
            // SAFETY: we hold it now; what it guards is the caller's to check.
            unsafe { libc::pthread_mutex_consistent(m) };
            Some(true)
        }
        libc::EBUSY if !block => None,
        e => panic!(
            "shared lock unusable: {}",
            std::io::Error::from_raw_os_error(e)
        ),
    }
}

fn futex_wait(word: &AtomicU32, seen: u32, timeout: Option<Duration>) {
    let ts = timeout.map(|t| libc::timespec {
        tv_sec: t.as_secs() as libc::time_t,
        tv_nsec: t.subsec_nanos() as libc::c_long,
    });
    let tp = ts.as_ref().map_or(std::ptr::null(), |t| t as *const _);
    // SAFETY: FUTEX_WAIT on a live shared word; returns on a change, a
    // wake, a signal or the timeout, all of which callers re-check.
    unsafe { libc::syscall(libc::SYS_futex, word.as_ptr(), libc::FUTEX_WAIT, seen, tp) };
}

fn futex_wake(word: &AtomicU32, n: i32) {
    // SAFETY: FUTEX_WAKE on a live shared word.
    unsafe { libc::syscall(libc::SYS_futex, word.as_ptr(), libc::FUTEX_WAKE, n) };
}

macro_rules! region_handle {
    ($t:ident, $len:expr) => {
        impl Clone for $t {
            fn clone(&self) -> Self {
                $t {
                    region: self.region.clone(),
                    ..*self
                }
            }
        }
        impl std::fmt::Debug for $t {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_struct(stringify!($t))
                    .field("fd", &self.region.fd())
                    .finish()
            }
        }
        impl Serialize for $t {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                (self.region.fd(), self.slots() as u64).serialize(s)
            }
        }
        impl<'de> Deserialize<'de> for $t {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let (fd, slots) = <(i32, u64)>::deserialize(d)?;
                let slots = usize::try_from(slots).map_err(serde::de::Error::custom)?;
                let len: fn(usize) -> usize = $len;
                let region = Region::open(fd, len(slots)).map_err(super::decode_error)?;
                Ok($t { region, n: slots })
            }
        }
    };
}

/// A mutual-exclusion lock across threads and processes: Python's
/// `multiprocessing.Lock`. Released when the guard drops — or when its
/// holder dies.
pub struct Lock {
    region: Arc<Region>,
    n: usize,
}
region_handle!(Lock, |_| MUTEX);

impl Lock {
    /// A new, free lock.
    pub fn new() -> Result<Lock, ShareError> {
        let region = Region::create(MUTEX)?;
        init_mutex(region.ptr().as_ptr().cast())?;
        Ok(Lock { region, n: 1 })
    }

    fn slots(&self) -> usize {
        self.n
    }

    fn raw(&self) -> *mut libc::pthread_mutex_t {
        self.region.ptr().as_ptr().cast()
    }

    /// Waits for the lock.
    pub fn lock(&self) -> LockGuard<'_> {
        let recovered = take(self.raw(), true).unwrap_or(false);
        LockGuard {
            lock: self,
            recovered,
            _not_send: PhantomData,
        }
    }

    /// Takes the lock if it is free.
    pub fn try_lock(&self) -> Option<LockGuard<'_>> {
        take(self.raw(), false).map(|recovered| LockGuard {
            lock: self,
            recovered,
            _not_send: PhantomData,
        })
    }
}

/// The lock, held; dropping it releases the lock.
pub struct LockGuard<'a> {
    lock: &'a Lock,
    recovered: bool,
    /// A pthread mutex is released by the thread that took it.
    _not_send: PhantomData<*const ()>,
}

impl LockGuard<'_> {
    /// True when the previous holder died holding the lock: what it
    /// guarded may be half-changed.
    pub fn recovered(&self) -> bool {
        self.recovered
    }
}

impl Drop for LockGuard<'_> {
    fn drop(&mut self) {
        // SAFETY: this thread holds the mutex.
        unsafe { libc::pthread_mutex_unlock(self.lock.raw()) };
    }
}

/// A counting semaphore across threads and processes: at most `n` holders
/// at once, and a holder that dies gives its permit back.
pub struct Semaphore {
    region: Arc<Region>,
    n: usize,
}
region_handle!(Semaphore, |n| HEADER + n * MUTEX);

impl Semaphore {
    /// A semaphore with `n` permits (at least one).
    pub fn new(n: usize) -> Result<Semaphore, ShareError> {
        let n = n.max(1);
        let region = Region::create(HEADER + n * MUTEX)?;
        let s = Semaphore { region, n };
        for i in 0..n {
            init_mutex(s.slot(i))?;
        }
        Ok(s)
    }

    fn slots(&self) -> usize {
        self.n
    }

    fn word(&self) -> &AtomicU32 {
        // SAFETY: the header's first 4 bytes, aligned, only used atomically.
        unsafe { self.region.ptr().cast::<AtomicU32>().as_ref() }
    }

    fn slot(&self, i: usize) -> *mut libc::pthread_mutex_t {
        // SAFETY: slot i < n lies inside the region.
        unsafe { self.region.ptr().as_ptr().add(HEADER + i * MUTEX).cast() }
    }

    /// Takes a permit if one is free.
    pub fn try_acquire(&self) -> Option<Permit<'_>> {
        (0..self.n).find_map(|i| {
            take(self.slot(i), false).map(|_| Permit {
                sem: self,
                slot: i,
                _not_send: PhantomData,
            })
        })
    }

    /// Waits for a permit.
    pub fn acquire(&self) -> Permit<'_> {
        loop {
            let seen = self.word().load(Ordering::Acquire);
            if let Some(p) = self.try_acquire() {
                return p;
            }
            futex_wait(self.word(), seen, Some(DEATH_POLL));
        }
    }
}

/// One of a semaphore's permits, held until dropped.
pub struct Permit<'a> {
    sem: &'a Semaphore,
    slot: usize,
    _not_send: PhantomData<*const ()>,
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        // SAFETY: this thread holds the slot's mutex.
        unsafe { libc::pthread_mutex_unlock(self.sem.slot(self.slot)) };
        self.sem.word().fetch_add(1, Ordering::Release);
        futex_wake(self.sem.word(), i32::MAX);
    }
}

/// A condition variable across threads and processes, used with a
/// [`Lock`]: Python's `Condition`. Wake-ups may be spurious; wait in a
/// loop, or with [`Condition::wait_while`].
pub struct Condition {
    region: Arc<Region>,
    n: usize,
}
region_handle!(Condition, |_| 4);

impl Condition {
    /// A new condition.
    pub fn new() -> Result<Condition, ShareError> {
        Ok(Condition {
            region: Region::create(4)?,
            n: 1,
        })
    }

    fn slots(&self) -> usize {
        self.n
    }

    fn word(&self) -> &AtomicU32 {
        // SAFETY: the region's 4 aligned bytes, only used atomically.
        unsafe { self.region.ptr().cast::<AtomicU32>().as_ref() }
    }

    /// Releases the guard's lock, waits for a notification (or `timeout`),
    /// and takes the lock again.
    pub fn wait_timeout<'a>(
        &self,
        guard: LockGuard<'a>,
        timeout: Option<Duration>,
    ) -> LockGuard<'a> {
        let lock = guard.lock;
        let seen = self.word().load(Ordering::Acquire);
        drop(guard);
        futex_wait(self.word(), seen, timeout);
        lock.lock()
    }

    /// Waits for a notification.
    pub fn wait<'a>(&self, guard: LockGuard<'a>) -> LockGuard<'a> {
        self.wait_timeout(guard, None)
    }

    /// Waits while `cond` holds (checked with the lock held).
    pub fn wait_while<'a>(
        &self,
        mut guard: LockGuard<'a>,
        mut cond: impl FnMut() -> bool,
    ) -> LockGuard<'a> {
        while cond() {
            guard = self.wait(guard);
        }
        guard
    }

    /// Wakes one waiter.
    pub fn notify_one(&self) {
        self.word().fetch_add(1, Ordering::Release);
        futex_wake(self.word(), 1);
    }

    /// Wakes every waiter.
    pub fn notify_all(&self) {
        self.word().fetch_add(1, Ordering::Release);
        futex_wake(self.word(), i32::MAX);
    }
}
