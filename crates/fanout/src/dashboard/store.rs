//! The dashboard's job store: every finished job's record in an SQLite
//! file per run in the dashboard's temp directory, so that the job table
//! pages, sorts and filters a million jobs on demand while fanout holds
//! none of them in memory. Written by one thread in batches (the first
//! record of a job is kept, as a coordinator keeps the first result);
//! read by the web server through connections of its own.

use std::path::Path;

use rusqlite::{params, Connection, OptionalExtension};
use serde::Serialize;

/// One finished job, as stored.
#[derive(Debug, Clone, Serialize)]
pub struct Record {
    /// The job's sequence number.
    pub seq: u64,
    /// The slot (or worker slot) it ran in.
    pub slot: u64,
    /// The worker that ran it (empty for a local run).
    pub worker: String,
    /// True when it exited 0.
    pub ok: bool,
    /// Its exit status (a signal as 128 + N).
    pub exit: i32,
    /// The signal that killed it, if one did.
    pub signal: Option<i32>,
    /// Start, in seconds since the Unix epoch.
    pub started: f64,
    /// Wall-clock run time, seconds.
    pub runtime: f64,
    /// CPU time, seconds.
    pub cpu: f64,
    /// Peak RSS, KiB.
    pub rss_kib: u64,
    /// Bytes of standard output.
    pub out_bytes: u64,
    /// Earlier failed attempts.
    pub attempt: u32,
    /// Why fanout killed it, if it did.
    pub killed: Option<String>,
    /// The command line as run (lossy UTF-8).
    pub command: String,
    /// The input values, tab-separated (lossy UTF-8).
    pub args: String,
    /// The start of its standard output (at most [`OUTPUT_CAP`] bytes).
    pub stdout: String,
    /// The start of its standard error (at most [`OUTPUT_CAP`] bytes).
    pub stderr: String,
}

/// How much of each output stream a record keeps.
pub const OUTPUT_CAP: usize = 64 * 1024;

/// The file run `run`'s store lives in, in `dir` (run ids are checked
/// to be plain names before they get here).
pub fn path_in(dir: &Path, run: &str) -> std::path::PathBuf {
    dir.join(format!("jobs-{run}.sqlite"))
}

/// The writer's side.
pub struct Writer(Connection);

impl Writer {
    /// Creates run `run`'s store in `dir`.
    pub fn create(dir: &Path, run: &str) -> rusqlite::Result<Writer> {
        let c = Connection::open(path_in(dir, run))?;
        // A scratch file removed with the run: no journal, no fsync.
        c.execute_batch(
            "PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF;
             CREATE TABLE jobs (
               seq INTEGER PRIMARY KEY, slot INTEGER NOT NULL, worker TEXT NOT NULL,
               ok INTEGER NOT NULL,
               exit INTEGER NOT NULL, signal INTEGER, started REAL NOT NULL,
               runtime REAL NOT NULL, cpu REAL NOT NULL, rss_kib INTEGER NOT NULL,
               out_bytes INTEGER NOT NULL, attempt INTEGER NOT NULL, killed TEXT,
               command TEXT NOT NULL, args TEXT NOT NULL,
               stdout TEXT NOT NULL, stderr TEXT NOT NULL);
             CREATE INDEX jobs_ok ON jobs (ok, seq);
             CREATE INDEX jobs_runtime ON jobs (runtime);",
        )?;
        Ok(Writer(c))
    }

