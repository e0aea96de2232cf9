//! What a job is and what running it produced: the ID newtypes, the
//! arguments a job was built from, and its result.

use std::fmt;
use std::time::{Duration, SystemTime};

use crate::output::Captured;
use crate::stdin::JobInput;

/// A job's sequence number: 1 for the first job built from the input, as
/// `{#}` and `$PARALLEL_SEQ` show it. Output order under `-k` is this order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct JobSeq(pub u64);

/// A map keyed by job numbers this process gave out, hashed by
/// [`SeqHasher`]: the run core and the printer look one up on every start
/// and end, where SipHash took a few percent of a coordinator's time.
pub type SeqMap<V> = std::collections::HashMap<JobSeq, V, SeqHash>;

/// Builds [`SeqHasher`]s.
pub type SeqHash = std::hash::BuildHasherDefault<SeqHasher>;

/// A hash of a job number: one multiplication (Fibonacci hashing), which
/// spreads consecutive numbers over the table. Not for keys a peer picks:
/// unlike SipHash it is easy to collide on purpose.
#[derive(Debug, Default, Clone, Copy)]
pub struct SeqHasher(u64);

impl std::hash::Hasher for SeqHasher {
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(u64::from(b));
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0.rotate_left(5) ^ n).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

/// A job slot: 1..=N for `-j N`, reused as jobs finish, as `{%}` and
/// `$PARALLEL_JOBSLOT` show it. The lowest free slot is always taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SlotId(pub u32);

impl fmt::Display for JobSeq {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl fmt::Display for SlotId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// One input record: the values of every input column for one job
/// position (one per source, or one per `--colsep` column).
pub type Record = Vec<Vec<u8>>;

/// The records of one job, values packed end to end in one buffer.
///
/// Written by hand for memory: a `-X` job holds a whole line's worth of
/// values (18,000 of 7 bytes for `seq 3000000`), and as a `Vec<Record>`
/// each value cost two heap blocks of 32 bytes and 48 bytes of vectors,
/// ~90 bytes for 7 of data, 1.6 MB a job with several jobs alive (queued,
/// running, being reported). Packed, a value costs its bytes and an offset.
#[derive(Clone, Default)]
pub struct Records {
    /// Every value's bytes, in order.
    bytes: Vec<u8>,
    /// Where each value ends in `bytes`.
    ends: Vec<usize>,
    /// Where each record ends, counted in values; empty while every record
    /// has `width` values (the usual case: no record boundaries to keep).
    record_ends: Vec<usize>,
    /// Values per record while they are all alike.
    width: usize,
    /// The number of records.
    len: usize,
}

impl Records {
    /// No records.
    pub fn new() -> Self {
        Records::default()
    }

    /// Room for `values` values of `bytes` bytes in all.
    pub fn with_capacity(values: usize, bytes: usize) -> Self {
        Records {
            bytes: Vec::with_capacity(bytes),
            ends: Vec::with_capacity(values),
            ..Records::default()
        }
    }

    /// One record of these values.
    pub fn one<'v>(values: impl IntoIterator<Item = &'v [u8]>) -> Self {
        let mut r = Records::new();
        r.push_values(values);
        r
    }

    /// Appends a record.
    pub fn push<V: AsRef<[u8]>>(&mut self, record: &[V]) {
        self.push_values(record.iter().map(AsRef::as_ref));
    }

