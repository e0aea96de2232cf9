//! Grouping input records into jobs: one record per job by default, a fixed
//! number with `-n`/`-N`, or as many as fit the line with `-X`, `-m` and
//! `--xargs` (bounded by `-s`).

use std::collections::VecDeque;
use std::sync::Arc;

use crate::input::RecordStream;
use crate::job::{JobArgs, JobSeq, Record, Records, SlotId};
use crate::template::{RenderCtx, Template};
use crate::Result;

/// How `-X`, `-m` and `--xargs` fill a command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MultiArgs {
    /// `-X`: repeat the word around `{}` for each argument.
    Context,
    /// `-m`: insert all arguments where `{}` stands.
    Plain,
    /// `--xargs`: like `-m`, but never spread a short tail over job slots.
    Xargs,
}

/// Batching settings.
#[derive(Debug, Clone, Copy)]
pub struct BatchOptions {
    /// `-n`/`-N`: at most this many records per job.
    pub max_args: Option<usize>,
    /// `-X`, `-m`, `--xargs`.
    pub multi: Option<MultiArgs>,
    /// `-s`: a composed line is kept shorter than this.
    pub max_chars: usize,
    /// The number of job slots, over which `-X`/`-m` spread the last
    /// arguments as GNU parallel does.
    pub slots: usize,
    /// `-L`: `max_args` counts lines, and a line ending in a blank goes on
    /// into the next (as xargs and GNU parallel read `-L`).
    pub lines: bool,
}

impl Default for BatchOptions {
    fn default() -> Self {
        BatchOptions {
            max_args: None,
            multi: None,
            max_chars: DEFAULT_MAX_CHARS,
            slots: 1,
            lines: false,
        }
    }
}

impl BatchOptions {
    /// How many jobs to read ahead of the running ones ([`crate::RunConfig::queue`])
    /// so that the records held stay about as many as `default` single-record
    /// jobs would hold: a job of `-X`/`-m`/`--xargs` holds a whole line's
    /// worth (tens of thousands of short values), so only one is read
    /// ahead; one of `-n N` holds N.
    pub fn read_ahead(&self, default: usize) -> usize {
        const FEW: usize = 1;
        if self.multi.is_some() {
            return FEW;
        }
        match self.max_args {
            Some(n) if n > 1 => (default / n).max(FEW),
            _ => default,
        }
    }
}

/// The longest command line this machine runs: under Linux's 128 KiB limit
/// on one argument, as the line is handed to `sh -c` whole. GNU parallel
/// measures 130,329 here (`--max-line-length-allowed`).
pub const LINE_LIMIT: usize = 130_329;

/// The default for `-s`, and its most: GNU parallel's usable length, the
/// limit less 3,000 bytes for wrapping, halved for quoting, so that
/// `-X`/`-m`/`--xargs` split lines where GNU does.
pub const DEFAULT_MAX_CHARS: usize = (LINE_LIMIT - 3000) / 2;

/// Turns a record stream into a stream of jobs.
pub struct Batcher {
    records: RecordStream,
    opts: BatchOptions,
    template: Arc<Template>,
    next_seq: u64,
    ready: VecDeque<Records>,
    /// The record that did not fit the previous line, with its cost.
    carry: Option<(Record, usize)>,
    /// Records a too-long fixed batch gave back, for the next job.
    pushback: VecDeque<Record>,
    base_len: usize,
    /// Values and bytes of values in the last full `-X`/`-m` line.
    last_line: (usize, usize),
    done: bool,
}

impl std::fmt::Debug for Batcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Batcher")
            .field("next_seq", &self.next_seq)
            .finish_non_exhaustive()
    }
}

impl Batcher {
    /// Batches `records` for `template`.
    pub fn new(records: RecordStream, template: Arc<Template>, opts: BatchOptions) -> Self {
        let ctx = RenderCtx {
            records: &Records::new(),
            seq: JobSeq(0),
            slot: SlotId(0),
            context: false,
        };
        let base_len = template.line_len(&ctx);
        Batcher {
            records,
            opts,
            template,
            next_seq: 1,
            ready: VecDeque::new(),
            carry: None,
            pushback: VecDeque::new(),
            base_len,
            last_line: (0, 0),
            done: false,
        }
    }

    /// Reads the next batch(es) into `ready`.
    fn fill(&mut self) -> Result<()> {
        match self.opts.multi {
            None => self.fill_fixed(),
            Some(multi) => self.fill_line(multi),
        }
    }

    fn fill_fixed(&mut self) -> Result<()> {
        let n = self.opts.max_args.unwrap_or(1).max(1);
        let mut batch = Records::new();
        let mut lines = 0;
        // -L: a line ending in a blank waits for the next one, which it
        // goes on into (its blank taken off); at the end it stays as it is.
        let mut held: Option<Record> = None;
        while lines < n {
            let Some(rec) = self.next_record()? else {
                break;
            };
            if let Some(mut h) = held.take() {
                trim_blank(&mut h);
                batch.push(&h);
            }
            if self.opts.lines && ends_blank(&rec) {
                held = Some(rec);
            } else {
                lines += 1;
                batch.push(&rec);
            }
        }
        if let Some(h) = held {
            batch.push(&h);
        }
        if batch.is_empty() {
            self.done = true;
            return Ok(());
        }
        // A line that would be too long gets fewer arguments, as in GNU
        // parallel; the rest start the next job.
        while batch.len() > 1 && self.line_len(&batch) > self.opts.max_chars {
            self.pushback
                .push_front(batch.pop().expect("more than one"));
        }
        if self.opts.max_args == Some(0) {
            // -N0: each input makes a job, which gets none of it.
            batch = Records::new();
        }
        // A perl expression's length is only estimated (by its input's):
        // its real line is checked when it is composed, not here, so long
        // unused columns do not stop a run (GNU's par_long_input).
        if !self.template.has_perl() {
            self.check_len(self.line_len(&batch))?;
        }
        self.ready.push_back(batch);
        Ok(())
    }

