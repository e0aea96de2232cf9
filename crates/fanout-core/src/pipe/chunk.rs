//! `--pipe`: cutting a stream into chunks of whole records, each about
//! `--block` bytes (or `-N` records), every byte in exactly one chunk, in
//! order. With `--header`, the header is taken off the front once and
//! given to every chunk.

use std::io::{self, Read};
use std::sync::Arc;

use super::split::Splitter;
use crate::stdin::Chunk;
use crate::{Error, Result};

/// What `--header` takes off the front of the input, with `--pipe`.
#[derive(Debug, Clone)]
pub enum Header {
    /// No header.
    None,
    /// The first N lines (`--header :` is 1).
    Lines(usize),
    /// What this pattern matches at the very start.
    Regex(regex::bytes::Regex),
}

/// How input is cut into chunks.
#[derive(Debug, Clone)]
pub struct ChunkOptions {
    /// `--block`: the size a chunk aims for.
    pub block: usize,
    /// Where records end.
    pub splitter: Splitter,
    /// `-N`: records per chunk, instead of `block` bytes.
    pub records: Option<usize>,
    /// `--header`.
    pub header: Header,
    /// `--rrs`: separators taken out of each chunk.
    pub remove_seps: Option<super::RecSeps>,
    /// Told each time a record longer than the block makes the block grow
    /// (old size, new size), as GNU parallel warns.
    pub on_grow: Option<GrowHook>,
}

/// A callback for [`ChunkOptions::on_grow`].
#[derive(Clone)]
pub struct GrowHook(pub Arc<dyn Fn(usize, usize) + Send + Sync>);

impl std::fmt::Debug for GrowHook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("GrowHook")
    }
}

/// Cuts a reader into chunks.
pub struct Chunker<R> {
    src: R,
    opts: ChunkOptions,
    buf: Vec<u8>,
    /// Where the unread part of `buf` begins: small chunks (`-N`) are
    /// copied out from here rather than moving the rest down each time.
    start: usize,
    eof: bool,
    head: Option<Arc<Vec<u8>>>,
    /// The last read waited `--block-timeout` with nothing coming.
    timed_out: bool,
}

/// `--block-timeout`: a source whose reads give up with
/// `ErrorKind::TimedOut` when nothing comes for `timeout`, so the chunker
/// can pass on the partial block it has.
pub struct Timed<R> {
    inner: R,
    timeout: std::time::Duration,
}

impl<R> Timed<R> {
    /// `inner`, read with `timeout`.
    pub fn new(inner: R, timeout: std::time::Duration) -> Self {
        Timed { inner, timeout }
    }
}

impl<R: Read + std::os::fd::AsFd> Read for Timed<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        use rustix::event::{poll, PollFd, PollFlags, Timespec};
        let t = Timespec {
            tv_sec: self.timeout.as_secs() as i64,
            tv_nsec: i64::from(self.timeout.subsec_nanos()),
        };
        let mut fds = [PollFd::new(&self.inner, PollFlags::IN)];
        match poll(&mut fds, Some(&t)) {
            Ok(0) => Err(io::ErrorKind::TimedOut.into()),
            Ok(_) => self.inner.read(buf),
            Err(e) => Err(e.into()),
        }
    }
}

/// Bytes asked of the reader at once when more are needed past a block.
const READ_MORE: usize = 1 << 20;

impl<R: Read> Chunker<R> {
    /// Chunks of `src`.
    pub fn new(src: R, opts: ChunkOptions) -> Self {
        Chunker {
            src,
            buf: Vec::new(),
            start: 0,
            eof: false,
            head: None,
            timed_out: false,
            opts,
        }
    }

