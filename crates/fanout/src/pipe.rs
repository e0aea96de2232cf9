//! Pipe-mode jobs: chunks of stdin or of an input file (`--pipe`), byte
//! ranges of a seekable file (`--pipepart`), or one job per slot fed from
//! a shared queue of chunks (`--round-robin`).

use std::fs::File;
use std::io::Read;
use std::os::fd::FromRawFd;
use std::sync::{Arc, Mutex};

use anyhow::{bail, Context, Result};
use fanout_core::pipe::{
    file_size, part_ranges, Body, ChunkOptions, Chunker, Delivery, Header, JobInput, JobStdin,
};
use fanout_core::{Inputs, JobArgs, JobSeq, Records, Source};

use crate::cli::PipeMode;

pub use fanout_core::plan::Jobs;

/// A read error met by the `--round-robin` reader thread, reported after
/// the run.
pub type ReaderError = Arc<Mutex<Option<std::io::Error>>>;

/// The jobs of a pipe-mode run over `inputs` with `slots` job slots.
pub fn jobs(
    mode: &PipeMode,
    inputs: &Inputs,
    slots: usize,
    reader_error: &ReaderError,
) -> Result<Jobs> {
    let file = input_file(inputs, mode.part)?;
    if mode.part {
        let Some(file) = file else {
            bail!("--pipepart needs a file given with -a or ::::");
        };
        return part_jobs(mode, file, slots);
    }
    if let Some(jobs) = crate::seekable::jobs(mode, file.as_ref())? {
        return Ok(jobs);
    }
    let mut src: Box<dyn Read + Send> = match (file, mode.block_timeout) {
        (Some(f), _) => Box::new(f),
        // --block-timeout: a partial block goes on when stdin is quiet.
        (None, Some(t)) => Box::new(fanout_core::pipe::Timed::new(stdin(), t)),
        (None, None) => Box::new(stdin()),
    };
    if mode.skip_first_line {
        src = Box::new(SkipFirstLine {
            inner: src,
            skipped: false,
            pending: Vec::new(),
        });
    }
    if let Some(route) = &mode.route {
        let queues = fanout_core::pipe::spawn_router(
            src,
            slots,
            route.clone(),
            mode.block as usize,
            reader_error.clone(),
        );
        let delivery = mode.delivery;
        return Ok(Box::new(queues.into_iter().enumerate().map(
            move |(i, q)| {
                Ok(JobArgs {
                    seq: JobSeq(i as u64 + 1),
                    records: Records::new(),
                    stdin: input(JobStdin::Shared(q), delivery),
                })
            },
        )));
    }
    if mode.round_robin {
        let chunker = Chunker::new(src, chunk_options(mode, mode.block as usize));
        return Ok(round_robin(
            chunker,
            slots,
            mode.delivery,
            reader_error.clone(),
        ));
    }
    Ok(chunk_jobs(src, mode, 1))
}

/// A job per chunk of `src`, numbered from `first`.
pub(crate) fn chunk_jobs(src: Box<dyn Read + Send>, mode: &PipeMode, first: u64) -> Jobs {
    let chunker = Chunker::new(src, chunk_options(mode, mode.block as usize));
    let delivery = mode.delivery;
    // -r: a chunk of nothing but whitespace runs no job (GNU parallel).
    let skip_blank = mode.skip_blank;
    let chunker = chunker.filter(move |c| {
        !(skip_blank
            && c.as_ref()
                .is_ok_and(|c| c.body.iter().all(u8::is_ascii_whitespace)))
    });
    let jobs = chunker.enumerate().map(move |(i, c)| {
        c.map(|c| JobArgs {
            seq: JobSeq(i as u64 + first),
            records: Records::new(),
            stdin: input(
                JobStdin::Block {
                    head: c.head,
                    body: Arc::new(Body::Bytes(c.body)),
                },
                delivery,
            ),
        })
    });
    Box::new(jobs)
}