    /// Appends a record of these values.
    pub fn push_values<'v>(&mut self, values: impl IntoIterator<Item = &'v [u8]>) {
        let before = self.ends.len();
        for v in values {
            self.bytes.extend_from_slice(v);
            self.ends.push(self.bytes.len());
        }
        let n = self.ends.len() - before;
        if self.len == 0 {
            self.width = n;
        } else if self.record_ends.is_empty() && n != self.width {
            self.record_ends = (1..=self.len).map(|i| i * self.width).collect();
        }
        if !self.record_ends.is_empty() {
            self.record_ends.push(self.ends.len());
        }
        self.len += 1;
    }

    /// Removes the last record and gives it back.
    pub fn pop(&mut self) -> Option<Record> {
        let last = self.get(self.len.checked_sub(1)?)?;
        let (start, end) = (last.next, last.end);
        let rec: Record = last.map(<[u8]>::to_vec).collect();
        self.bytes
            .truncate(if start == 0 { 0 } else { self.ends[start - 1] });
        self.ends.truncate(start);
        debug_assert_eq!(end, self.ends.len() + rec.len());
        self.record_ends.pop();
        self.len -= 1;
        Some(rec)
    }

    /// Appends every record of `other`.
    pub fn extend_from(&mut self, other: &Records) {
        for rec in other.iter() {
            self.push_values(rec);
        }
    }

    /// The number of records.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when there is no record.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The number of values, all records' columns counted.
    pub fn value_count(&self) -> usize {
        self.ends.len()
    }

    /// The bytes of all values together.
    pub fn byte_len(&self) -> usize {
        self.bytes.len()
    }

    /// Value `i`, counting every column of every record.
    pub fn value(&self, i: usize) -> Option<&[u8]> {
        let end = *self.ends.get(i)?;
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        Some(&self.bytes[start..end])
    }

    /// Every value, all records' columns in order.
    pub fn values(&self) -> Values<'_> {
        Values {
            records: self,
            next: 0,
            end: self.ends.len(),
        }
    }

    /// Record `i`'s values.
    pub fn get(&self, i: usize) -> Option<Values<'_>> {
        if i >= self.len {
            return None;
        }
        let (next, end) = if self.record_ends.is_empty() {
            (i * self.width, (i + 1) * self.width)
        } else {
            let start = if i == 0 { 0 } else { self.record_ends[i - 1] };
            (start, self.record_ends[i])
        };
        Some(Values {
            records: self,
            next,
            end,
        })
    }

    /// The records, each as its values.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = Values<'_>> + '_ {
        (0..self.len).map(|i| self.get(i).expect("in range"))
    }

    /// The records as vectors, as [`Record`]s.
    pub fn to_vec(&self) -> Vec<Record> {
        self.iter()
            .map(|r| r.map(<[u8]>::to_vec).collect())
            .collect()
    }

    /// Gives back memory beyond what the records use.
    pub fn shrink_to_fit(&mut self) {
        self.bytes.shrink_to_fit();
        self.ends.shrink_to_fit();
        self.record_ends.shrink_to_fit();
    }
}

impl<V: AsRef<[u8]>> FromIterator<Vec<V>> for Records {
    fn from_iter<I: IntoIterator<Item = Vec<V>>>(iter: I) -> Self {
        let mut r = Records::new();
        for rec in iter {
            r.push(&rec);
        }
        r
    }
}

impl From<Vec<Record>> for Records {
    fn from(records: Vec<Record>) -> Self {
        records.into_iter().collect()
    }
}

/// Equal when they hold the same records, however they were built.
impl PartialEq for Records {
    fn eq(&self, other: &Records) -> bool {
        self.len == other.len
            && self.bytes == other.bytes
            && self.ends == other.ends
            && self
                .iter()
                .zip(other.iter())
                .all(|(a, b)| (a.next, a.end) == (b.next, b.end))
    }
}

impl Eq for Records {}

impl fmt::Debug for Records {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.iter().map(|r| {
                r.map(|v| String::from_utf8_lossy(v).into_owned())
                    .collect::<Vec<_>>()
            }))
            .finish()
    }
}

/// Values of [`Records`]: one record's, or all of them.
#[derive(Clone)]
pub struct Values<'a> {
    records: &'a Records,
    next: usize,
    end: usize,
}

impl<'a> Iterator for Values<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        if self.next >= self.end {
            return None;
        }
        self.next += 1;
        self.records.value(self.next - 1)
    }

    fn nth(&mut self, n: usize) -> Option<&'a [u8]> {
        self.next = self.next.saturating_add(n).min(self.end);
        self.next()
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = self.end - self.next;
        (n, Some(n))
    }
}

impl ExactSizeIterator for Values<'_> {}

impl<'a> DoubleEndedIterator for Values<'a> {
    fn next_back(&mut self) -> Option<&'a [u8]> {
        if self.next >= self.end {
            return None;
        }
        self.end -= 1;
        self.records.value(self.end)
    }
}

/// The input a job consumes: usually one record, several under `-n`, `-N`,
/// `-X`, `-m` and `--xargs`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobArgs {
    /// The job's sequence number.
    pub seq: JobSeq,
    /// The records, in input order.
    pub records: Records,
    /// Pipe mode: the chunk the job reads (on stdin, or as the file or
    /// fifo `{}` names).
    pub stdin: Option<JobInput>,
}

/// How a job's process ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitKind {
    /// It exited with this status.
    Code(i32),
    /// A signal killed it.
    Signal(i32),
    /// It could not be started at all (the OS error number).
    SpawnFailed(i32),
}

impl ExitKind {
    /// True when the job counts as succeeded: exit status 0.
    pub fn success(self) -> bool {
        self == ExitKind::Code(0)
    }

    /// The status GNU parallel reports for the job (a signal as 128+N is
    /// how a shell shows it; spawn failures as 127 like a shell's
    /// "command not found").
    pub fn code(self) -> i32 {
        match self {
            ExitKind::Code(c) => c,
            ExitKind::Signal(s) => 128 + s,
            ExitKind::SpawnFailed(_) => 127,
        }
    }
}

