//! The dashboard of a whole broker (`fanout --dashboard --broker URL`):
//! every run on it with its state and counts — from its results stream, so
//! a run whose coordinator died still shows its history — and every worker
//! with its slots, load and last heartbeat. Fed by `fanout_nats::observe`;
//! what the broker says is untrusted, so names are cut short and the
//! worker table is bounded.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use fanout_nats::schema::{RunState, WireExit, WireResult};
use fanout_nats::{RunStatus, Seen};
use serde::Serialize;
use serde_json::json;

use super::live::{cut, Live};
use super::store::{Record, Stored, OUTPUT_CAP};

/// Workers shown at most (heartbeats are anyone's to send).
const MAX_WORKERS: usize = 1000;
/// A worker not heard from for this long is dropped, seconds.
const FORGET_SECS: f64 = 600.0;
/// Characters of a worker's or host's name kept.
const NAME_CHARS: usize = 120;

/// A worker as its heartbeats and results show it.
#[derive(Debug, Clone, Serialize)]
pub struct WorkerView {
    /// Its id (host-pid).
    pub worker: String,
    /// Its host.
    pub host: String,
    /// Its job slots.
    pub slots: u32,
    /// The run it serves, if any.
    pub run: Option<String>,
    /// Its host's load average.
    pub load: f64,
    /// Its last heartbeat, Unix seconds (0: none yet, only results).
    pub last_beat: f64,
    /// Result messages' results it sent that the dashboard read.
    pub results: u64,
}

/// Every run and worker of the broker.
#[derive(Debug, Default)]
pub struct Board {
    runs: BTreeMap<String, Live>,
    workers: BTreeMap<String, WorkerView>,
    /// `--dashboard-control`: the page offers to cancel runs.
    control: bool,
}

impl Board {
    /// An empty board; `control` lets the page cancel runs.
    pub fn new(control: bool) -> Board {
        Board {
            control,
            ..Board::default()
        }
    }

    /// The page's view: the runs, the workers, and run `selected`'s
    /// details (the first run's when none is asked for).
    pub fn snapshot(&mut self, selected: Option<&str>) -> serde_json::Value {
        let now = unix_now();
        self.workers
            .retain(|_, w| now - w.last_beat.max(0.0) < FORGET_SECS || w.last_beat == 0.0);
        let runs: Vec<_> = (self.runs.iter_mut())
            .map(|(id, l)| {
                l.tick();
                json!({"run": id, "command": l.command, "state": l.state, "done": l.done,
                       "failed": l.failed, "in_flight": l.in_flight, "rate": l.rate})
            })
            .collect();
        let key = selected
            .filter(|s| self.runs.contains_key(*s))
            .map(str::to_owned)
            .or_else(|| self.runs.keys().next().cloned());
        let run = key.as_ref().and_then(|k| self.runs.get(k));
        json!({"mode": "broker", "control": self.control, "now": now, "runs": runs,
               "workers": self.workers.values().collect::<Vec<_>>(),
               "selected": key, "run": run})
    }

    /// True when `run` is a run on the board (the store has its name).
    pub fn has_run(&self, run: &str) -> bool {
        self.runs.contains_key(run)
    }

    /// Counts a job of `run` that the store took as new.
    pub fn finished(&mut self, run: &str, r: &Record) {
        if let Some(l) = self.runs.get_mut(run) {
            l.finished_record(r);
        }
    }

