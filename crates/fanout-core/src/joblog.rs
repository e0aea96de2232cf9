//! GNU parallel's job log: one tab-separated row per finished job, written
//! as each job ends (so it is complete up to the last finished job however
//! fanout stops), and read back for `--resume`, `--resume-failed` and
//! `--retry-failed`.

use std::fs::{File, OpenOptions};
use std::io::{self, BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use crate::event::{Event, Observer};
use crate::job::{JobResult, JobSeq};
use crate::{Error, ExitKind, Result};

/// The first line of every job log.
pub const HEADER: &str =
    "Seq\tHost\tStarttime\tJobRuntime\tSend\tReceive\tExitval\tSignal\tCommand";

/// Writes a row for every finished job.
#[derive(Debug)]
pub struct JobLog {
    file: File,
    row: Vec<u8>,
}

impl JobLog {
    /// Opens `path`: truncated with a new header, or, with `append`, added
    /// to (a header is written only if the file is empty).
    pub fn open(path: &Path, append: bool) -> io::Result<JobLog> {
        let mut file = OpenOptions::new()
            .create(true)
            .write(true)
            .append(append)
            .truncate(!append)
            .open(path)?;
        if !append || file.metadata()?.len() == 0 {
            file.write_all(format!("{HEADER}\n").as_bytes())?;
        }
        Ok(JobLog {
            file,
            row: Vec::new(),
        })
    }

    /// A job log on standard output (`--joblog -`), header first.
    pub fn stdout() -> io::Result<JobLog> {
        use std::os::fd::AsFd;
        let mut file = File::from(io::stdout().as_fd().try_clone_to_owned()?);
        file.write_all(format!("{HEADER}\n").as_bytes())?;
        Ok(JobLog {
            file,
            row: Vec::new(),
        })
    }

    /// Writes a job's row in one `write`, so a row is never half there.
    pub fn write(&mut self, r: &JobResult) -> io::Result<()> {
        format_row(r, &mut self.row);
        self.file.write_all(&self.row)
    }
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

/// Reads a job log, calling `f` for each row. A file that is not a job log
/// (wrong header, a malformed row) is an error naming the line, never
/// read as "nothing ran". A missing file is `Ok(false)`.
pub fn read(path: &Path, mut f: impl FnMut(Row)) -> Result<bool> {
    let file = match File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
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
    let mut lines = BufReader::new(file).split(b'\n');
    let io_err = |err| Error::JobLog {
        path: PathBuf::from(path),
        err,
    };
    match lines.next().transpose().map_err(io_err)? {
        None => return Ok(true),
        Some(h) if h == HEADER.as_bytes() => {}
        Some(_) => return Err(bad(1, "the first line is not the job log header")),
    }
    for (i, line) in lines.enumerate() {
        let line = line.map_err(io_err)?;
        let row = parse_row(&line).ok_or_else(|| bad(i + 2, "not a job log row"))?;
        f(row);
    }
    Ok(true)
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
