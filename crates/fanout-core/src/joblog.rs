//! GNU parallel's job log: one tab-separated row per finished job, written
//! as each job ends (so it is complete up to the last finished job however
//! fanout stops), and read back for `--resume`, `--resume-failed` and
//! `--retry-failed`.

use std::fs::{File, OpenOptions};
use std::io::{self, BufRead, BufReader, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use crate::error::{FileKind, FileWriteError};
use crate::event::{Event, Observer};
use crate::job::{JobResult, JobSeq};
use crate::{Error, ExitKind, Result};

/// The first line of every job log.
pub const HEADER: &str =
    "Seq\tHost\tStarttime\tJobRuntime\tSend\tReceive\tExitval\tSignal\tCommand";

/// Writes a row for every finished job.
///
/// Rows are whole or absent: when a write fails or is short (a full disk),
/// the file is cut back to the end of the last whole row, so `--resume`
/// can always read it.
#[derive(Debug)]
pub struct JobLog {
    file: File,
    path: PathBuf,
    row: Vec<u8>,
    /// The length of the file's whole rows (header included); `None` for a
    /// log on stdout, which is never cut.
    whole: Option<u64>,
}

impl JobLog {
    /// Opens `path`: truncated with a new header, or, with `append`, added
    /// to (a header is written only if the file is empty). A torn last row
    /// (no newline: an older run stopped while writing it) is cut off
    /// first, so the next row does not run into it.
    pub fn open(path: &Path, append: bool) -> io::Result<JobLog> {
        let file = OpenOptions::new()
            .create(true)
            .read(true)
            .write(true)
            .append(append)
            .truncate(!append)
            .open(path)?;
        let len = file.metadata()?.len();
        let whole = whole_rows_end(&file, len)?;
        if whole < len {
            file.set_len(whole)?;
        }
        let mut log = JobLog {
            file,
            path: path.to_owned(),
            row: Vec::new(),
            whole: Some(whole),
        };
        if whole == 0 {
            log.row = format!("{HEADER}\n").into_bytes();
            log.append_row()?;
        }
        Ok(log)
    }

    /// A job log on standard output (`--joblog -`), header first.
    pub fn stdout() -> io::Result<JobLog> {
        use std::os::fd::AsFd;
        let mut file = File::from(io::stdout().as_fd().try_clone_to_owned()?);
        file.write_all(format!("{HEADER}\n").as_bytes())?;
        Ok(JobLog {
            file,
            path: PathBuf::from("-"),
            row: Vec::new(),
            whole: None,
        })
    }

    /// Writes a job's row in one `write`. Should that fail or fall short,
    /// the part written is cut off again; the error names the job log.
    pub fn write(&mut self, r: &JobResult) -> io::Result<()> {
        format_row(r, &mut self.row);
        self.append_row()
    }

    fn append_row(&mut self) -> io::Result<()> {
        let Err(err) = self.file.write_all(&self.row) else {
            if let Some(w) = &mut self.whole {
                *w += self.row.len() as u64;
            }
            return Ok(());
        };
        if let Some(w) = self.whole {
            // Best effort: if even this fails, the reader drops the torn
            // row (it has no newline) with a warning.
            if self.file.set_len(w).is_ok() {
                let _ = self.file.seek(SeekFrom::Start(w));
            }
        }
        Err(FileWriteError::wrap(FileKind::JobLog, &self.path, err))
    }
}

/// Where the last whole row of a job log ends: just after its last
/// newline (0 when it has none).
fn whole_rows_end(file: &File, len: u64) -> io::Result<u64> {
    use std::os::unix::fs::FileExt;
    let mut buf = vec![0u8; 64 * 1024];
    let mut end = len;
    while end > 0 {
        let start = end.saturating_sub(buf.len() as u64);
        let chunk = &mut buf[..(end - start) as usize];
        file.read_exact_at(chunk, start)?;
        if let Some(i) = memchr::memrchr(b'\n', chunk) {
            return Ok(start + i as u64 + 1);
        }
        end = start;
    }
    Ok(0)
}

impl Observer for JobLog {
    fn observe(&mut self, event: &mut Event<'_>) -> io::Result<()> {
        match event {
            Event::Finished(r) => self.write(r),
            _ => Ok(()),
        }
    }
}

/// A row as GNU parallel writes it: `Exitval` is -1 and `Signal` the last
/// signal when fanout killed the job; newlines in the command become NUL.
pub fn format_row(r: &JobResult, out: &mut Vec<u8>) {
    let start = r
        .started_at
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs_f64();
    // GNU parallel truncates the runtime to milliseconds.
    let runtime = (r.runtime.as_secs_f64() * 1000.0).trunc() / 1000.0;
    let (exit, signal) = match r.exit {
        ExitKind::Code(c) => (c, 0),
        ExitKind::Signal(s) => (0, s),
        ExitKind::SpawnFailed(_) => (127, 0),
    };
    let exit = if r.killed.is_some() { -1 } else { exit };
    out.clear();
    out.extend_from_slice(
        format!(
            "{}\t:\t{start:.3}\t{runtime:10.3}\t0\t{}\t{exit}\t{signal}\t",
            r.seq,
            r.stdout.len()
        )
        .as_bytes(),
    );
    out.extend(r.command.iter().map(|&b| if b == b'\n' { 0 } else { b }));
    out.push(b'\n');
}

/// One row of a job log, as read back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    /// The job's sequence number.
    pub seq: JobSeq,
    /// `Exitval`.
    pub exit: i64,
    /// `Signal`.
    pub signal: i64,
    /// The command line (NULs turned back into newlines).
    pub command: Vec<u8>,
}