/// Reads fd 0 directly: large reads, no intermediate buffer.
struct StdinReader(std::mem::ManuallyDrop<File>);

fn stdin() -> StdinReader {
    // SAFETY: fd 0 stays open for the life of the process; the File is
    // forgotten, never closed, by ManuallyDrop.
    StdinReader(std::mem::ManuallyDrop::new(unsafe { File::from_raw_fd(0) }))
}

impl std::os::fd::AsFd for StdinReader {
    fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        self.0.as_fd()
    }
}

impl Read for StdinReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        (&*self.0).read(buf)
    }
}

fn chunk_options(mode: &PipeMode, block: usize) -> ChunkOptions {
    ChunkOptions {
        block,
        splitter: mode.splitter.clone(),
        records: mode.records,
        header: mode.header.clone(),
        remove_seps: mode.remove_seps.clone(),
        on_grow: Some(fanout_core::pipe::GrowHook(std::sync::Arc::new(
            |old, new| {
                eprintln!(
                    "{}A record was longer than {old}. Increasing to --blocksize {new}.",
                    crate::name::warning()
                );
            },
        ))),
    }
}

/// The file to cut: the one `-a` or `::::` source, if given.
fn input_file(inputs: &Inputs, part: bool) -> Result<Option<File>> {
    // --pipepart cuts the file; `:::` values beside it are ignored, as
    // GNU parallel ignores them.
    let files: Vec<_> = inputs
        .sources
        .iter()
        .filter(|s| !(part && matches!(s.source, Source::Args(_))))
        .cloned()
        .collect();
    match files.as_slice() {
        [] => Ok(None),
        [s] => match &s.source {
            Source::File(p) if p.as_os_str() == "-" => Ok(None),
            Source::File(p) => File::open(p)
                .map(Some)
                .with_context(|| format!("cannot open input file `{}`", p.display())),
            _ => bail!("pipe mode reads stdin or one file (-a FILE or :::: FILE), not ::: values"),
        },
        _ => bail!("pipe mode reads one input, not several"),
    }
}

/// `--pipepart`: the header from the front of the file, then a job per
/// byte range.
fn part_jobs(mode: &PipeMode, file: File, slots: usize) -> Result<Jobs> {
    use std::os::unix::fs::FileTypeExt;
    let meta = file.metadata()?;
    if !(meta.is_file() || meta.file_type().is_block_device()) {
        bail!("--pipepart needs a file or block device to read ranges of, not a pipe or terminal");
    }
    let size = file_size(&file)?;
    let skip = if mode.skip_first_line {
        first_line_len(&file)?
    } else {
        0
    };
    // The header is read from here on (its reader shares the offset).
    std::io::Seek::seek(&mut &file, std::io::SeekFrom::Start(skip))?;
    let head = Arc::new(read_header(&file, mode)?);
    let delivery = mode.delivery;
    let start = skip + head.len() as u64;
    let block = if mode.block < 0 {
        // -N: N chunks per job slot.
        // GNU parallel's own size: 1 + size / slots / N.
        let per_slot = size.saturating_sub(start) / (slots as u64).max(1);
        1 + per_slot / mode.block.unsigned_abs().max(1)
    } else {
        mode.block as u64
    };
    let ranges = part_ranges(&file, start, block, &mode.splitter)?;
    let file = Arc::new(file);
    let jobs = ranges
        .into_iter()
        .enumerate()
        .map(move |(i, (offset, len))| {
            Ok(JobArgs {
                seq: JobSeq(i as u64 + 1),
                records: Records::new(),
                stdin: input(
                    JobStdin::Block {
                        head: head.clone(),
                        body: Arc::new(Body::File {
                            file: file.clone(),
                            offset,
                            len,
                        }),
                    },
                    delivery,
                ),
            })
        });
    Ok(Box::new(jobs))
}

