//! What the dashboard shows live: counts, the rate over time, what each
//! slot runs now and the latest failures — all bounded, whatever the
//! number of jobs — and the observer that keeps it and hands each finished
//! job's record to the store.

use std::collections::{BTreeMap, VecDeque};
use std::io;
use std::sync::{Arc, Mutex};
use std::time::{Instant, UNIX_EPOCH};

use fanout_core::{Event, ExitKind, JobResult, Observer};
use serde::Serialize;

use super::store::{Record, Stored, OUTPUT_CAP};

/// Seconds of throughput kept for the chart.
const HISTORY_SECS: usize = 600;
/// Failures kept for the failures panel (the store has them all).
const FAILURES: usize = 50;
/// Bytes of a failure's stderr the panel shows.
const TAIL: usize = 2048;
/// Characters of a command line the slots panel shows.
const COMMAND_CHARS: usize = 300;

/// The live state, shared by the observer and the web server.
#[derive(Debug, Serialize)]
pub struct Live {
    /// Jobs in the run, when known.
    pub total: Option<u64>,
    /// Read from the input, not started.
    pub queued: u64,
    /// Running now.
    pub running: u64,
    /// Finished with exit status 0.
    pub done: u64,
    /// Finished otherwise.
    pub failed: u64,
    /// A broker run: jobs published and not answered yet (queued or
    /// running on workers; the broker does not tell which).
    pub in_flight: Option<u64>,
    /// A broker run: what its coordinator says, or that none answers.
    pub state: Option<String>,
    /// Ran again after a failure.
    pub retried: u64,
    /// Seconds since the run started.
    pub elapsed: f64,
    /// Jobs finished a second over the last ten seconds.
    pub rate: f64,
    /// Seconds left at that rate, when the total is known.
    pub eta: Option<f64>,
    /// Jobs finished in each of the last seconds, oldest first.
    pub throughput: VecDeque<u64>,
    /// What each slot runs now.
    pub slots: BTreeMap<u32, Running>,
    /// The latest failures, newest last.
    pub failures: VecDeque<Failure>,
    /// True once the run has ended.
    pub finished: bool,
    /// The command template and options of the run.
    pub command: String,
    /// This machine's name (slots are its slots).
    pub host: String,
    #[serde(skip)]
    start: Instant,
    /// The whole second `throughput`'s last entry counts.
    #[serde(skip)]
    second: u64,
    /// Bumped on every change; the event stream sends only changes.
    #[serde(skip)]
    pub version: u64,
}

/// A job running in a slot.
#[derive(Debug, Clone, Serialize)]
pub struct Running {
    /// The job.
    pub seq: u64,
    /// Its command line, cut short.
    pub command: String,
    /// Seconds since the run started, when it started.
    pub since: f64,
}

/// A failed job, for the failures panel.
#[derive(Debug, Clone, Serialize)]
pub struct Failure {
    /// The job.
    pub seq: u64,
    /// Its command line, cut short.
    pub command: String,
    /// Its exit status.
    pub exit: i32,
    /// The end of its standard error.
    pub stderr_tail: String,
}

impl Live {
    /// The state of a run of `total` jobs that starts now.
    pub fn new(total: Option<u64>, command: String) -> Live {
        Live {
            total,
            queued: 0,
            running: 0,
            done: 0,
            failed: 0,
            in_flight: None,
            state: None,
            retried: 0,
            elapsed: 0.0,
            rate: 0.0,
            eta: None,
            throughput: VecDeque::from([0]),
            slots: BTreeMap::new(),
            failures: VecDeque::new(),
            finished: false,
            command,
            host: host_name(),
            start: Instant::now(),
            second: 0,
            version: 0,
        }
    }

    /// Brings the clock-driven figures (elapsed, rate, ETA, the chart's
    /// seconds) up to now.
    pub fn tick(&mut self) {
        let elapsed = self.start.elapsed();
        self.elapsed = elapsed.as_secs_f64();
        let now = elapsed.as_secs();
        while self.second < now {
            self.second += 1;
            self.throughput.push_back(0);
            if self.throughput.len() > HISTORY_SECS {
                self.throughput.pop_front();
            }
        }
        let recent: u64 = self.throughput.iter().rev().take(10).sum();
        let window = self.elapsed.clamp(0.001, 10.0);
        self.rate = recent as f64 / window;
        self.eta = self.total.filter(|_| self.rate > 0.0).map(|t| {
            let left = t.saturating_sub(self.done + self.failed);
            left as f64 / self.rate
        });
    }

    fn finished_one(&mut self, r: &JobResult) {
        self.running = self.running.saturating_sub(1);
        if self.slots.get(&r.slot.0).is_some_and(|s| s.seq == r.seq.0) {
            self.slots.remove(&r.slot.0);
        }
        let failure = (!r.exit.success()).then(|| {
            let mut stderr = Vec::new();
            let _ = r.stderr.for_each_chunk(|c| {
                stderr.extend_from_slice(c);
                let cut = stderr.len().saturating_sub(TAIL);
                stderr.drain(..cut);
                Ok(())
            });
            Failure {
                seq: r.seq.0,
                command: cut(&r.command),
                exit: r.exit.code(),
                stderr_tail: String::from_utf8_lossy(&stderr).into_owned(),
            }
        });
        self.count(failure);
    }