/// Everything known about a finished job.
#[derive(Debug)]
pub struct JobResult {
    /// The job's sequence number.
    pub seq: JobSeq,
    /// The slot it ran in.
    pub slot: SlotId,
    /// The composed command line as it was run (or would be, for
    /// `--dry-run`).
    pub command: Vec<u8>,
    /// The input records the job was built from, in order (each a value
    /// per source or column).
    pub records: Records,
    /// How it ended.
    pub exit: ExitKind,
    /// Its standard output, unless output was not captured.
    pub stdout: Captured,
    /// Its standard error, unless output was not captured.
    pub stderr: Captured,
    /// Wall-clock run time.
    pub runtime: Duration,
    /// CPU time the job's process used, user plus system.
    pub cpu_time: Duration,
    /// Peak resident memory of the job's process, in KiB.
    pub max_rss_kib: u64,
    /// When it started, by the wall clock.
    pub started_at: SystemTime,
    /// Why fanout killed it, if it did.
    pub killed: Option<KillReason>,
    /// How many times it ran before, and failed (0 on the first run).
    pub attempt: u32,
    /// The remote worker that ran it, as it names itself; `None` for a
    /// job run here.
    pub worker: Option<String>,
}

/// Why fanout ended a job before it ended by itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum KillReason {
    /// It ran longer than `--timeout`.
    Timeout,
    /// Free memory fell under half of `--memfree`; it runs again later.
    Memory,
}

impl JobResult {
    /// The input values, all records' columns in order.
    pub fn args(&self) -> Vec<Vec<u8>> {
        self.records.values().map(<[u8]>::to_vec).collect()
    }

    /// True when the job counts as failed: a non-zero exit, a signal, not
    /// started, or killed by fanout.
    pub fn failed(&self) -> bool {
        !self.exit.success() || self.killed.is_some()
    }

    /// The status `--halt ...=1` exits with, as GNU parallel: the job's
    /// exit status, 128 + the signal that killed it, or -1 when fanout
    /// killed it.
    pub fn halt_code(&self) -> i32 {
        if self.killed.is_some() {
            -1
        } else {
            self.exit.code()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn recs(r: &Records) -> Vec<Record> {
        r.to_vec()
    }

    #[test]
    fn records_keep_their_values_and_boundaries() {
        let mut r = Records::new();
        r.push(&[b"a".as_slice(), b"bc"]);
        r.push(&[b"".as_slice(), b"d"]);
        assert_eq!(r.len(), 2);
        assert_eq!(r.value_count(), 4);
        assert_eq!(r.value(1), Some(&b"bc"[..]));
        assert_eq!(r.value(4), None);
        // A record of another width: boundaries are kept from then on.
        r.push(&[b"e".as_slice()]);
        r.push(&[] as &[&[u8]]);
        r.push(&[b"f".as_slice(), b"g", b"h"]);
        let want: Vec<Record> = vec![
            vec![b"a".to_vec(), b"bc".to_vec()],
            vec![b"".to_vec(), b"d".to_vec()],
            vec![b"e".to_vec()],
            vec![],
            vec![b"f".to_vec(), b"g".to_vec(), b"h".to_vec()],
        ];
        assert_eq!(recs(&r), want);
        assert_eq!(
            r.values().collect::<Vec<_>>(),
            [&b"a"[..], b"bc", b"", b"d", b"e", b"f", b"g", b"h"]
        );
        assert_eq!(r.values().nth(5), Some(&b"f"[..]));
        assert_eq!(r.get(4).unwrap().len(), 3);
        assert_eq!(r.get(4).unwrap().next_back(), Some(&b"h"[..]));
        assert!(r.get(5).is_none());
        assert_eq!(r.pop(), Some(want[4].clone()));
        assert_eq!(r.pop(), Some(vec![]));
        assert_eq!(r.pop(), Some(vec![b"e".to_vec()]));
        // Built another way, the same records.
        assert_eq!(r, Records::from(want[..2].to_vec()));
        r.push(&[b"x".as_slice()]);
        assert_eq!(recs(&r).last(), Some(&vec![b"x".to_vec()]));
        assert_eq!(Records::from(want.clone()), want.into_iter().collect());
    }

    #[test]
    fn popping_a_uniform_record_gives_it_back() {
        let mut r: Records = vec![vec![b"1".to_vec()], vec![b"22".to_vec()]].into();
        assert_eq!(r.pop(), Some(vec![b"22".to_vec()]));
        assert_eq!(r.len(), 1);
        assert_eq!(r.byte_len(), 1);
        r.push(&[b"3"]);
        assert_eq!(recs(&r), [vec![b"1".to_vec()], vec![b"3".to_vec()]]);
        assert_eq!(r.pop(), Some(vec![b"3".to_vec()]));
        assert_eq!(r.pop(), Some(vec![b"1".to_vec()]));
        assert_eq!(r.pop(), None);
        assert!(r.is_empty());
    }
}
