//! A memfd mapped shared and writable: the memory behind [`super::Shared`]
//! and the locks. Zero-filled when made; unmapped and closed when the last
//! handle in the process that made it is gone.

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::ptr::NonNull;
use std::sync::Arc;

use super::{find_or_open, high, io_err, register, unregister, ShareError};

/// What `/proc/self/fd/N` names for a region's memfd.
const KIND: &str = "/memfd:fanout-shared";

/// One mapping of one memfd.
pub(crate) struct Region {
    fd: Option<OwnedFd>,
    raw: RawFd,
    ptr: NonNull<u8>,
    len: usize,
}

// SAFETY: the mapping is plain shared memory; what lives in it is only
// reached through atomics and process-shared pthread objects.
unsafe impl Send for Region {}
// SAFETY: as above.
unsafe impl Sync for Region {}

impl Region {
    /// A new zeroed region of `len` bytes, inherited by children started
    /// from now on.
    pub fn create(len: usize) -> Result<Arc<Region>, ShareError> {
        use rustix::fs::{memfd_create, MemfdFlags};
        let fd = memfd_create("fanout-shared", MemfdFlags::CLOEXEC)
            .map_err(|e| io_err("cannot create shared memory")(e.into()))?;
        let fd = high(fd)?;
        rustix::fs::ftruncate(&fd, len as u64)
            .map_err(|e| io_err("cannot size shared memory")(e.into()))?;
        let ptr = map(fd.as_fd(), len)?;
        let raw = fd.as_raw_fd();
        let region = Arc::new(Region {
            fd: Some(fd),
            raw,
            ptr,
            len,
        });
        register(&[raw], &region);
        Ok(region)
    }

    /// The region behind an inherited (or this process's own) `fd`, which
    /// must be `len` bytes long.
    pub fn open(fd: RawFd, len: usize) -> Result<Arc<Region>, ShareError> {
        let region = find_or_open(fd, KIND, || {
            // SAFETY: find_or_open checked that `fd` is an open memfd of
            // ours; the region never closes it (`fd: None`).
            let borrowed = unsafe { BorrowedFd::borrow_raw(fd) };
            let size = rustix::fs::fstat(borrowed)
                .map_err(|e| io_err("cannot read shared memory")(e.into()))?
                .st_size as usize;
            if size != len {
                return Err(ShareError::NotInherited { fd });
            }
            Ok(Arc::new(Region {
                fd: None,
                raw: fd,
                ptr: map(borrowed, len)?,
                len,
            }))
        })?;
        if region.len != len {
            return Err(ShareError::NotInherited { fd });
        }
        Ok(region)
    }

    /// The memfd's number (the same in every process of the pool).
    pub fn fd(&self) -> RawFd {
        self.raw
    }

    /// The start of the mapping.
    pub fn ptr(&self) -> NonNull<u8> {
        self.ptr
    }
}

fn map(fd: BorrowedFd<'_>, len: usize) -> Result<NonNull<u8>, ShareError> {
    use rustix::mm::{mmap, MapFlags, ProtFlags};
    // SAFETY: a fresh mapping of a memfd at least `len` bytes long.
    let p = unsafe {
        mmap(
            std::ptr::null_mut(),
            len.max(1),
            ProtFlags::READ | ProtFlags::WRITE,
            MapFlags::SHARED,
            fd,
            0,
        )
    }
    .map_err(|e| io_err("cannot map shared memory")(e.into()))?;
    NonNull::new(p.cast()).ok_or(ShareError::NotInherited { fd: fd.as_raw_fd() })
}

impl Drop for Region {
    fn drop(&mut self) {
        if self.fd.is_some() {
            unregister(&[self.raw]);
        }
        // SAFETY: our own mapping, no longer referenced (the last Arc).
        let _ = unsafe { rustix::mm::munmap(self.ptr.as_ptr().cast(), self.len.max(1)) };
    }
}