impl Row {
    /// True when the job succeeded.
    pub fn succeeded(&self) -> bool {
        self.exit == 0 && self.signal == 0
    }
}

/// What [`read`] found besides the rows.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ReadLog {
    /// False when there was no job log at that path (nothing ran yet).
    pub exists: bool,
    /// A last row without its newline, which was not read: a run stopped
    /// (disk full, killed) while writing it. Its job counts as not run.
    pub torn: Option<TornRow>,
}

/// A torn last row of a job log.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct TornRow {
    /// Its line (from 1).
    pub line: usize,
    /// The bytes it had.
    pub len: usize,
}

/// Reads a job log, calling `f` for each row. A file that is not a job log
/// (wrong header, a malformed row) is an error naming the line, never
/// read as "nothing ran"; only a last row cut short (no newline) is
/// passed over, and reported in [`ReadLog::torn`] for the caller to warn
/// about. A missing file has `exists: false`.
pub fn read(path: &Path, mut f: impl FnMut(Row)) -> Result<ReadLog> {
    let file = match File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(ReadLog::default()),
        Err(err) => {
            return Err(Error::JobLog {
                path: path.to_owned(),
                err,
            })
        }
    };
    let bad = |line: usize, why: &str| Error::BadJobLog {
        path: path.to_owned(),
        line,
        why: why.to_string(),
    };
    let io_err = |err| Error::JobLog {
        path: PathBuf::from(path),
        err,
    };
    let mut found = ReadLog {
        exists: true,
        torn: None,
    };
    let mut reader = BufReader::new(file);
    let mut line = Vec::new();
    for n in 1.. {
        line.clear();
        if reader.read_until(b'\n', &mut line).map_err(io_err)? == 0 {
            break;
        }
        if line.pop_if(|b| *b == b'\n').is_none() {
            if n == 1 && !HEADER.as_bytes().starts_with(&line) {
                return Err(bad(1, "the first line is not the job log header"));
            }
            found.torn = Some(TornRow {
                line: n,
                len: line.len(),
            });
            break;
        }
        if n == 1 {
            if line != HEADER.as_bytes() {
                return Err(bad(1, "the first line is not the job log header"));
            }
            continue;
        }
        let row = parse_row(&line).ok_or_else(|| bad(n, "not a job log row"))?;
        f(row);
    }
    Ok(found)
}

fn parse_row(line: &[u8]) -> Option<Row> {
    let mut fields = line.splitn(9, |&b| b == b'\t');
    let mut next = || fields.next();
    let seq: u64 = std::str::from_utf8(next()?).ok()?.parse().ok()?;
    let _host = next()?;
    // Starttime, JobRuntime, Send, Receive: numbers, not kept.
    for _ in 0..4 {
        number::<f64>(next()?)?;
    }
    let exit = number(next()?)?;
    let signal = number(next()?)?;
    let command = next()?
        .iter()
        .map(|&b| if b == 0 { b'\n' } else { b })
        .collect();
    (seq > 0).then_some(Row {
        seq: JobSeq(seq),
        exit,
        signal,
        command,
    })
}

