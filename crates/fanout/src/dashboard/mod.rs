//! `--dashboard` and `--report`: a run watched in a browser while it goes,
//! and told in one HTML file when it ends; and `--dashboard --broker URL`,
//! every run and worker of a broker watched. All of them read two things:
//! live state that is bounded whatever the number of jobs (counts, slots,
//! failures; kept by an observer of the run's events, or by the broker's
//! watcher), and a job store (SQLite files in a temp dir removed at the
//! end) that a thread of its own fills in batches.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use anyhow::{Context, Result};

mod board;
mod live;
mod report;
mod server;
pub mod store;

use board::Board;
use live::{Live, Watcher};
pub use server::Serve;
use server::{Server, View, LOCAL};
use store::Stored;

/// How long a run that ends with a page open goes on serving: long enough
/// for the page's event stream, told at once, to send the end.
pub const LAST_WORD: std::time::Duration = std::time::Duration::from_millis(50);

/// What to watch a run with.
#[derive(Debug, Clone, Default)]
pub struct WatchOptions {
    /// `--dashboard`: the address to serve on.
    pub dashboard: Option<SocketAddr>,
    /// `--report`: the file to write at the end.
    pub report: Option<PathBuf>,
    /// `--dashboard-control`: a broker's dashboard may cancel runs.
    pub control: bool,
    /// The command and options of the run, for the page and the report.
    pub command: String,
}

impl WatchOptions {
    /// True when the run is watched at all.
    pub fn any(&self) -> bool {
        self.dashboard.is_some() || self.report.is_some()
    }
}

/// The store's thread, with the way to it.
struct StoreThread {
    records: Option<flume::Sender<Stored>>,
    thread: Option<JoinHandle<rusqlite::Result<()>>>,
}

impl StoreThread {
    fn start(dir: &tempfile::TempDir, on_new: store::OnNew) -> Result<StoreThread> {
        let (tx, thread) = store::spawn_writer(dir.path().to_owned(), on_new)
            .context("cannot start the job store")?;
        Ok(StoreThread {
            records: Some(tx),
            thread: Some(thread),
        })
    }

    /// Waits for the last records to be stored.
    fn finish(&mut self) -> Result<()> {
        self.records = None;
        if let Some(t) = &self.thread {
            // The last records go in now, not after the store's pause.
            t.thread().unpark();
        }
        match self.thread.take().map(JoinHandle::join) {
            Some(Ok(r)) => r.context("cannot write the job store"),
            Some(Err(_)) => anyhow::bail!("the job store's thread panicked"),
            None => Ok(()),
        }
    }
}

fn temp_dir() -> Result<tempfile::TempDir> {
    tempfile::Builder::new()
        .prefix("fanout-watch-")
        .tempdir()
        .context("cannot make the dashboard's temp dir")
}

/// A watched run: the store, its writer thread and the web server.
pub struct Watch {
    dir: tempfile::TempDir,
    live: Arc<Mutex<Live>>,
    store: StoreThread,
    server: Option<Server>,
    report: Option<PathBuf>,
}

impl Watch {
    /// Makes the store and starts the server (its URL printed on stderr).
    pub fn start(opts: &WatchOptions, total: Option<u64>) -> Result<Watch> {
        let dir = temp_dir()?;
        let store = StoreThread::start(&dir, Box::new(|_, _| {}))?;
        let live = Arc::new(Mutex::new(Live::new(total, opts.command.clone())));
        let server = match opts.dashboard {
            Some(addr) => {
                let s = Server::bind(addr, View::Local(live.clone()), dir.path().to_owned())?;
                eprintln!("fanout: dashboard at {}", s.url());
                Some(s)
            }
            None => None,
        };
        Ok(Watch {
            dir,
            live,
            store,
            server,
            report: opts.report.clone(),
        })
    }

    /// The observer the run's sink stack gets (events as they happen).
    pub fn observer(&self) -> Box<dyn fanout_core::Observer> {
        let tx = self.store.records.clone().expect("before finish");
        Box::new(Watcher::new(self.live.clone(), LOCAL.into(), tx))
    }

    /// The server's work, to run on the engine's runtime (once).
    pub fn take_serve(&mut self) -> Option<Serve> {
        self.server.as_mut().and_then(Server::take_serve)
    }

    /// Serves on a thread of its own (a coordinated run).
    pub fn serve_on_thread(&mut self) -> Result<()> {
        if let Some(s) = self.server.take() {
            self.server = Some(s.on_thread()?);
        }
        Ok(())
    }

    /// Whether a page is open on the run now.
    pub fn watched(&self) -> bool {
        self.server.as_ref().is_some_and(Server::watched)
    }

    /// After the run: stores the last records and shows the run ended.
    pub fn end(&mut self) -> Result<()> {
        self.store.finish()?;
        let mut l = self.live.lock().unwrap_or_else(|e| e.into_inner());
        if !l.finished {
            l.finished = true;
            l.version += 1;
        }
        if let Some(s) = &self.server {
            s.news();
        }
        Ok(())
    }

    /// Then: writes the report, stops the server and removes the store.
    pub fn finish(mut self) -> Result<()> {
        self.end()?;
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

/// `fanout --dashboard --broker URL`: serves the dashboard of every run
/// and worker on the broker until SIGINT or SIGTERM.
pub fn watch_broker(opts: &WatchOptions, broker: &fanout_nats::BrokerOptions) -> Result<u8> {
    let addr = opts.dashboard.context("--dashboard is needed")?;
    let dir = temp_dir()?;
    let board = Arc::new(Mutex::new(Board::new(opts.control)));
    let counted = board.clone();
    let mut store = StoreThread::start(
        &dir,
        Box::new(move |run, r| {
            counted
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .finished(run, r)
        }),
    )?;
    let control = opts.control.then(|| Arc::new(broker.clone()));
    let server = Server::bind(
        addr,
        View::Broker(board.clone(), control),
        dir.path().to_owned(),
    )?
    .on_thread()?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let records = store.records.clone().expect("started");
    let watched: Result<()> = rt.block_on(async {
        let (tx, rx) = tokio::sync::mpsc::channel(1024);
        let feed = tokio::spawn(board::feed(board, rx, records));
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        let observe = fanout_nats::observe(broker, tx);
        tokio::pin!(observe);
        // Connected (or not) before the URL is shown.
        let first = tokio::select! {
            r = &mut observe => Some(r),
            () = tokio::time::sleep(std::time::Duration::from_millis(500)) => None,
        };
        if let Some(r) = first {
            r?;
            anyhow::bail!("the broker's watcher ended");
        }
        eprintln!(
            "fanout: dashboard of {} at {}",
            shown(&broker.url),
            server.url()
        );
        tokio::select! {
            r = &mut observe => r?,
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
        feed.abort();
        Ok(())
    });
    server.stop();
    // The feed's tasks (and their senders to the store) go with it.
    drop(rt);
    store.records = None;
    let _ = store.finish();
    watched?;
    Ok(0)
}

/// A broker URL without the user and password it may carry (it goes to a
/// screen).
fn shown(url: &str) -> String {
    match url.split_once("://") {
        Some((scheme, rest)) => format!("{scheme}://{}", rest.rsplit('@').next().unwrap_or(rest)),
        None => url.rsplit('@').next().unwrap_or_default().to_owned(),
    }
}