    /// Stores `records` in one transaction; true for each that was new
    /// (a job's first record is kept, a later one for the same job is
    /// not).
    pub fn insert(&mut self, records: &[Record]) -> rusqlite::Result<Vec<bool>> {
        let tx = self.0.transaction()?;
        let mut new = Vec::with_capacity(records.len());
        {
            let mut st = tx.prepare_cached(
                "INSERT OR IGNORE INTO jobs VALUES
                 (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17)",
            )?;
            for r in records {
                let changed = st.execute(params![
                    r.seq as i64,
                    r.slot as i64,
                    r.worker,
                    r.ok,
                    r.exit,
                    r.signal,
                    r.started,
                    r.runtime,
                    r.cpu,
                    r.rss_kib as i64,
                    r.out_bytes as i64,
                    r.attempt,
                    r.killed,
                    r.command,
                    r.args,
                    r.stdout,
                    r.stderr
                ])?;
                new.push(changed == 1);
            }
        }
        tx.commit()?;
        Ok(new)
    }
}

/// A record on its way to run `run`'s store.
pub type Stored = (std::sync::Arc<str>, Record);

/// What the store thread calls for each record that was new to its run.
pub type OnNew = Box<dyn FnMut(&str, &Record) + Send>;

/// Records waiting for the store: enough for a burst, bounded (a store
/// that falls behind holds its senders back rather than fill memory).
const QUEUE: usize = 8192;
/// Records the store takes in one transaction at most.
const BATCH: usize = 4096;
/// The store thread's niceness, on top of fanout's.
const NICE: i32 = 10;
/// How long the store waits after a record for more to come with it. A
/// thread woken for every finished job takes a core from the jobs and
/// from the loop that starts them each time (measured: P1 with
/// `--dashboard` 1.2x as long as without); a tenth of a second later
/// the page still shows the job at once, the table at its next load.
const LINGER: std::time::Duration = std::time::Duration::from_millis(100);

/// Starts the thread that writes records to the stores in `dir` (one per
/// run, made on its first record), in batches.
pub fn spawn_writer(
    dir: std::path::PathBuf,
    mut on_new: OnNew,
) -> std::io::Result<(
    flume::Sender<Stored>,
    std::thread::JoinHandle<rusqlite::Result<()>>,
)> {
    let (tx, rx) = flume::bounded::<Stored>(QUEUE);
    let thread = std::thread::Builder::new()
        .name("fanout-store".into())
        .spawn(move || {
            // The jobs and the loop that starts them come first: the store
            // takes the time they leave (it only falls behind when they
            // leave none, and its queue then holds the run back).
            let nice = rustix::process::getpriority_process(None).unwrap_or(0) + NICE;
            let _ =
                rustix::process::setpriority_process(Some(rustix::thread::gettid()), nice.min(19));
            let mut writers: std::collections::HashMap<std::sync::Arc<str>, Writer> =
                std::collections::HashMap::new();
            let mut full = false;
            while let Ok(first) = rx.recv() {
                // A batch as big as allowed means more are waiting: no
                // pause then, or a fast run would wait on the store.
                if !full && !rx.is_disconnected() {
                    // Cut short at the end (`StoreThread::finish` unparks).
                    std::thread::park_timeout(LINGER);
                }
                let mut batch = vec![first];
                batch.extend(rx.try_iter().take(BATCH - 1));
                full = batch.len() == BATCH;
                batch.sort_by(|a, b| a.0.cmp(&b.0));
                for group in batch.chunk_by(|a, b| a.0 == b.0) {
                    let run = group[0].0.clone();
                    let w = match writers.entry(run.clone()) {
                        std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
                        std::collections::hash_map::Entry::Vacant(e) => {
                            e.insert(Writer::create(&dir, &run)?)
                        }
                    };
                    let records: Vec<Record> = group.iter().map(|(_, r)| r.clone()).collect();
                    let new = w.insert(&records)?;
                    for (r, new) in records.iter().zip(new) {
                        if new {
                            on_new(&run, r);
                        }
                    }
                }
            }
            Ok(())
        })?;
    Ok((tx, thread))
}

/// Which jobs a page shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Filter {
    /// Every finished job.
    #[default]
    All,
    /// Those that exited 0.
    Ok,
    /// The others.
    Failed,
}

