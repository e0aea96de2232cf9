//! Printing job output to fanout's stdout and stderr.
//!
//! Grouped (the default): a job's stdout then its stderr, written whole
//! when the job ends, so no two jobs' output ever interleave. Line-buffered:
//! whole lines as they arrive. Ungrouped: jobs write to the terminal
//! themselves and only `-v` lines come from here.

use std::fs::File;
use std::io::{self, Write};
use std::mem::ManuallyDrop;
use std::os::fd::FromRawFd;

use super::tag::{tagged, Tag};
use crate::control::{HaltOn, HaltWhen};
use crate::event::{Event, Sink};
use crate::job::{JobSeq, KillReason, SeqMap};
use crate::output::{Captured, Stream};
use crate::OutputMode;

/// How the printer formats output.
#[derive(Debug, Clone)]
pub struct PrintOptions {
    /// Grouped, line-buffered or ungrouped.
    pub mode: OutputMode,
    /// `-v`: print each command line to stdout before its output.
    pub verbose: bool,
    /// `-t`/`--verbose`: print each command line to stderr as it starts.
    pub trace: bool,
    /// `--tag` / `--tagstring`.
    pub tag: Option<Tag>,
    /// The name fanout's own messages begin with (`fanout`, or `parallel`
    /// when invoked under GNU's name).
    pub program: String,
}

/// Writes job output to the process's stdout (fd 1) and stderr (fd 2).
#[derive(Debug)]
pub struct Printer {
    opts: PrintOptions,
    out: ManuallyDrop<File>,
    err: ManuallyDrop<File>,
    live: SeqMap<LiveJob>,
    scratch: Vec<u8>,
}

/// A running job's state under `--line-buffer`: its tag and the unfinished
/// last line of each stream.
#[derive(Debug, Default)]
struct LiveJob {
    tag: Vec<u8>,
    partial: [Vec<u8>; 2],
}

impl Printer {
    /// A printer on fds 1 and 2. Writes go straight to the descriptors:
    /// each job's output is one `write` (or a `sendfile` from its spool
    /// file), not a trip through a line-buffered `Stdout`.
    pub fn new(opts: PrintOptions) -> Self {
        // SAFETY: fds 1 and 2 stay open for the life of the process;
        // ManuallyDrop keeps these handles from closing them.
        let (out, err) = unsafe { (File::from_raw_fd(1), File::from_raw_fd(2)) };
        Printer {
            opts,
            out: ManuallyDrop::new(out),
            err: ManuallyDrop::new(err),
            live: SeqMap::default(),
            scratch: Vec::new(),
        }
    }

    fn write_stream(&mut self, stream: Stream, tag: &[u8], data: &mut Captured) -> io::Result<()> {
        let w: &mut File = match stream {
            Stream::Stdout => &mut self.out,
            Stream::Stderr => &mut self.err,
        };
        if tag.is_empty() {
            return data.copy_to(w);
        }
        let mut at_start = true;
        let scratch = &mut self.scratch;
        data.for_each_chunk(|chunk| {
            scratch.clear();
            tagged(tag, chunk, &mut at_start, scratch);
            w.write_all(scratch)
        })
    }

    fn finished(&mut self, mut r: crate::JobResult) -> io::Result<()> {
        if self.opts.mode != OutputMode::Group {
            // Nothing of the job's own output is captured in these modes;
            // what is there is fanout's word that the job could not start.
            self.write_stream(Stream::Stderr, &[], &mut r.stderr)?;
            return match self.opts.mode {
                OutputMode::LineBuffer => self.flush_live(r.seq),
                _ => Ok(()),
            };
        }

        let tag = match &self.opts.tag {
            Some(t) => t.prefix(r.seq, r.slot, &r.records),
            None => Vec::new(),
        };
        if self.opts.verbose {
            let mut line = r.command.clone();
            line.push(b'\n');
            self.write_stream(Stream::Stdout, &tag, &mut Captured::from_vec(line))?;
        }
        self.write_stream(Stream::Stdout, &tag, &mut r.stdout)?;
        self.write_stream(Stream::Stderr, &tag, &mut r.stderr)
    }