    /// A job of a broker run finished (its first result in the store).
    pub fn finished_record(&mut self, r: &Record) {
        let failure = (!r.ok).then(|| {
            let at = r.stderr.len().saturating_sub(TAIL);
            let at = (at..=r.stderr.len()).find(|&i| r.stderr.is_char_boundary(i));
            Failure {
                seq: r.seq,
                command: cut(r.command.as_bytes()),
                exit: r.exit,
                stderr_tail: r.stderr[at.unwrap_or(0)..].to_owned(),
            }
        });
        self.count(failure);
        self.version += 1;
    }

    /// Counts a finished job, failed with `failure` or not.
    fn count(&mut self, failure: Option<Failure>) {
        self.tick();
        *self.throughput.back_mut().expect("never empty") += 1;
        match failure {
            None => self.done += 1,
            Some(f) => {
                self.failed += 1;
                self.failures.push_back(f);
                if self.failures.len() > FAILURES {
                    self.failures.pop_front();
                }
            }
        }
    }
}

/// Keeps [`Live`] and sends each finished job to the store.
pub struct Watcher {
    live: Arc<Mutex<Live>>,
    run: Arc<str>,
    records: Option<flume::Sender<Stored>>,
}

impl Watcher {
    /// A watcher of `live` that stores run `run`'s records through
    /// `records`.
    pub fn new(live: Arc<Mutex<Live>>, run: Arc<str>, records: flume::Sender<Stored>) -> Watcher {
        Watcher {
            live,
            run,
            records: Some(records),
        }
    }

    fn live(&self) -> std::sync::MutexGuard<'_, Live> {
        self.live.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Observer for Watcher {
    fn observe(&mut self, event: &mut Event<'_>) -> io::Result<()> {
        match event {
            Event::Queued { .. } => self.live().queued += 1,
            Event::Started {
                seq, slot, command, ..
            } => {
                let mut l = self.live();
                l.queued = l.queued.saturating_sub(1);
                l.running += 1;
                let since = l.start.elapsed().as_secs_f64();
                l.slots.insert(
                    slot.0,
                    Running {
                        seq: seq.0,
                        command: cut(command),
                        since,
                    },
                );
            }
            Event::Finished(r) => {
                let record = record(r);
                self.live().finished_one(r);
                // Bounded: a store that falls behind holds the run back
                // rather than fill memory.
                if let Some(tx) = &self.records {
                    let _ = tx.send((self.run.clone(), record));
                }
            }
            Event::Retried(r) => {
                let mut l = self.live();
                l.running = l.running.saturating_sub(1);
                l.retried += 1;
                if l.slots.get(&r.slot.0).is_some_and(|s| s.seq == r.seq.0) {
                    l.slots.remove(&r.slot.0);
                }
            }
            _ => return Ok(()),
        }
        self.live().version += 1;
        Ok(())
    }

    fn finish(&mut self) -> io::Result<()> {
        self.records = None;
        let mut l = self.live();
        l.tick();
        l.finished = true;
        l.slots.clear();
        l.running = 0;
        l.version += 1;
        Ok(())
    }
}

/// The store's record of a finished job.
fn record(r: &JobResult) -> Record {
    let (exit, signal) = match r.exit {
        ExitKind::Signal(s) => (128 + s, Some(s)),
        other => (other.code(), None),
    };
    let started = r
        .started_at
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs_f64();
    let args = r
        .records
        .values()
        .map(|v| String::from_utf8_lossy(v).into_owned())
        .collect::<Vec<_>>()
        .join("\t");
    Record {
        seq: r.seq.0,
        slot: r.slot.0 as u64,
        worker: r.worker.clone().unwrap_or_default(),
        ok: r.exit.success(),
        exit,
        signal,
        started,
        runtime: r.runtime.as_secs_f64(),
        cpu: r.cpu_time.as_secs_f64(),
        rss_kib: r.max_rss_kib,
        out_bytes: r.stdout.len(),
        attempt: r.attempt,
        killed: r.killed.map(|k| format!("{k:?}").to_lowercase()),
        command: String::from_utf8_lossy(&r.command).into_owned(),
        args,
        stdout: head(&r.stdout),
        stderr: head(&r.stderr),
    }
}

/// The first [`OUTPUT_CAP`] bytes of a captured stream.
fn head(c: &fanout_core::output::Captured) -> String {
    let mut out = Vec::new();
    let _ = c.for_each_chunk(|chunk| {
        let room = OUTPUT_CAP - out.len();
        out.extend_from_slice(&chunk[..chunk.len().min(room)]);
        if out.len() >= OUTPUT_CAP {
            // Stops the walk: the rest is not kept.
            return Err(io::Error::other("cap reached"));
        }
        Ok(())
    });
    String::from_utf8_lossy(&out).into_owned()
}

/// A command line for a panel: lossy UTF-8, cut to `COMMAND_CHARS`.
pub fn cut(command: &[u8]) -> String {
    let s = String::from_utf8_lossy(command);
    match s.char_indices().nth(COMMAND_CHARS) {
        Some((at, _)) => format!("{}…", &s[..at]),
        None => s.into_owned(),
    }
}

/// This machine's name.
pub fn host_name() -> String {
    rustix::system::uname()
        .nodename()
        .to_string_lossy()
        .into_owned()
}