/// What a page is sorted by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum SortKey {
    /// Job number.
    #[default]
    Seq,
    /// Run time.
    Runtime,
    /// Exit status.
    Exit,
    /// Peak RSS.
    Rss,
}

impl SortKey {
    fn column(self) -> &'static str {
        match self {
            SortKey::Seq => "seq",
            SortKey::Runtime => "runtime",
            SortKey::Exit => "exit",
            SortKey::Rss => "rss_kib",
        }
    }
}

/// A job as a table row: the record without its outputs.
#[derive(Debug, Serialize)]
pub struct Row {
    seq: u64,
    slot: u64,
    worker: String,
    ok: bool,
    exit: i32,
    runtime: f64,
    rss_kib: u64,
    command: String,
}

/// One page of the table and how many rows the filter has.
#[derive(Debug, Serialize)]
pub struct Page {
    /// Rows matching the filter.
    pub total: u64,
    /// This page's rows.
    pub rows: Vec<Row>,
}

/// Totals over the finished jobs.
#[derive(Debug, Default, Serialize)]
pub struct Totals {
    /// Jobs stored.
    pub jobs: u64,
    /// Of which failed.
    pub failed: u64,
    /// CPU seconds.
    pub cpu: f64,
    /// The highest peak RSS, KiB.
    pub max_rss_kib: u64,
    /// Bytes of standard output.
    pub out_bytes: u64,
    /// Earliest start and latest end, Unix seconds.
    pub span: (f64, f64),
}

/// One job on the report's timeline.
#[derive(Debug)]
pub struct Span {
    /// The worker that ran it (empty for a job run here).
    pub worker: String,
    /// Its slot on that worker.
    pub slot: u64,
    /// Start, Unix seconds.
    pub started: f64,
    /// Run time, seconds.
    pub runtime: f64,
    /// Whether it succeeded.
    pub ok: bool,
}

/// The reader's side (the web server, the report).
pub struct Reader(Connection);