    /// The exact length of the job's line (positional strings included),
    /// plus the NUL that GNU parallel counts.
    fn line_len(&self, batch: &Records) -> usize {
        let ctx = RenderCtx {
            records: batch,
            seq: JobSeq(self.next_seq),
            slot: SlotId(1),
            context: false,
        };
        self.template.line_len(&ctx) + 1
    }

    /// The length of the line `batch` makes (with `-X`'s repeated words),
    /// plus the NUL that GNU parallel counts.
    fn exact_len(&self, batch: &Records, context: bool) -> usize {
        let ctx = RenderCtx {
            records: batch,
            seq: JobSeq(self.next_seq),
            slot: SlotId(1),
            context,
        };
        self.template.line_len(&ctx) + 1
    }

    /// The next record: one put back by the last batch, else a new one.
    fn next_record(&mut self) -> Result<Option<Record>> {
        match self.pushback.pop_front() {
            Some(rec) => Ok(Some(rec)),
            None => self.records.next().transpose(),
        }
    }

    /// GNU parallel's limit: a line of `len` bytes needs `len < -s`.
    fn check_len(&self, len: usize) -> Result<()> {
        if len > self.opts.max_chars {
            let seq = self.next_seq + self.ready.len() as u64;
            return Err(crate::Error::LineTooLong {
                len: len.saturating_sub(1),
                max: self.opts.max_chars,
                seq,
            });
        }
        Ok(())
    }

    /// Fills one line up to `-s` (and `-n`); at end of input the last
    /// records are spread over the job slots, as GNU parallel does.
    fn fill_line(&mut self, multi: MultiArgs) -> Result<()> {
        let context = multi == MultiArgs::Context;
        // Sized like the last line: growing by doubling would leave up to
        // half of a long line's buffers unused, in every job held.
        let (values, bytes) = self.last_line;
        let mut batch = Records::with_capacity(values + values / 8, bytes + bytes / 8);
        let mut len = self.base_len;
        if let Some((rec, cost)) = self.carry.take() {
            batch.push(&rec);
            len += cost;
        }
        while let Some(rec) = self.records.next().transpose()? {
            let cost = self.template.arg_cost(&rec, context);
            self.check_len(self.base_len + cost)?;
            let full = self.opts.max_args.is_some_and(|n| batch.len() >= n);
            // The estimate errs long (a repeated word is counted once
            // too often, and a space after the last): near the limit the
            // exact line decides, as GNU parallel's exact count does.
            let over = len + cost > self.opts.max_chars && {
                batch.push(&rec);
                let exact = self.exact_len(&batch, context);
                batch.pop();
                exact > self.opts.max_chars
            };
            if !batch.is_empty() && (full || over) {
                self.carry = Some((rec, cost));
                self.last_line = (batch.value_count(), batch.byte_len());
                self.ready.push_back(batch);
                return Ok(());
            }
            len += cost;
            batch.push(&rec);
        }
        self.done = true;
        if !batch.is_empty() {
            let spread = multi != MultiArgs::Xargs;
            let parts = if spread {
                self.opts.slots.clamp(1, batch.len())
            } else {
                1
            };
            split_even(batch, parts, &mut self.ready);
        }
        Ok(())
    }
}

/// `-L`: true when the line ends in a blank (it goes on into the next).
fn ends_blank(rec: &Record) -> bool {
    rec.last()
        .and_then(|c| c.last())
        .is_some_and(|b| matches!(b, b' ' | b'\t'))
}

/// Takes the blanks off the end of a continued line.
fn trim_blank(rec: &mut Record) {
    if let Some(last) = rec.last_mut() {
        let keep = last.len()
            - last
                .iter()
                .rev()
                .take_while(|b| matches!(b, b' ' | b'\t'))
                .count();
        last.truncate(keep);
    }
}

/// Splits `batch` into runs of `ceil(len / parts)`, as GNU parallel does
/// (5 over 2 slots: 3, 2; 4 over 3: 2, 2; 7 over 3: 3, 3, 1).
fn split_even(batch: Records, parts: usize, out: &mut VecDeque<Records>) {
    if parts <= 1 {
        out.push_back(batch);
        return;
    }
    let size = batch.len().div_ceil(parts);
    let mut it = batch.iter().peekable();
    while it.peek().is_some() {
        let mut part = Records::new();
        for rec in it.by_ref().take(size) {
            part.push_values(rec);
        }
        out.push_back(part);
    }
}

impl Iterator for Batcher {
    type Item = Result<JobArgs>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(records) = self.ready.pop_front() {
                let seq = JobSeq(self.next_seq);
                self.next_seq += 1;
                return Some(Ok(JobArgs {
                    seq,
                    records,
                    stdin: None,
                }));
            }
            if self.done {
                return None;
            }
            if let Err(e) = self.fill() {
                self.done = true;
                return Some(Err(e));
            }
        }
    }
}
