//! `--pipe` on a regular file (stdin redirected from one, or `-a FILE`, as
//! long as the run starts): the same chunks the stream reader cuts, found
//! by reading only a little
//! before each border, and each sent to its job from the file as a
//! `--pipepart` range is (`sendfile`, no byte through fanout's memory).
//! The stream reader reads every byte into fanout and writes it out again;
//! this reads a few KiB per chunk (issue "Machine's limit", P5).
//!
//! Only the plain case takes this path: records end with one newline, no
//! `--recstart`, `-N`, `-L`, `--header`, `--regexp`, `--block-timeout`,
//! `--skip-first-line`, `-r`, `--round-robin` or routing. A block with no
//! newline at all (where the stream reader grows its block, with a warning)
//! hands the rest of the file to the stream reader, from that chunk on.

use std::fs::File;
use std::io::{Seek, SeekFrom};
use std::os::fd::AsFd;
use std::os::unix::fs::FileExt;
use std::sync::Arc;

use anyhow::Result;
use fanout_core::pipe::{Body, Header, JobStdin, Splitter};
use fanout_core::plan::Jobs;
use fanout_core::{JobArgs, JobSeq, Records};

use crate::cli::PipeMode;

/// The window read at a time, backwards from a border, to find its cut.
const PROBE: u64 = 64 * 1024;

/// The jobs of `mode` over `file` (stdin when `None`), when the input is a
/// regular file and the mode the plain one; `None` otherwise.
pub fn jobs(mode: &PipeMode, file: Option<&File>) -> Result<Option<Jobs>> {
    if !plain(mode) {
        return Ok(None);
    }
    let file = match file {
        Some(f) => f.try_clone()?,
        None => match rustix::io::dup(std::io::stdin().as_fd()) {
            Ok(fd) => File::from(fd),
            Err(_) => return Ok(None),
        },
    };
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Ok(None);
    }
    // Where the reader would start: a shell may have read some of it.
    let pos = (&file).stream_position()?;
    Ok(Some(Box::new(Ranges {
        file: Arc::new(file),
        pos,
        size: meta.len(),
        block: mode.block as u64,
        seq: 1,
        mode: mode.clone(),
        rest: None,
        head: Arc::new(Vec::new()),
        at_end: false,
    })))
}

/// Whether `mode` cuts as the plain newline reader does.
fn plain(mode: &PipeMode) -> bool {
    let newline = matches!(&mode.splitter, Splitter::Literal { end, start }
        if end.as_slice() == b"\n" && start.is_empty());
    newline
        && !mode.part
        && !mode.tee
        && mode.block > 0
        && mode.records.is_none()
        && matches!(mode.header, Header::None)
        && !mode.round_robin
        && mode.remove_seps.is_none()
        && !mode.skip_blank
        && mode.route.is_none()
        && !mode.skip_first_line
        && mode.block_timeout.is_none()
}

/// The chunks of the file from `pos`, as jobs.
struct Ranges {
    file: Arc<File>,
    pos: u64,
    size: u64,
    block: u64,
    seq: u64,
    mode: PipeMode,
    /// The stream reader, once a block held no newline.
    rest: Option<Jobs>,
    head: Arc<Vec<u8>>,
    /// The shared file offset has been put at the end.
    at_end: bool,
}

impl Ranges {
    /// The end of the chunk from `self.pos`, as the stream reader cuts:
    /// the whole rest when it is shorter than a block, else just after
    /// the last newline in the block; `None` when the block has none.
    fn cut(&self) -> std::io::Result<Option<u64>> {
        let left = self.size - self.pos;
        if left < self.block {
            return Ok(Some(self.size));
        }
        let mut end = self.pos + self.block;
        let mut buf = vec![0u8; PROBE.min(self.block) as usize];
        while end > self.pos {
            let from = end.saturating_sub(PROBE).max(self.pos);
            let window = &mut buf[..(end - from) as usize];
            self.file.read_exact_at(window, from)?;
            if let Some(i) = memchr::memrchr(b'\n', window) {
                return Ok(Some(from + i as u64 + 1));
            }
            end = from;
        }
        Ok(None)
    }

    /// From here on, the stream reader over the rest of the file.
    fn hand_over(&mut self) -> std::io::Result<Jobs> {
        let mut f = self.file.try_clone()?;
        f.seek(SeekFrom::Start(self.pos))?;
        Ok(crate::pipe::chunk_jobs(Box::new(f), &self.mode, self.seq))
    }
}

impl Iterator for Ranges {
    type Item = fanout_core::Result<JobArgs>;

    fn next(&mut self) -> Option<Self::Item> {
        if let Some(rest) = &mut self.rest {
            return rest.next();
        }
        if self.pos >= self.size {
            // Read to the end, as far as anyone after fanout can tell (a
            // shell's next command on the same stdin reads nothing, as
            // after the stream reader).
            if !self.at_end {
                let _ = (&*self.file).seek(SeekFrom::End(0));
                self.at_end = true;
            }
            return None;
        }
        let end = match self.cut() {
            Ok(Some(end)) => end,
            Ok(None) => match self.hand_over() {
                Ok(rest) => {
                    self.rest = Some(rest);
                    return self.next();
                }
                Err(e) => return Some(Err(fanout_core::Error::InputRead(e))),
            },
            Err(e) => return Some(Err(fanout_core::Error::InputRead(e))),
        };
        let (offset, len) = (self.pos, end - self.pos);
        self.pos = end;
        let seq = JobSeq(self.seq);
        self.seq += 1;
        let body = Arc::new(Body::File {
            file: self.file.clone(),
            offset,
            len,
        });
        Some(Ok(JobArgs {
            seq,
            records: Records::new(),
            stdin: crate::pipe::input(
                JobStdin::Block {
                    head: self.head.clone(),
                    body,
                },
                self.mode.delivery,
            ),
        }))
    }
}
