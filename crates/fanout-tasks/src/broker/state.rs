//! A distributed [`Counter`] and [`DistributedLock`] on the broker, for
//! processes on any host: each is one subject of stream `FTASKS_STATE`
//! (its last message is the value), changed only by a publish that names
//! the subject's last sequence (`Nats-Expected-Last-Subject-Sequence`), so
//! two writers that read the same value cannot both win: the loser reads
//! again and retries. A lock is held for a lease its holder renews; a
//! holder that dies stops renewing, and the lock is free when the lease
//! runs out.

use std::future::Future;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_nats::jetstream::context::PublishErrorKind;
use async_nats::jetstream::stream::{Config, LastRawMessageErrorKind, Stream};
use async_nats::jetstream::{self, Context};
use serde::{Deserialize, Serialize};

use super::protocol::{self, valid_run};
use crate::PoolError;

const STREAM: &str = "FTASKS_STATE";
/// How long a lock is held without renewal.
const LOCK_LEASE: Duration = Duration::from_secs(10);
/// How often a waiting taker looks again.
const RETRY: Duration = Duration::from_millis(20);

/// Why a broker state operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StateError {
    /// The broker did not answer or refused.
    #[error("broker: {0}")]
    Broker(String),
    /// The stored value is not one of ours.
    #[error("the stored value of {0} is not a fanout-tasks value")]
    Corrupt(String),
}

/// A connection to the broker's state stream, on a runtime of its own so
/// that blocking and async callers can share it.
struct Remote {
    rt: tokio::runtime::Runtime,
    js: Context,
    stream: Stream,
    subject: String,
}

impl Remote {
    fn connect(url: &str, kind: &str, name: &str) -> Result<Remote, PoolError> {
        let fail = |message: String| PoolError::Broker {
            url: url.to_owned(),
            message,
        };
        if !valid_run(name) {
            return Err(fail(format!(
                "name {name:?} is not letters, digits, - and _"
            )));
        }
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .map_err(PoolError::Spawn)?;
        let url2 = url.to_owned();
        let (js, stream) = rt
            .block_on(async move {
                let client = async_nats::connect(&url2)
                    .await
                    .map_err(|e| e.to_string())?;
                let js = jetstream::new(client);
                let config = Config {
                    name: STREAM.into(),
                    subjects: vec!["ftasks.state.>".into()],
                    max_messages_per_subject: 1,
                    ..Default::default()
                };
                let stream = protocol::stream(&js, config).await?;
                Ok::<_, String>((js, stream))
            })
            .map_err(fail)?;
        Ok(Remote {
            rt,
            js,
            stream,
            subject: format!("ftasks.state.{kind}.{name}"),
        })
    }

    /// The subject's last value and sequence (empty and 0 when none).
    async fn read(stream: &Stream, subject: &str) -> Result<(Vec<u8>, u64), StateError> {
        match stream.get_last_raw_message_by_subject(subject).await {
            Ok(m) => Ok((m.payload.to_vec(), m.sequence)),
            Err(e) if e.kind() == LastRawMessageErrorKind::NoMessageFound => Ok((Vec::new(), 0)),
            Err(e) => Err(StateError::Broker(e.to_string())),
        }
    }

    /// Writes `value` if the subject's last sequence is still `seen`:
    /// false when another writer came first.
    async fn write(
        js: &Context,
        subject: &str,
        value: Vec<u8>,
        seen: u64,
    ) -> Result<bool, StateError> {
        let mut headers = async_nats::HeaderMap::new();
        headers.insert(
            "Nats-Expected-Last-Subject-Sequence",
            seen.to_string().as_str(),
        );
        let ack = js
            .publish_with_headers(subject.to_owned(), headers, value.into())
            .await
            .map_err(|e| StateError::Broker(e.to_string()))?;
        match ack.await {
            Ok(_) => Ok(true),
            Err(e) if e.kind() == PublishErrorKind::WrongLastSequence => Ok(false),
            Err(e) => Err(StateError::Broker(e.to_string())),
        }
    }

    /// Runs `f` on the connection's runtime and waits for it, from async
    /// code (any runtime) or, with `block`, from plain code.
    fn spawn<F, R>(
        &self,
        f: impl FnOnce(Context, Stream, String) -> F,
    ) -> tokio::task::JoinHandle<R>
    where
        F: Future<Output = R> + Send + 'static,
        R: Send + 'static,
    {
        self.rt.spawn(f(
            self.js.clone(),
            self.stream.clone(),
            self.subject.clone(),
        ))
    }

    fn block<R>(&self, h: tokio::task::JoinHandle<Result<R, StateError>>) -> Result<R, StateError> {
        self.rt
            .block_on(h)
            .map_err(|e| StateError::Broker(e.to_string()))?
    }
}

async fn joined<R>(h: tokio::task::JoinHandle<Result<R, StateError>>) -> Result<R, StateError> {
    h.await.map_err(|e| StateError::Broker(e.to_string()))?
}

