//! Keeping job output in files: `--results DIR` (GNU parallel's layout,
//! `DIR/1/<value>/2/<value>/{seq,stdout,stderr}`, or a path built from
//! replacement strings) and `--files` (each job's stdout in a file of its
//! own, whose name is printed instead).

use std::ffi::OsStr;
use std::fs;
use std::io::{self, Write};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::error::{FileKind, FileWriteError};
use crate::event::{Event, Observer};
use crate::exec::Captured;
use crate::job::JobResult;
use crate::template::{RenderCtx, Template};

/// Where `--results` puts each job's files.
#[derive(Debug)]
pub enum ResultsLayout {
    /// `DIR/<name>/<value>/...` for each input column, with files `seq`,
    /// `stdout` and `stderr` inside. Names are `--header` names or the
    /// column numbers.
    Tree {
        /// The results directory.
        dir: PathBuf,
        /// Column names; column N without a name is called N.
        names: Vec<Vec<u8>>,
    },
    /// A path rendered per job: a directory (ending in `/`) holding `seq`,
    /// `stdout` and `stderr`, or files `PATH`, `PATH.err` and `PATH.seq`.
    Template(Template),
}

/// Writes every finished job's output under `--results`.
#[derive(Debug)]
pub struct ResultsDir {
    layout: ResultsLayout,
    /// `--compress`: the files are written compressed, as GNU's are.
    compress: Option<std::ffi::OsString>,
}

impl ResultsDir {
    /// Results in `layout`.
    pub fn new(layout: ResultsLayout) -> Self {
        ResultsDir {
            layout,
            compress: None,
        }
    }

    /// Output files written through this compress program (`--compress`).
    pub fn compressed(mut self, program: Option<std::ffi::OsString>) -> Self {
        self.compress = program;
        self
    }

    /// The three files of job `r`: stdout, stderr and seq.
    fn paths(&self, r: &JobResult) -> [PathBuf; 3] {
        match &self.layout {
            ResultsLayout::Tree { dir, names } => {
                let mut d = dir.clone();
                for rec in r.records.iter() {
                    let mut cols: Vec<(Vec<u8>, &[u8])> = rec
                        .enumerate()
                        .map(|(i, v)| {
                            // An empty header name is the column's number.
                            let name = names.get(i).filter(|n| !n.is_empty()).cloned();
                            (name.unwrap_or_else(|| (i + 1).to_string().into_bytes()), v)
                        })
                        .collect();
                    // As GNU parallel: the directories go in the order of
                    // the names (a column's number when it has none) read
                    // as perl numbers, then as text.
                    cols.sort_by(|a, b| {
                        perl_number(&a.0)
                            .total_cmp(&perl_number(&b.0))
                            .then_with(|| a.0.cmp(&b.0))
                    });
                    for (name, v) in cols {
                        d.push(OsStr::from_bytes(&dir_name(&name)));
                        d.push(OsStr::from_bytes(&dir_name(v)));
                    }
                }
                ["stdout", "stderr", "seq"].map(|f| d.join(f))
            }
            ResultsLayout::Template(t) => {
                let path = t.render_vec(&RenderCtx {
                    records: &r.records,
                    seq: r.seq,
                    slot: r.slot,
                    context: false,
                });
                if path.ends_with(b"/") {
                    let d = PathBuf::from(OsStr::from_bytes(&path));
                    return ["stdout", "stderr", "seq"].map(|f| d.join(f));
                }
                let with = |ext: &[u8]| {
                    let mut p = path.clone();
                    p.extend_from_slice(ext);
                    PathBuf::from(OsStr::from_bytes(&p))
                };
                [with(b""), with(b".err"), with(b".seq")]
            }
        }
    }

    fn write(&self, r: &JobResult) -> io::Result<()> {
        let [out, err, seq] = self.paths(r);
        let compress = self.compress.as_ref();
        write_file(&out, |f| copy_maybe_compressed(&r.stdout, f, compress))?;
        write_file(&err, |f| copy_maybe_compressed(&r.stderr, f, compress))?;
        write_file(&seq, |f| f.write_all(r.seq.to_string().as_bytes()))
    }
}

impl Observer for ResultsDir {
    /// Writes the job's files; the output is then not printed, as with
    /// GNU parallel.
    fn observe(&mut self, event: &mut Event<'_>) -> io::Result<()> {
        let Event::Finished(r) = event else {
            return Ok(());
        };
        self.write(r)?;
        r.stdout = Captured::default();
        r.stderr = Captured::default();
        Ok(())
    }
}