/// A number field, with GNU parallel's padding (`%10.3f`) allowed.
fn number<T: std::str::FromStr>(field: &[u8]) -> Option<T> {
    std::str::from_utf8(field).ok()?.trim().parse().ok()
}

/// A set of job numbers: one bit each up to `DENSE` (so remembering a
/// million finished jobs for `--resume` costs 125 KB), a tree above it (so
/// a log row with an absurd number costs nothing much).
#[derive(Debug, Clone, Default)]
pub struct SeqSet {
    bits: Vec<u64>,
    sparse: std::collections::BTreeSet<u64>,
}

/// Job numbers below this are kept as bits (at most 8 MiB).
const DENSE: u64 = 1 << 26;

impl SeqSet {
    /// Adds a job.
    pub fn insert(&mut self, seq: JobSeq) {
        if seq.0 >= DENSE {
            self.sparse.insert(seq.0);
            return;
        }
        let (word, bit) = ((seq.0 / 64) as usize, seq.0 % 64);
        if word >= self.bits.len() {
            self.bits.resize(word + 1, 0);
        }
        self.bits[word] |= 1 << bit;
    }

    /// How many jobs it holds.
    pub fn len(&self) -> u64 {
        let dense: u64 = self.bits.iter().map(|w| u64::from(w.count_ones())).sum();
        dense + self.sparse.len() as u64
    }

    /// True when it holds none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// True when the job is in the set.
    pub fn contains(&self, seq: JobSeq) -> bool {
        if seq.0 >= DENSE {
            return self.sparse.contains(&seq.0);
        }
        let (word, bit) = ((seq.0 / 64) as usize, seq.0 % 64);
        self.bits.get(word).is_some_and(|w| w & (1 << bit) != 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_round_trip_through_the_parser() {
        let row = b"12\t:\t1700000000.123\t     0.004\t0\t0\t-1\t15\tsleep 5\0echo x";
        let r = parse_row(row).unwrap();
        assert_eq!(r.seq, JobSeq(12));
        assert_eq!((r.exit, r.signal), (-1, 15));
        assert_eq!(r.command, b"sleep 5\necho x");
        assert!(!r.succeeded());
        assert!(parse_row(b"x\t:\t1\t1\t0\t0\t0\t0\tcmd").is_none());
        assert!(parse_row(b"1\t:\t1\t1\t0\t0\t0\tcmd").is_none());
        assert!(parse_row(b"hello world").is_none());
    }

    #[test]
    fn a_torn_last_row_is_reported_and_cut_before_appending() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log");
        let whole = format!("{HEADER}\n1\t:\t1.0\t0.1\t0\t0\t0\t0\techo a\n");
        std::fs::write(&path, format!("{whole}2\t:\t1")).unwrap();
        let mut seqs = Vec::new();
        let found = read(&path, |r| seqs.push(r.seq)).unwrap();
        assert_eq!(seqs, [JobSeq(1)]);
        assert_eq!(found.torn, Some(TornRow { line: 3, len: 5 }));
        drop(JobLog::open(&path, true).unwrap());
        assert_eq!(std::fs::read_to_string(&path).unwrap(), whole);
        // A first line that is no header's beginning is not a torn row.
        std::fs::write(&path, "not a job log").unwrap();
        assert!(read(&path, |_| {}).is_err());
    }

    #[test]
    fn seq_sets_hold_sparse_numbers() {
        let mut s = SeqSet::default();
        s.insert(JobSeq(1));
        s.insert(JobSeq(1000));
        assert!(s.contains(JobSeq(1)) && s.contains(JobSeq(1000)));
        assert!(!s.contains(JobSeq(2)) && !s.contains(JobSeq(5000)));
        s.insert(JobSeq(u64::MAX));
        assert!(s.contains(JobSeq(u64::MAX)) && !s.contains(JobSeq(u64::MAX - 1)));
    }
}