/// A counter on the broker, shared by every process that opens its name.
pub struct Counter {
    remote: Remote,
}

impl Counter {
    /// Connects to the counter `name` (0 until first changed). Call from
    /// plain code, not from inside an async runtime.
    pub fn open(url: &str, name: &str) -> Result<Counter, PoolError> {
        Ok(Counter {
            remote: Remote::connect(url, "counter", name)?,
        })
    }

    fn add_task(&self, n: i64) -> tokio::task::JoinHandle<Result<i64, StateError>> {
        self.remote.spawn(move |js, stream, subject| async move {
            loop {
                let (bytes, seq) = Remote::read(&stream, &subject).await?;
                let now = decode_i64(&bytes, &subject)?;
                let next = now.wrapping_add(n);
                if Remote::write(&js, &subject, next.to_le_bytes().to_vec(), seq).await? {
                    return Ok(next);
                }
            }
        })
    }

    /// Adds `n` atomically; the new value.
    pub fn add(&self, n: i64) -> Result<i64, StateError> {
        self.remote.block(self.add_task(n))
    }

    /// [`Counter::add`] from async code.
    pub async fn add_async(&self, n: i64) -> Result<i64, StateError> {
        joined(self.add_task(n)).await
    }

    /// The current value.
    pub fn get(&self) -> Result<i64, StateError> {
        self.add(0)
    }
}

fn decode_i64(bytes: &[u8], subject: &str) -> Result<i64, StateError> {
    match bytes.len() {
        0 => Ok(0),
        8 => Ok(i64::from_le_bytes(bytes.try_into().expect("8 bytes"))),
        _ => Err(StateError::Corrupt(subject.to_owned())),
    }
}

/// Who holds a lock, until when (milliseconds since the epoch).
#[derive(Serialize, Deserialize)]
struct Held {
    holder: String,
    until_ms: u64,
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// A lock on the broker: one holder at a time among every process on any
/// host that opens its name. Released by [`DistributedLock::unlock`], or,
/// if its holder dies, when its lease (10 s, renewed while held through
/// [`DistributedLock::renew`]) runs out.
pub struct DistributedLock {
    remote: Remote,
    me: String,
    lease: Duration,
}

impl DistributedLock {
    /// Connects to the lock `name`. Call from plain code.
    pub fn open(url: &str, name: &str) -> Result<DistributedLock, PoolError> {
        DistributedLock::with_lease(url, name, LOCK_LEASE)
    }

    /// As [`DistributedLock::open`], the lock held for `lease` between
    /// renewals (every process that opens the name should use the same).
    pub fn with_lease(
        url: &str,
        name: &str,
        lease: Duration,
    ) -> Result<DistributedLock, PoolError> {
        let mut id = [0u8; 8];
        let _ = getrandom::getrandom(&mut id);
        Ok(DistributedLock {
            remote: Remote::connect(url, "lock", name)?,
            me: format!("{}-{:x}", std::process::id(), u64::from_le_bytes(id)),
            lease,
        })
    }

    fn change(&self, take: bool) -> tokio::task::JoinHandle<Result<bool, StateError>> {
        let (me, lease) = (self.me.clone(), self.lease);
        self.remote.spawn(move |js, stream, subject| async move {
            let (bytes, seq) = Remote::read(&stream, &subject).await?;
            let held: Option<Held> = postcard::from_bytes(&bytes)
                .ok()
                .filter(|h: &Held| h.until_ms > now_ms());
            let mine = held.as_ref().is_some_and(|h| h.holder == me);
            if take && held.is_some() && !mine {
                return Ok(false);
            }
            if !take && !mine {
                return Ok(true);
            }
            let value = if take {
                let until_ms = now_ms() + lease.as_millis() as u64;
                postcard::to_allocvec(&Held {
                    holder: me,
                    until_ms,
                })
                .expect("encodes")
            } else {
                Vec::new()
            };
            Remote::write(&js, &subject, value, seq).await
        })
    }

    /// Takes the lock if it is free (or its holder's lease ran out).
    pub fn try_lock(&self) -> Result<bool, StateError> {
        self.remote.block(self.change(true))
    }

    /// Waits for the lock.
    pub fn lock(&self) -> Result<(), StateError> {
        while !self.try_lock()? {
            std::thread::sleep(RETRY);
        }
        Ok(())
    }

    /// [`DistributedLock::lock`] from async code.
    pub async fn lock_async(&self) -> Result<(), StateError> {
        while !joined(self.change(true)).await? {
            tokio::time::sleep(RETRY).await;
        }
        Ok(())
    }

    /// Extends the holder's lease by another lease (for long critical
    /// sections); false if the lock is not ours any more.
    pub fn renew(&self) -> Result<bool, StateError> {
        self.try_lock()
    }

    /// Releases the lock if this process holds it.
    pub fn unlock(&self) -> Result<(), StateError> {
        while !self.remote.block(self.change(false))? {}
        Ok(())
    }
}
