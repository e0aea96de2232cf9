//! A job's output, part of the data model (a `JobResult` carries it):
//! which stream it came from, and how it is held until it can be printed,
//! in memory while small, then in an unnamed file inside the run's private
//! temp directory, so a job writing gigabytes costs disk, never memory.
//! Every backend fills it; `exec/` re-exports it.

use std::cell::OnceCell;
use std::ffi::OsString;
use std::fs::File;
use std::io::{self, Read, Seek, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::Arc;

/// Which stream of a job a chunk of output came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    /// Standard output.
    Stdout,
    /// Standard error.
    Stderr,
}

/// Where output that outgrows memory goes: unnamed files (`O_TMPFILE`) in
/// the temp directory, which vanish with their last descriptor whatever
/// way fanout exits; and the run's private directory (mode 0700) for the
/// named files of `--cat`, `--fifo` and `--tmux`, made only when one is
/// needed and removed when the spool is dropped.
#[derive(Debug)]
pub struct Spool {
    threshold: usize,
    /// Where the private directory goes (`--tmpdir`); `$TMPDIR` or /tmp
    /// when `None`.
    parent: Option<std::path::PathBuf>,
    dir: OnceCell<tempfile::TempDir>,
    codec: Option<Arc<Codec>>,
}

/// `--compress`: the programs (shell command lines) spool files pass
/// through, GNU parallel's `--compress-program` and
/// `--decompress-program`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Codec {
    /// Reads data on stdin, writes it compressed on stdout.
    pub compress: OsString,
    /// The reverse.
    pub decompress: OsString,
}

impl Spool {
    /// A spool that moves a stream to disk once it holds `threshold` bytes.
    pub fn new(threshold: usize) -> Self {
        Spool::in_dir(threshold, None)
    }

    /// A spool whose private directory is made inside `parent` (`--tmpdir`)
    /// rather than `$TMPDIR`.
    pub fn in_dir(threshold: usize, parent: Option<std::path::PathBuf>) -> Self {
        Spool {
            threshold,
            parent,
            dir: OnceCell::new(),
            codec: None,
        }
    }

    /// Spool files written through `codec`'s compressor (`--compress`).
    pub fn compressed(mut self, codec: Option<Codec>) -> Self {
        self.codec = codec.map(Arc::new);
        self
    }

    /// An unnamed spool file (`O_TMPFILE`) directly in the temp directory:
    /// nothing of it is left on disk whatever way fanout ends, SIGKILL
    /// included. (Only `--cat`/`--fifo` files need the private directory.)
    fn file(&self) -> io::Result<File> {
        match &self.parent {
            Some(p) => tempfile::tempfile_in(p),
            None => tempfile::tempfile(),
        }
    }

    /// A path for a named file in the private directory (`--cat`,
    /// `--fifo`); the caller creates and removes it.
    pub fn path(&self, name: &str) -> io::Result<std::path::PathBuf> {
        Ok(self.ensure_dir()?.join(name))
    }

    fn ensure_dir(&self) -> io::Result<&std::path::Path> {
        if self.dir.get().is_none() {
            use std::os::unix::fs::PermissionsExt;
            let mut b = tempfile::Builder::new();
            b.prefix("fanout-")
                .permissions(std::fs::Permissions::from_mode(0o700));
            let dir = match &self.parent {
                Some(p) => b.tempdir_in(p)?,
                None => b.tempdir()?,
            };
            let _ = self.dir.set(dir);
        }
        Ok(self.dir.get().expect("set above").path())
    }

    /// The directory, if one was needed so far.
    pub fn dir(&self) -> Option<&std::path::Path> {
        self.dir.get().map(tempfile::TempDir::path)
    }
}

/// One stream of a job's output.
#[derive(Debug, Default)]
pub struct Captured {
    mem: Vec<u8>,
    file: Option<File>,
    len: u64,
    /// `--compress`: the file holds the codec's compressed form.
    codec: Option<Arc<Codec>>,
    /// The compressor writing the file, until the stream is sealed.
    coder: Option<(Child, ChildStdin)>,
}

impl Captured {
    /// Output held in memory (as `--dry-run` and tests make it).
    pub fn from_vec(mem: Vec<u8>) -> Self {
        Captured {
            len: mem.len() as u64,
            mem,
            ..Captured::default()
        }
    }

    /// Appends output, moving to a spool file past the threshold.
    pub fn push(&mut self, data: &[u8], spool: &Spool) -> io::Result<()> {
        self.len += data.len() as u64;
        if let Some((_, stdin)) = &mut self.coder {
            return stdin.write_all(data);
        }
        if let Some(f) = &mut self.file {
            return f.write_all(data);
        }
        if self.mem.len() + data.len() <= spool.threshold {
            self.mem.extend_from_slice(data);
            return Ok(());
        }
        let mut f = spool.file()?;
        let mem = std::mem::take(&mut self.mem);
        if let Some(codec) = &spool.codec {
            let mut child = shell(&codec.compress)
                .stdin(Stdio::piped())
                .stdout(f.try_clone()?)
                .spawn()?;
            let mut stdin = child.stdin.take().expect("piped");
            stdin.write_all(&mem)?;
            stdin.write_all(data)?;
            self.coder = Some((child, stdin));
            self.codec = Some(codec.clone());
        } else {
            f.write_all(&mem)?;
            f.write_all(data)?;
        }
        self.file = Some(f);
        Ok(())
    }