    /// Takes in one thing seen on the broker; the records it makes go to
    /// the store.
    fn see(&mut self, seen: Seen, records: &mut Vec<Stored>) {
        match seen {
            Seen::Run { run, command } => {
                let l = self
                    .runs
                    .entry(run)
                    .or_insert_with(|| Live::new(None, String::new()));
                l.command = cut(command.as_bytes());
                l.finished = false;
            }
            Seen::State(s) => self.state(s),
            Seen::Results {
                run,
                worker,
                results,
            } => {
                let worker = cut_name(&worker);
                let command = self
                    .runs
                    .get(&run)
                    .map(|l| l.command.clone())
                    .unwrap_or_default();
                let run: Arc<str> = run.into();
                let mut n = 0;
                for r in &results {
                    if let Some(rec) = record_of(&worker, r, &command) {
                        records.push((run.clone(), rec));
                        n += 1;
                    }
                }
                if let Some(w) = self.worker(&worker) {
                    w.results += n;
                }
            }
            Seen::Beat(b) => {
                let name = cut_name(&b.worker);
                if let Some(w) = self.worker(&name) {
                    w.host = cut_name(&b.host);
                    w.slots = b.slots;
                    w.run = b.run.as_deref().map(cut_name);
                    w.load = if b.load.is_finite() { b.load } else { 0.0 };
                    w.last_beat = unix_now();
                }
            }
            Seen::Gone { run } => {
                if let Some(l) = self.runs.get_mut(&run) {
                    l.state = Some("ended".into());
                    l.in_flight = None;
                    l.finished = true;
                }
            }
            _ => {}
        }
    }

    fn state(&mut self, s: RunStatus) {
        let (run, state, in_flight, total) = match s {
            RunStatus::Coordinated(st) => {
                let state = match st.state {
                    RunState::Running => "running",
                    RunState::Halting => "halting",
                };
                let total = st.input_done.then_some(st.published);
                (st.run, state.to_owned(), st.in_flight, total)
            }
            RunStatus::NoCoordinator { run, queued } => {
                (run, "no coordinator".to_owned(), queued, None)
            }
        };
        if let Some(l) = self.runs.get_mut(&run) {
            l.state = Some(state);
            l.in_flight = Some(in_flight);
            l.total = total.or(l.total);
        }
    }

    /// The worker called `name`, made when new (and when there is room).
    fn worker(&mut self, name: &str) -> Option<&mut WorkerView> {
        if !self.workers.contains_key(name) && self.workers.len() >= MAX_WORKERS {
            return None;
        }
        Some(
            self.workers
                .entry(name.to_owned())
                .or_insert_with(|| WorkerView {
                    worker: name.to_owned(),
                    host: String::new(),
                    slots: 0,
                    run: None,
                    load: 0.0,
                    last_beat: 0.0,
                    results: 0,
                }),
        )
    }
}

/// Feeds `board` with what the broker shows until the watcher stops;
/// each job's record goes to the store through `store`.
pub async fn feed(
    board: Arc<Mutex<Board>>,
    mut seen: tokio::sync::mpsc::Receiver<Seen>,
    store: flume::Sender<Stored>,
) {
    let mut records = Vec::new();
    while let Some(s) = seen.recv().await {
        board
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .see(s, &mut records);
        for r in records.drain(..) {
            if store.send_async(r).await.is_err() {
                return;
            }
        }
    }
}

/// The store's record of a job's result, as a worker sent it; `None` for
/// a job a halting run skipped.
fn record_of(worker: &str, r: &WireResult, command: &str) -> Option<Record> {
    let (exit, signal, ok) = match r.exit {
        WireExit::Code(c) => (c, None, c == 0),
        WireExit::Signal(s) => (128 + s, Some(s), false),
        WireExit::SpawnFailed(_) => (127, None, false),
        _ => return None,
    };
    let text = |b: &Option<fanout_nats::schema::Bytes>| {
        b.as_ref()
            .map(|b| String::from_utf8_lossy(&b.0[..b.0.len().min(OUTPUT_CAP)]).into_owned())
            .unwrap_or_default()
    };
    Some(Record {
        seq: r.seq,
        slot: u64::from(r.slot),
        worker: worker.to_owned(),
        ok,
        exit,
        signal,
        started: r.start_ns as f64 / 1e9,
        runtime: r.runtime_ns as f64 / 1e9,
        cpu: r.cpu_ns as f64 / 1e9,
        rss_kib: r.max_rss_kib,
        out_bytes: r.out.as_ref().map_or(0, |b| b.0.len() as u64),
        attempt: r.attempt,
        killed: r.killed.map(|k| format!("{k:?}").to_lowercase()),
        command: command.to_owned(),
        args: String::new(),
        stdout: text(&r.out),
        stderr: text(&r.err),
    })
}

fn cut_name(s: &str) -> String {
    s.chars().take(NAME_CHARS).collect()
}

fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs_f64()
}