    /// Reads until `buf` holds at least `want` bytes or the input ends.
    /// Reads go straight into the buffer's spare capacity (never zeroed
    /// first), however small the pieces a pipe delivers.
    fn fill(&mut self, want: usize) -> io::Result<()> {
        if self.eof || self.data().len() >= want {
            return Ok(());
        }
        if self.start > 0 {
            // Move what is left to the front, once per refill.
            self.buf.drain(..self.start);
            self.start = 0;
        }
        let need = (want - self.buf.len()) as u64;
        self.buf.reserve(need as usize);
        let n = match (&mut self.src).take(need).read_to_end(&mut self.buf) {
            Ok(n) => n,
            // `--block-timeout` (a [`Timed`] source): what came so far stays.
            Err(e) if e.kind() == io::ErrorKind::TimedOut => {
                self.timed_out = true;
                return Ok(());
            }
            Err(e) => return Err(e),
        };
        if (n as u64) < need {
            self.eof = true;
        }
        Ok(())
    }

    /// Takes the header off the front, once.
    fn read_header(&mut self) -> io::Result<Arc<Vec<u8>>> {
        if matches!(self.opts.header, Header::None) {
            return Ok(Arc::new(Vec::new()));
        }
        let mut want = self.opts.block.max(READ_MORE);
        let len = loop {
            self.fill(want)?;
            let found = match &self.opts.header {
                Header::None => Some(0),
                Header::Lines(n) => memchr::memchr_iter(b'\n', &self.buf)
                    .nth(n - 1)
                    .map(|i| i + 1),
                Header::Regex(re) => re
                    .find(&self.buf)
                    .filter(|m| m.start() == 0)
                    .map(|m| m.end()),
            };
            match found {
                Some(len) => break len,
                // No header where one was expected: there is none, and
                // every byte stays input (as GNU parallel's find_header).
                None if self.eof => break 0,
                None => want = self.buf.len() + READ_MORE,
            }
        };
        let rest = self.buf.split_off(len);
        Ok(Arc::new(std::mem::replace(&mut self.buf, rest)))
    }

    /// The bytes read but not yet given out.
    fn data(&self) -> &[u8] {
        &self.buf[self.start..]
    }

    /// Where the next chunk ends in `data()`, if it is complete.
    fn cut(&self) -> Option<usize> {
        let s = &self.opts.splitter;
        let data = self.data();
        if let Some(n) = self.opts.records {
            return s.nth_cut(data, n);
        }
        if data.len() < self.opts.block {
            return None;
        }
        // The last record end within the block, or else the first one
        // after it (a record longer than the block stays whole).
        s.last_cut(&data[..self.opts.block])
            .or_else(|| s.nth_cut(data, 1))
    }

    /// Takes the first `cut` bytes of `data()` as a chunk body.
    fn take(&mut self, cut: usize) -> Vec<u8> {
        if self.start == 0 && cut * 2 >= self.buf.len() {
            // Most of the buffer: hand it over and keep the small rest.
            let rest = self.buf[cut..].to_vec();
            let mut body = std::mem::replace(&mut self.buf, rest);
            body.truncate(cut);
            return body;
        }
        let body = self.data()[..cut].to_vec();
        self.start += cut;
        body
    }

    /// GNU parallel's block growth: while a block holds no record end, it
    /// grows by 30% (plus one byte), with a warning each time, and stays
    /// grown. (fanout keeps a long record whole either way; this makes the
    /// later chunks and the warnings GNU's.)
    fn grow(&mut self) {
        const MAX: usize = (1 << 31) - 1;
        let growable = matches!(
            self.opts.splitter,
            Splitter::Literal { .. } | Splitter::Regex(_)
        );
        if self.opts.records.is_some() || !growable {
            return;
        }
        let (start, len) = (self.start, self.buf.len());
        let mut block = self.opts.block;
        while block < MAX
            && len - start >= block
            && self
                .opts
                .splitter
                .last_cut(&self.buf[start..start + block])
                .is_none()
        {
            let grown = ((block as f64 * 1.3 + 1.0).ceil() as usize).min(MAX);
            if let Some(h) = &self.opts.on_grow {
                (h.0)(block, grown);
            }
            block = grown;
        }
        self.opts.block = block;
    }