impl Reader {
    /// Opens run `run`'s store in `dir` for reading.
    pub fn open(dir: &Path, run: &str) -> rusqlite::Result<Reader> {
        let c = Connection::open_with_flags(
            path_in(dir, run),
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        Ok(Reader(c))
    }

    /// Rows `offset..offset + limit` of `filter` sorted by `key`.
    pub fn page(
        &self,
        filter: Filter,
        key: SortKey,
        descending: bool,
        offset: u64,
        limit: u64,
    ) -> rusqlite::Result<Page> {
        let cond = match filter {
            Filter::All => "1",
            Filter::Ok => "ok = 1",
            Filter::Failed => "ok = 0",
        };
        let total: i64 = self.0.query_row(
            &format!("SELECT COUNT(*) FROM jobs WHERE {cond}"),
            [],
            |r| r.get(0),
        )?;
        // Both pieces come from closed enums, never from the request.
        let dir = if descending { "DESC" } else { "ASC" };
        let sql = format!(
            "SELECT seq, slot, worker, ok, exit, runtime, rss_kib, command FROM jobs WHERE {cond}
             ORDER BY {} {dir}, seq {dir} LIMIT ?1 OFFSET ?2",
            key.column()
        );
        let mut st = self.0.prepare_cached(&sql)?;
        let rows = st
            .query_map(params![limit as i64, offset as i64], |r| {
                Ok(Row {
                    seq: r.get::<_, i64>(0)? as u64,
                    slot: r.get::<_, i64>(1)? as u64,
                    worker: r.get(2)?,
                    ok: r.get(3)?,
                    exit: r.get(4)?,
                    runtime: r.get(5)?,
                    rss_kib: r.get::<_, i64>(6)? as u64,
                    command: r.get(7)?,
                })
            })?
            .collect::<rusqlite::Result<_>>()?;
        Ok(Page {
            total: total as u64,
            rows,
        })
    }

    /// Job `seq`'s whole record.
    pub fn job(&self, seq: u64) -> rusqlite::Result<Option<Record>> {
        self.0
            .query_row("SELECT * FROM jobs WHERE seq = ?1", [seq as i64], record_of)
            .optional()
    }

    /// The records `sql` selects (a query over `jobs` of the report's).
    pub fn records(&self, sql: &str, limit: u64) -> rusqlite::Result<Vec<Record>> {
        let mut st = self.0.prepare(sql)?;
        let rows = st.query_map([limit as i64], record_of)?;
        rows.collect()
    }

    /// Totals over every stored job.
    pub fn totals(&self) -> rusqlite::Result<Totals> {
        self.0.query_row(
            "SELECT COUNT(*), COALESCE(SUM(ok = 0), 0), COALESCE(SUM(cpu), 0),
                    COALESCE(MAX(rss_kib), 0), COALESCE(SUM(out_bytes), 0),
                    COALESCE(MIN(started), 0), COALESCE(MAX(started + runtime), 0)
             FROM jobs",
            [],
            |r| {
                Ok(Totals {
                    jobs: r.get::<_, i64>(0)? as u64,
                    failed: r.get::<_, i64>(1)? as u64,
                    cpu: r.get(2)?,
                    max_rss_kib: r.get::<_, i64>(3)? as u64,
                    out_bytes: r.get::<_, i64>(4)? as u64,
                    span: (r.get(5)?, r.get(6)?),
                })
            },
        )
    }

    /// Up to `limit` jobs, the longest first (the report's timeline).
    pub fn spans(&self, limit: u64) -> rusqlite::Result<Vec<Span>> {
        let mut st = self.0.prepare(
            "SELECT worker, slot, started, runtime, ok FROM jobs ORDER BY runtime DESC LIMIT ?1",
        )?;
        let rows = st.query_map([limit as i64], |r| {
            Ok(Span {
                worker: r.get(0)?,
                slot: r.get::<_, i64>(1)? as u64,
                started: r.get(2)?,
                runtime: r.get(3)?,
                ok: r.get(4)?,
            })
        })?;
        rows.collect()
    }

    /// How many jobs took `[lo + i·w, lo + (i+1)·w)` seconds, for `bins`
    /// bins spanning the run times.
    pub fn histogram(&self, bins: usize) -> rusqlite::Result<(f64, f64, Vec<u64>)> {
        let (lo, hi): (f64, f64) = self.0.query_row(
            "SELECT COALESCE(MIN(runtime), 0), COALESCE(MAX(runtime), 0) FROM jobs",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        let w = ((hi - lo) / bins as f64).max(1e-9);
        let mut counts = vec![0u64; bins];
        let mut st = self.0.prepare(
            "SELECT MIN(CAST((runtime - ?1) / ?2 AS INTEGER), ?3), COUNT(*) FROM jobs GROUP BY 1",
        )?;
        let rows = st.query_map(params![lo, w, bins as i64 - 1], |r| {
            Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?))
        })?;
        for row in rows {
            let (bin, n) = row?;
            counts[bin.clamp(0, bins as i64 - 1) as usize] += n as u64;
        }
        Ok((lo, w, counts))
    }
}

fn record_of(r: &rusqlite::Row<'_>) -> rusqlite::Result<Record> {
    Ok(Record {
        seq: r.get::<_, i64>(0)? as u64,
        slot: r.get::<_, i64>(1)? as u64,
        worker: r.get(2)?,
        ok: r.get(3)?,
        exit: r.get(4)?,
        signal: r.get(5)?,
        started: r.get(6)?,
        runtime: r.get(7)?,
        cpu: r.get(8)?,
        rss_kib: r.get::<_, i64>(9)? as u64,
        out_bytes: r.get::<_, i64>(10)? as u64,
        attempt: r.get(11)?,
        killed: r.get(12)?,
        command: r.get(13)?,
        args: r.get(14)?,
        stdout: r.get(15)?,
        stderr: r.get(16)?,
    })
}
