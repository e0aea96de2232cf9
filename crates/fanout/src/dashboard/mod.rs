//! `--dashboard` and `--report`: a run watched in a browser while it goes,
//! and told in one HTML file when it ends. Both read the same two things:
//! the live state (counts, slots, failures — bounded) that an observer
//! keeps, and a job store (SQLite, in a temp dir removed with the run)
//! that a thread of its own fills in batches.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use anyhow::{Context, Result};

mod live;
mod report;
mod server;
pub mod store;

use live::{Live, Watcher};
use store::{Record, Writer};

/// Records waiting for the store: enough for a burst, bounded.
const QUEUE: usize = 8192;
/// Records the store takes in one transaction at most.
const BATCH: usize = 4096;

/// What to watch a run with.
#[derive(Debug, Clone, Default)]
pub struct WatchOptions {
    /// `--dashboard`: the address to serve on.
    pub dashboard: Option<SocketAddr>,
    /// `--report`: the file to write at the end.
    pub report: Option<PathBuf>,
    /// The command and options of the run, for the page and the report.
    pub command: String,
}

impl WatchOptions {
    /// True when the run is watched at all.
    pub fn any(&self) -> bool {
        self.dashboard.is_some() || self.report.is_some()
    }
}

/// A watched run: the store, its writer thread and the web server.
pub struct Watch {
    dir: tempfile::TempDir,
    live: Arc<Mutex<Live>>,
    records: Option<flume::Sender<Record>>,
    writer: Option<JoinHandle<rusqlite::Result<()>>>,
    server: Option<server::Server>,
    report: Option<PathBuf>,
}

impl Watch {
    /// Makes the store and starts the server (its URL printed on stderr).
    pub fn start(opts: &WatchOptions, total: Option<u64>) -> Result<Watch> {
        let dir = tempfile::Builder::new()
            .prefix("fanout-watch-")
            .tempdir()
            .context("cannot make the dashboard's temp dir")?;
        let mut writer = Writer::create(dir.path()).context("cannot make the job store")?;
        let (tx, rx) = flume::bounded::<Record>(QUEUE);
        let writer = std::thread::Builder::new()
            .name("fanout-store".into())
            .spawn(move || {
                while let Ok(first) = rx.recv() {
                    let mut batch = vec![first];
                    batch.extend(rx.try_iter().take(BATCH - 1));
                    writer.insert(&batch)?;
                }
                Ok(())
            })
            .context("cannot start the job store")?;
        let live = Arc::new(Mutex::new(Live::new(total, opts.command.clone())));
        let server = match opts.dashboard {
            Some(addr) => {
                let s = server::Server::start(addr, live.clone(), dir.path().to_owned())?;
                eprintln!("fanout: dashboard at {}", s.url());
                Some(s)
            }
            None => None,
        };
        Ok(Watch {
            dir,
            live,
            records: Some(tx),
            writer: Some(writer),
            server,
            report: opts.report.clone(),
        })
    }

    /// The observer the run's sink stack gets (events as they happen).
    pub fn observer(&self) -> Box<dyn fanout_core::Observer> {
        let tx = self.records.clone().expect("before finish");
        Box::new(Watcher::new(self.live.clone(), tx))
    }

    /// After the run: stores the last records, writes the report, stops
    /// the server and removes the store.
    pub fn finish(mut self) -> Result<()> {
        self.records = None;
        if let Some(w) = self.writer.take() {
            match w.join() {
                Ok(r) => r.context("cannot write the job store")?,
                Err(_) => anyhow::bail!("the job store's thread panicked"),
            }
        }
        {
            let mut l = self.live.lock().unwrap_or_else(|e| e.into_inner());
            l.finished = true;
            l.version += 1;
        }
        if let Some(path) = &self.report {
            let l = self.live.lock().unwrap_or_else(|e| e.into_inner());
            report::write(path, self.dir.path(), &l)?;
        }
        if let Some(s) = self.server.take() {
            s.stop();
        }
        Ok(())
    }
}