    fn strip(&self, body: Vec<u8>) -> Vec<u8> {
        match &self.opts.remove_seps {
            Some(r) => r.remove(body),
            None => body,
        }
    }

    fn next_chunk(&mut self) -> io::Result<Option<Chunk>> {
        let head = match &self.head {
            Some(h) => h.clone(),
            None => {
                let h = self.read_header()?;
                self.head = Some(h.clone());
                h
            }
        };
        let mut want = self.opts.block;
        loop {
            self.grow();
            if let Some(cut) = self.cut() {
                let body = self.take(cut);
                let body = self.strip(body);
                return Ok(Some(Chunk { head, body }));
            }
            if self.eof {
                let left = self.data().len();
                if left == 0 {
                    return Ok(None);
                }
                // With -L, lines short of a whole record at the end are a
                // chunk of their own, as in GNU parallel.
                let cut = match self.opts.splitter {
                    Splitter::Lines(_) => self.opts.splitter.last_cut(self.data()),
                    _ => None,
                };
                let body = self.take(cut.unwrap_or(left));
                let body = self.strip(body);
                return Ok(Some(Chunk { head, body }));
            }
            want = want.max(self.data().len() + READ_MORE.min(self.opts.block.max(1)));
            self.fill(want)?;
            if std::mem::take(&mut self.timed_out) {
                // Nothing more for a while: the whole records so far go.
                if let Some(cut) = self.opts.splitter.last_cut(self.data()) {
                    let body = self.take(cut);
                    let body = self.strip(body);
                    return Ok(Some(Chunk { head, body }));
                }
            }
        }
    }
}

impl<R: Read> Iterator for Chunker<R> {
    type Item = Result<Chunk>;

    fn next(&mut self) -> Option<Result<Chunk>> {
        self.next_chunk().map_err(Error::InputRead).transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunks(
        input: &[u8],
        block: usize,
        records: Option<usize>,
        header: Header,
    ) -> Vec<(Vec<u8>, Vec<u8>)> {
        let opts = ChunkOptions {
            block,
            splitter: Splitter::new(b"\n", b"", false, None).unwrap(),
            records,
            header,
            remove_seps: None,
            on_grow: None,
        };
        Chunker::new(input, opts)
            .map(|c| {
                let c = c.unwrap();
                (c.head.to_vec(), c.body)
            })
            .collect()
    }

    #[test]
    fn every_byte_lands_in_exactly_one_chunk() {
        let input = b"one\ntwo\nthree\nfour\nfive";
        let got = chunks(input, 9, None, Header::None);
        let bodies: Vec<&[u8]> = got.iter().map(|c| c.1.as_slice()).collect();
        assert_eq!(bodies, [&b"one\ntwo\n"[..], b"three\n", b"four\n", b"five"]);
        assert_eq!(bodies.concat(), input);
    }

    #[test]
    fn a_record_longer_than_the_block_is_kept_whole_and_grows_the_block() {
        // 3 grows to 5, 8, 12 (GNU's steps) before a record ends inside
        // it; the grown block then takes both records.
        let got = chunks(b"abcdefgh\nij\n", 3, None, Header::None);
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].1, b"abcdefgh\nij\n");
        let got = chunks(b"abcdefgh\nij\nklmnopqrstuvwxyz\n", 3, None, Header::None);
        assert_eq!(got[0].1, b"abcdefgh\nij\n");
        assert_eq!(got[1].1, b"klmnopqrstuvwxyz\n");
    }

    #[test]
    fn n_records_per_chunk_and_the_header_on_each() {
        let got = chunks(b"h\n1\n2\n3\n", 1 << 20, Some(2), Header::Lines(1));
        assert_eq!(
            got,
            [
                (b"h\n".to_vec(), b"1\n2\n".to_vec()),
                (b"h\n".to_vec(), b"3\n".to_vec())
            ]
        );
        assert!(chunks(b"", 10, None, Header::None).is_empty());
    }
}