    /// GNU parallel's words for a job that counts towards `--halt`, and
    /// once the threshold is reached with jobs still `running`.
    fn halt_count(
        &mut self,
        when: HaltWhen,
        on: HaltOn,
        command: &[u8],
        running: usize,
    ) -> io::Result<()> {
        let what = match on {
            HaltOn::Fail => "failed",
            HaltOn::Success => "succeeded",
            HaltOn::Done => "finished",
        };
        let p = &self.opts.program;
        let mut msg = format!("{p}: This job {what}:\n").into_bytes();
        msg.extend_from_slice(command);
        msg.push(b'\n');
        if when == HaltWhen::Soon && running > 0 {
            msg.extend_from_slice(
                format!("{p}: Starting no more jobs. Waiting for {running} jobs to finish.\n")
                    .as_bytes(),
            );
        }
        self.err.write_all(&msg)
    }

    fn live_output(&mut self, seq: JobSeq, stream: Stream, data: &[u8]) -> io::Result<()> {
        let job = self.live.entry(seq).or_default();
        let partial = &mut job.partial[stream as usize];
        let Some(last_nl) = memchr::memrchr(b'\n', data) else {
            partial.extend_from_slice(data);
            return Ok(());
        };
        let mut out = std::mem::take(partial);
        out.extend_from_slice(&data[..=last_nl]);
        partial.extend_from_slice(&data[last_nl + 1..]);
        let tag = job.tag.clone();
        self.write_stream(stream, &tag, &mut Captured::from_vec(out))
    }

    fn flush_live(&mut self, seq: JobSeq) -> io::Result<()> {
        let Some(mut job) = self.live.remove(&seq) else {
            return Ok(());
        };
        for stream in [Stream::Stdout, Stream::Stderr] {
            let rest = std::mem::take(&mut job.partial[stream as usize]);
            if !rest.is_empty() {
                self.write_stream(stream, &job.tag, &mut Captured::from_vec(rest))?;
            }
        }
        Ok(())
    }
}

impl Sink for Printer {
    fn event(&mut self, event: Event<'_>) -> io::Result<()> {
        match event {
            Event::Started {
                seq,
                slot,
                command,
                args,
            } => {
                if self.opts.mode == OutputMode::LineBuffer {
                    let tag = self.opts.tag.as_ref().map(|t| t.prefix(seq, slot, args));
                    self.live.insert(
                        seq,
                        LiveJob {
                            tag: tag.unwrap_or_default(),
                            ..Default::default()
                        },
                    );
                }
                let mut line = command.to_vec();
                line.push(b'\n');
                if self.opts.trace {
                    self.err.write_all(&line)?;
                }
                if self.opts.verbose && self.opts.mode != OutputMode::Group {
                    self.out.write_all(&line)?;
                }
                Ok(())
            }
            Event::Output { seq, stream, data } => self.live_output(seq, stream, data),
            Event::Finished(r) => self.finished(r),
            Event::Running { jobs } => {
                // SIGUSR1, as GNU parallel answers it: a line per job.
                let p = &self.opts.program;
                let mut text = Vec::new();
                for (seq, command) in jobs {
                    text.extend_from_slice(format!("{p}: job {seq}: ").as_bytes());
                    text.extend_from_slice(command);
                    text.push(b'\n');
                }
                if jobs.is_empty() {
                    text.extend_from_slice(format!("{p}: no jobs running\n").as_bytes());
                }
                self.err.write_all(&text)
            }
            Event::Killed {
                reason: KillReason::Timeout,
                command,
                ..
            } => {
                let p = &self.opts.program;
                let mut msg = format!(
                    "{p}: Warning: This job was killed because it timed out:\n{p}: Warning: "
                )
                .into_bytes();
                msg.extend_from_slice(command);
                msg.push(b'\n');
                self.err.write_all(&msg)
            }
            Event::HaltCount {
                when,
                on,
                command,
                reached,
                running,
            } => self.halt_count(when, on, command, if reached { running } else { 0 }),
            _ => Ok(()),
        }
    }
}
