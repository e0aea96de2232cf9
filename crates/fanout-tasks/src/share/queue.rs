//! [`Queue<T>`] and [`Pipe<T>`] between threads and processes: Python's
//! `multiprocessing.Queue` and `Pipe`. Both are a Unix `SOCK_SEQPACKET`
//! socket pair, so an item is one message that one taker gets whole (a
//! process killed mid-send leaves no half item), and a full socket buffer
//! blocks `put`: the queue is bounded in bytes, with back-pressure.

use std::io;
use std::marker::PhantomData;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::sync::Arc;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::{find_or_open, high, io_err, register, unregister, ShareError};

/// The default bytes in flight.
const CAPACITY: usize = 256 * 1024;

/// A socket pair, owned by the process that made it.
struct Sockets {
    owned: Vec<OwnedFd>,
    raw: [RawFd; 2],
}

impl Sockets {
    fn pair(capacity: usize) -> Result<Arc<Sockets>, ShareError> {
        use rustix::net::{socketpair, sockopt, AddressFamily, SocketFlags, SocketType};
        let (a, b) = socketpair(
            AddressFamily::UNIX,
            SocketType::SEQPACKET,
            SocketFlags::CLOEXEC,
            None,
        )
        .map_err(|e| io_err("cannot create a queue")(e.into()))?;
        let (a, b) = (high(a)?, high(b)?);
        for s in [&a, &b] {
            sockopt::set_socket_send_buffer_size(s, capacity)
                .map_err(|e| io_err("cannot size a queue")(e.into()))?;
        }
        let raw = [a.as_raw_fd(), b.as_raw_fd()];
        let s = Arc::new(Sockets {
            owned: vec![a, b],
            raw,
        });
        register(&raw, &s);
        Ok(s)
    }

    /// The pair behind inherited fds.
    fn open(raw: [RawFd; 2]) -> Result<Arc<Sockets>, ShareError> {
        find_or_open(raw[0], "socket:", || {
            Ok(Arc::new(Sockets {
                owned: Vec::new(),
                raw,
            }))
        })
    }

    fn send(&self, end: usize, bytes: &[u8]) -> Result<(), ShareError> {
        loop {
            // SAFETY: send(2) on a socket this process holds.
            let n = unsafe {
                libc::send(
                    self.raw[end],
                    bytes.as_ptr().cast(),
                    bytes.len(),
                    libc::MSG_NOSIGNAL,
                )
            };
            if n >= 0 {
                return Ok(());
            }
            let e = io::Error::last_os_error();
            if e.kind() != io::ErrorKind::Interrupted {
                return Err(io_err("cannot send to a queue")(e));
            }
        }
    }

    /// One message, or `None` without `block` when there is none.
    fn recv(&self, end: usize, max: usize, block: bool) -> Result<Option<Vec<u8>>, ShareError> {
        let mut buf = vec![0u8; max];
        let flags = if block { 0 } else { libc::MSG_DONTWAIT };
        loop {
            // SAFETY: recv(2) into our own buffer of `max` bytes.
            let n = unsafe { libc::recv(self.raw[end], buf.as_mut_ptr().cast(), max, flags) };
            if n >= 0 {
                buf.truncate(n as usize);
                return Ok(Some(buf));
            }
            let e = io::Error::last_os_error();
            match e.kind() {
                io::ErrorKind::Interrupted => continue,
                io::ErrorKind::WouldBlock if !block => return Ok(None),
                _ => return Err(io_err("cannot receive from a queue")(e)),
            }
        }
    }
}

impl Drop for Sockets {
    fn drop(&mut self) {
        if !self.owned.is_empty() {
            unregister(&self.raw);
        }
    }
}

/// The largest item a queue of `capacity` bytes carries (the kernel
/// refuses a message near the whole buffer).
fn max_item(capacity: usize) -> usize {
    (capacity / 2).max(1024)
}