/// `--skip-first-line` with `--pipepart`: the bytes of the file's first
/// line, its newline included.
fn first_line_len(file: &File) -> Result<u64> {
    use std::os::unix::fs::FileExt;
    let mut buf = vec![0; 64 * 1024];
    let mut off = 0u64;
    loop {
        let n = file.read_at(&mut buf, off)?;
        if n == 0 {
            return Ok(off);
        }
        if let Some(i) = memchr::memchr(b'\n', &buf[..n]) {
            return Ok(off + i as u64 + 1);
        }
        off += n as u64;
    }
}

/// `--skip-first-line` with `--pipe`: the input after its first line.
struct SkipFirstLine<R> {
    inner: R,
    skipped: bool,
    pending: Vec<u8>,
}

impl<R: Read> Read for SkipFirstLine<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while !self.skipped {
            let mut b = [0u8; 4096];
            let n = self.inner.read(&mut b)?;
            if n == 0 {
                return Ok(0);
            }
            if let Some(i) = memchr::memchr(b'\n', &b[..n]) {
                self.skipped = true;
                let rest = &b[i + 1..n];
                // What was read past the line goes out first.
                let k = rest.len().min(buf.len());
                buf[..k].copy_from_slice(&rest[..k]);
                if k < rest.len() {
                    self.pending = rest[k..].to_vec();
                }
                return Ok(k);
            }
        }
        if !self.pending.is_empty() {
            let k = self.pending.len().min(buf.len());
            buf[..k].copy_from_slice(&self.pending[..k]);
            self.pending.drain(..k);
            return Ok(k);
        }
        self.inner.read(buf)
    }
}

/// The header at the start of the file, as `--pipe` would take it.
fn read_header(file: &File, mode: &PipeMode) -> Result<Vec<u8>> {
    if matches!(mode.header, Header::None) {
        return Ok(Vec::new());
    }
    let opts = ChunkOptions {
        records: Some(1),
        ..chunk_options(mode, 1 << 20)
    };
    // A clone shares the file offset, which nothing else uses: ranges are
    // read at explicit offsets.
    let first = Chunker::new(file.try_clone()?, opts).next().transpose()?;
    Ok(first.map(|c| c.head.to_vec()).unwrap_or_default())
}

/// `--round-robin`: a reader thread cuts chunks into a queue; one job per
/// slot takes chunks from it as fast as it reads.
fn round_robin<R: Read + Send + 'static>(
    chunker: Chunker<R>,
    slots: usize,
    delivery: Delivery,
    error: ReaderError,
) -> Jobs {
    let (queues, progress) = fanout_core::pipe::spawn_reader(chunker, slots, error);
    // Job k starts once there is a k-th chunk (as GNU parallel, no job
    // for an input too small to need it).
    Box::new((1..=slots as u64).zip(queues).map_while(move |(i, queue)| {
        progress.wait_for(i).then(|| {
            Ok(JobArgs {
                seq: JobSeq(i),
                records: Records::new(),
                stdin: input(JobStdin::Shared(queue), delivery),
            })
        })
    }))
}

/// `--tee`: each of `jobs` (the arguments' jobs, all running at once)
/// reads every chunk of stdin from a queue of its own, which a reader
/// thread fills; a job that exits early is dropped from the fan-out.
pub fn tee(mode: &PipeMode, jobs: Vec<JobArgs>, error: ReaderError) -> Jobs {
    let chunker = Chunker::new(stdin(), chunk_options(mode, mode.block as usize));
    let queues = fanout_core::pipe::spawn_tee(chunker, jobs.len(), error);
    Box::new(jobs.into_iter().zip(queues).map(|(mut job, queue)| {
        job.stdin = input(JobStdin::Shared(queue), Delivery::Stdin);
        Ok(job)
    }))
}

/// A job's input: `chunk`, delivered as `delivery`.
pub(crate) fn input(chunk: JobStdin, delivery: Delivery) -> Option<JobInput> {
    Some(JobInput { chunk, delivery })
}