/// A value as one path component, quoted as GNU parallel does:
/// `\` as `\\`, TAB as `\t`, NUL as `\0`, `/` as `\_`; cut to 255 bytes.
/// Unlike GNU, `.` and `..` become `\.` and `\..`, so no value can lead
/// out of the results directory.
pub fn dir_name(v: &[u8]) -> Vec<u8> {
    if v == b"." || v == b".." {
        return [&b"\\"[..], v].concat();
    }
    let mut out = Vec::with_capacity(v.len());
    for &b in v {
        match b {
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\t' => out.extend_from_slice(b"\\t"),
            0 => out.extend_from_slice(b"\\0"),
            b'/' => out.extend_from_slice(b"\\_"),
            b => out.push(b),
        }
    }
    out.truncate(255);
    out
}

/// Writes the output into `f`, through `compress` when given.
fn copy_maybe_compressed(
    c: &crate::exec::Captured,
    f: &mut fs::File,
    compress: Option<&std::ffi::OsString>,
) -> io::Result<()> {
    let Some(program) = compress else {
        return c.copy_to(f);
    };
    let mut child = std::process::Command::new("/bin/sh")
        .arg("-c")
        .arg(program)
        .stdin(std::process::Stdio::piped())
        .stdout(f.try_clone()?)
        .spawn()?;
    let mut stdin = child.stdin.take().expect("piped");
    let copied = c.copy_to(&mut stdin);
    drop(stdin);
    let status = child.wait();
    copied?;
    match status {
        Ok(st) if !st.success() => Err(io::Error::other(format!(
            "--compress-program failed ({st})"
        ))),
        Err(e) if e.raw_os_error() != Some(libc::ECHILD) => Err(e),
        _ => Ok(()),
    }
}

/// What perl makes of `s` as a number: its leading decimal number, or 0.
fn perl_number(s: &[u8]) -> f64 {
    let t = std::str::from_utf8(s).unwrap_or("").trim_start();
    let mut end = 0;
    for (i, c) in t.char_indices() {
        let ok = c.is_ascii_digit() || (c == '.') || (i == 0 && (c == '-' || c == '+'));
        if !ok {
            break;
        }
        end = i + c.len_utf8();
    }
    (1..=end)
        .rev()
        .find_map(|e| t[..e].parse().ok())
        .unwrap_or(0.0)
}

/// Writes a file whole or not at all: into a temporary name beside it,
/// then renamed into place.
/// The temporary file is created like any other (mode 0666 less the
/// umask, as GNU parallel's files are), not 0600 as `tempfile` makes them.
fn write_file(path: &Path, fill: impl FnOnce(&mut fs::File) -> io::Result<()>) -> io::Result<()> {
    write_whole(path, fill).map_err(|e| FileWriteError::wrap(FileKind::Results, path, e))
}

fn write_whole(path: &Path, fill: impl FnOnce(&mut fs::File) -> io::Result<()>) -> io::Result<()> {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    fs::create_dir_all(dir)?;
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let tmp = dir.join(format!(".fanout-{}-{n}.tmp", std::process::id()));
    let written = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&tmp)
        .and_then(|mut f| fill(&mut f))
        .and_then(|()| fs::rename(&tmp, path));
    if written.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    written
}

/// `--files`: each job's stdout goes to a file `parXXXXXX.par` in a
/// directory, and the file's name is printed in place of the output (its
/// stderr is dropped, as GNU parallel does). The files are the user's to
/// keep.
#[derive(Debug)]
pub struct Files {
    dir: PathBuf,
}

impl Files {
    /// Files in `dir`.
    pub fn new(dir: PathBuf) -> Self {
        Files { dir }
    }
}

impl Observer for Files {
    fn observe(&mut self, event: &mut Event<'_>) -> io::Result<()> {
        let Event::Finished(r) = event else {
            return Ok(());
        };
        let failed = |e| FileWriteError::wrap(FileKind::Files, &self.dir, e);
        let mut f = tempfile::Builder::new()
            .prefix("par")
            .suffix(".par")
            .tempfile_in(&self.dir)
            .map_err(failed)?;
        r.stdout.copy_to(f.as_file_mut()).map_err(failed)?;
        let (_, path) = f.keep().map_err(|e| failed(e.error))?;
        let mut name = path.into_os_string().into_vec();
        name.push(b'\n');
        r.stdout = Captured::from_vec(name);
        // GNU parallel keeps only stdout under --files.
        r.stderr = Captured::default();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_become_safe_path_components() {
        assert_eq!(dir_name(b"b/c"), b"b\\_c");
        assert_eq!(dir_name(b"a\\b\tc\0"), b"a\\\\b\\tc\\0");
        assert_eq!(dir_name(&[b'x'; 300]).len(), 255);
        assert_eq!(dir_name(b".."), b"\\..");
        assert_eq!(dir_name(b"."), b"\\.");
        assert_eq!(dir_name(b"/abs"), b"\\_abs");
    }
}