    /// Ends the stream: a compressor writing the spool file finishes (the
    /// engine calls this when the job's output has all been read).
    pub fn seal(&mut self) -> io::Result<()> {
        let Some((mut child, stdin)) = self.coder.take() else {
            return Ok(());
        };
        drop(stdin);
        finished(child.wait(), "--compress-program")
    }

    /// Number of bytes captured.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// True when nothing was captured.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// True when the output was moved to a spool file.
    pub fn is_spooled(&self) -> bool {
        self.file.is_some()
    }

    /// Calls `f` with the output in order, chunk by chunk.
    pub fn for_each_chunk(&self, mut f: impl FnMut(&[u8]) -> io::Result<()>) -> io::Result<()> {
        let Some(mut file) = self.file.as_ref() else {
            return if self.mem.is_empty() {
                Ok(())
            } else {
                f(&self.mem)
            };
        };
        file.rewind()?;
        if let Some(codec) = &self.codec {
            return decompressed(file, codec, |r| read_chunks(r, &mut f));
        }
        read_chunks(&mut file, f)
    }

    /// Copies the output to `w` (from a spool file by `copy_file_range`/
    /// `sendfile` where the OS allows).
    pub fn copy_to(&self, w: &mut impl Write) -> io::Result<()> {
        match self.file.as_ref() {
            None => w.write_all(&self.mem),
            Some(mut file) => {
                file.rewind()?;
                match &self.codec {
                    Some(codec) => decompressed(file, codec, |r| io::copy(r, w).map(drop)),
                    None => io::copy(&mut file, w).map(drop),
                }
            }
        }
    }

    /// The whole output as bytes (reads a spool file into memory).
    pub fn to_vec(&self) -> io::Result<Vec<u8>> {
        let mut out = Vec::with_capacity(self.len as usize);
        self.for_each_chunk(|c| {
            out.extend_from_slice(c);
            Ok(())
        })?;
        Ok(out)
    }
}

fn read_chunks(r: &mut impl Read, mut f: impl FnMut(&[u8]) -> io::Result<()>) -> io::Result<()> {
    let mut buf = vec![0; 64 * 1024];
    loop {
        let n = r.read(&mut buf)?;
        if n == 0 {
            return Ok(());
        }
        f(&buf[..n])?;
    }
}

/// Runs `use_it` on what the decompressor makes of `file`.
fn decompressed(
    file: &File,
    codec: &Codec,
    use_it: impl FnOnce(&mut std::process::ChildStdout) -> io::Result<()>,
) -> io::Result<()> {
    let mut child = shell(&codec.decompress)
        .stdin(file.try_clone()?)
        .stdout(Stdio::piped())
        .spawn()?;
    let mut out = child.stdout.take().expect("piped");
    let used = use_it(&mut out);
    drop(out);
    let done = finished(child.wait(), "--decompress-program");
    used.and(done)
}

fn shell(line: &OsString) -> Command {
    let mut c = Command::new("/bin/sh");
    c.arg("-c").arg(line);
    c
}

/// A helper's exit: an error when it failed. ECHILD means fanout's own
/// reaper of escaped descendants took its status first: nothing to say.
fn finished(r: io::Result<std::process::ExitStatus>, what: &str) -> io::Result<()> {
    match r {
        Ok(st) if st.success() => Ok(()),
        Ok(st) => Err(io::Error::other(format!("{what} failed ({st})"))),
        Err(e) if e.raw_os_error() == Some(libc::ECHILD) => Ok(()),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spills_to_disk_past_the_threshold_and_reads_back_in_order() {
        let tmp = tempfile::tempdir().unwrap();
        let spool = Spool::in_dir(8, Some(tmp.path().to_owned()));
        let mut c = Captured::default();
        c.push(b"hello ", &spool).unwrap();
        assert!(!c.is_spooled());
        c.push(b"world, longer", &spool).unwrap();
        assert!(c.is_spooled());
        assert_eq!(c.to_vec().unwrap(), b"hello world, longer");
        assert!(spool.dir().is_none(), "no directory for spool files");
        assert_eq!(
            std::fs::read_dir(tmp.path()).unwrap().count(),
            0,
            "spool files have no name"
        );
        let named = spool.path("fifo").unwrap();
        let dir = spool.dir().unwrap().to_owned();
        assert_eq!(named.parent(), Some(dir.as_path()));
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&dir).unwrap().permissions().mode() & 0o777,
            0o700
        );
        drop(spool);
        assert!(!dir.exists(), "the private directory goes with the spool");
    }

    #[test]
    fn a_compressed_spool_file_reads_back_as_it_was_written() {
        let codec = Codec {
            compress: "gzip -c -1".into(),
            decompress: "gzip -dc".into(),
        };
        let spool = Spool::new(4).compressed(Some(codec));
        let mut c = Captured::default();
        let data = b"abcdefgh".repeat(10_000);
        c.push(&data[..3], &spool).unwrap();
        c.push(&data[3..], &spool).unwrap();
        c.seal().unwrap();
        let mut raw = Vec::new();
        let mut f = c.file.as_ref().unwrap();
        f.rewind().unwrap();
        f.read_to_end(&mut raw).unwrap();
        assert!(raw.len() < data.len() / 10, "the file is compressed");
        assert_eq!(c.to_vec().unwrap(), data);
        let mut copied = Vec::new();
        c.copy_to(&mut copied).unwrap();
        assert_eq!(copied, data);
    }
}