fn encode<T: Serialize>(item: &T, max: usize) -> Result<Vec<u8>, ShareError> {
    let bytes = postcard::to_allocvec(item).map_err(|e| ShareError::Codec(e.to_string()))?;
    if bytes.len() > max {
        return Err(ShareError::TooLarge {
            len: bytes.len(),
            max,
        });
    }
    Ok(bytes)
}

fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ShareError> {
    postcard::from_bytes(bytes).map_err(|e| ShareError::Codec(e.to_string()))
}

/// A queue any thread or process of the pool puts to and takes from; each
/// item goes to one taker, in the order put.
pub struct Queue<T> {
    socks: Arc<Sockets>,
    max: usize,
    _t: PhantomData<fn(T) -> T>,
}

impl<T: Serialize + DeserializeOwned> Queue<T> {
    /// A queue holding up to 256 KiB of encoded items.
    pub fn new() -> Result<Queue<T>, ShareError> {
        Queue::with_capacity(CAPACITY)
    }

    /// A queue holding about `bytes` of encoded items; `put` waits while
    /// it is full.
    pub fn with_capacity(bytes: usize) -> Result<Queue<T>, ShareError> {
        Ok(Queue {
            socks: Sockets::pair(bytes)?,
            max: max_item(bytes),
            _t: PhantomData,
        })
    }

    /// Adds an item, waiting for room.
    pub fn put(&self, item: &T) -> Result<(), ShareError> {
        self.socks.send(0, &encode(item, self.max)?)
    }

    /// Takes the next item, waiting for one.
    pub fn get(&self) -> Result<T, ShareError> {
        let bytes = self.socks.recv(1, self.max, true)?.unwrap_or_default();
        decode(&bytes)
    }

    /// Takes the next item if there is one.
    pub fn try_get(&self) -> Result<Option<T>, ShareError> {
        match self.socks.recv(1, self.max, false)? {
            Some(bytes) => decode(&bytes).map(Some),
            None => Ok(None),
        }
    }
}

/// One end of a two-way pipe: what one end sends, the other receives.
pub struct Pipe<T> {
    socks: Arc<Sockets>,
    end: usize,
    max: usize,
    _t: PhantomData<fn(T) -> T>,
}

impl<T: Serialize + DeserializeOwned> Pipe<T> {
    /// The two ends of a new pipe.
    pub fn new() -> Result<(Pipe<T>, Pipe<T>), ShareError> {
        let socks = Sockets::pair(CAPACITY)?;
        let end = |end| Pipe {
            socks: socks.clone(),
            end,
            max: max_item(CAPACITY),
            _t: PhantomData,
        };
        Ok((end(0), end(1)))
    }

    /// Sends an item to the other end.
    pub fn send(&self, item: &T) -> Result<(), ShareError> {
        self.socks.send(self.end, &encode(item, self.max)?)
    }

    /// Receives the next item the other end sent, waiting for it.
    pub fn recv(&self) -> Result<T, ShareError> {
        let bytes = self
            .socks
            .recv(self.end, self.max, true)?
            .unwrap_or_default();
        decode(&bytes)
    }
}

macro_rules! socket_handle {
    ($t:ident, $($field:ident),*) => {
        impl<T> Clone for $t<T> {
            fn clone(&self) -> Self {
                $t { socks: self.socks.clone(), $($field: self.$field,)* _t: PhantomData }
            }
        }
        impl<T> std::fmt::Debug for $t<T> {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_struct(stringify!($t)).field("fds", &self.socks.raw).finish()
            }
        }
        impl<T> Serialize for $t<T> {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                (self.socks.raw, $(self.$field as u64),*).serialize(s)
            }
        }
        impl<'de, T> Deserialize<'de> for $t<T> {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let (raw, $($field),*) = <([RawFd; 2], $(socket_handle!(@u64 $field)),*)>::deserialize(d)?;
                let socks = Sockets::open(raw).map_err(super::decode_error)?;
                Ok($t { socks, $($field: $field as usize,)* _t: PhantomData })
            }
        }
    };
    (@u64 $f:ident) => { u64 };
}
socket_handle!(Queue, max);
socket_handle!(Pipe, end, max);
