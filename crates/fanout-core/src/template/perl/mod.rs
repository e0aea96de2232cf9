//! `{= perl =}` replacement strings: one perl coprocess per fanout
//! process (so one per run), started when the first template that needs it
//! is prepared, fed every evaluation of a job in one request.
//!
//! Why one shared process and not one per template: a run has its command
//! template and maybe `--tagstring` and `--results` templates; GNU parallel
//! evaluates them all in its own perl, where globals set by one expression
//! are seen by the next. Why a coprocess at all: fanout is not perl, and a
//! perl start per job (~2 ms) would cost more than most jobs.
//!
//! The protocol is in `prelude.pl`: length-prefixed requests and answers,
//! so values may hold any byte.

mod ahead;

use std::collections::HashMap;
use std::ffi::OsString;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::{Mutex, MutexGuard};

pub(crate) use ahead::{ahead, RunState};

use crate::{Error, Result};

/// The program the coprocess runs.
const PRELUDE: &str = include_str!("prelude.pl");

/// A job as its expressions see it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct JobView {
    /// `seq()`, `$job->seq()`.
    pub seq: u64,
    /// `slot()`.
    pub slot: u32,
    /// `total_jobs()` (0 when not known).
    pub total: u64,
    /// The run's number of slots (`{0%}`).
    pub slots: u64,
    /// Jobs ended so far (`$Global::total_completed`).
    pub completed: u64,
}

/// One expression's value for a job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Value {
    /// What `$_` held afterwards.
    pub bytes: Vec<u8>,
    /// `uq()` was called: insert it unquoted.
    pub unquoted: bool,
}

/// What a job's expressions came to.
#[derive(Debug, Default, Clone)]
pub(crate) struct Answers {
    /// One value per request, in order.
    pub values: Vec<Value>,
    /// `skip()` was called: the job is not run.
    pub skip: bool,
}

/// The running coprocess.
struct Perl {
    child: Child,
    to: ChildStdin,
    from: BufReader<ChildStdout>,
    /// Compiled expressions by their code.
    ids: HashMap<Vec<u8>, u32>,
}

static PERL: Mutex<Option<Perl>> = Mutex::new(None);

fn lock() -> MutexGuard<'static, Option<Perl>> {
    // A panic while holding it leaves at worst a process to restart.
    PERL.lock().unwrap_or_else(|e| e.into_inner())
}

/// The perl to run: `$FANOUT_PERL` (tests count starts through it), else
/// `perl` on `PATH`.
fn program() -> OsString {
    std::env::var_os("FANOUT_PERL").unwrap_or_else(|| "perl".into())
}

impl Perl {
    fn start() -> Result<Perl> {
        let mut cmd = Command::new(program());
        cmd.arg("-e")
            .arg(PRELUDE)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        // Its own process group: a Ctrl-C at the terminal is fanout's to
        // handle, and must not end the evaluator under running jobs.
        std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
        let mut child = cmd.spawn().map_err(|e| match e.kind() {
            io::ErrorKind::NotFound => Error::PerlMissing,
            _ => Error::Perl(format!("cannot start perl: {e}")),
        })?;
        let to = child.stdin.take().expect("piped");
        let from = BufReader::new(child.stdout.take().expect("piped"));
        Ok(Perl {
            child,
            to,
            from,
            ids: HashMap::new(),
        })
    }

    /// The id of `code`, compiled now if it is new.
    fn compile(&mut self, code: &[u8]) -> Result<u32> {
        if let Some(&id) = self.ids.get(code) {
            return Ok(id);
        }
        let mut req = format!("C {}\n", code.len()).into_bytes();
        req.extend_from_slice(code);
        self.send(&req)?;
        let line = self.line()?;
        let id = match line.strip_prefix("K ") {
            Some(id) => id.parse().map_err(|_| self.garbled())?,
            None => return Err(self.failure(&line, code)),
        };
        self.ids.insert(code.to_vec(), id);
        Ok(id)
    }

    fn eval(&mut self, job: JobView, args: &[&[u8]], reqs: &[(u32, &[u8])]) -> Result<Answers> {
        let mut req = Vec::with_capacity(64);
        let head = format!(
            "J {} {} {} {} {} {} {}\n",
            job.seq,
            job.slot,
            job.total,
            job.slots,
            job.completed,
            args.len(),
            reqs.len()
        );
        req.extend_from_slice(head.as_bytes());
        for a in args {
            req.extend_from_slice(format!("{}\n", a.len()).as_bytes());
            req.extend_from_slice(a);
        }
        for (id, value) in reqs {
            req.extend_from_slice(format!("{id} {}\n", value.len()).as_bytes());
            req.extend_from_slice(value);
        }
        self.send(&req)?;
        let line = self.line()?;
        let skip = match line.as_str() {
            "R 0" => false,
            "R 1" => true,
            _ => return Err(self.failure(&line, b"")),
        };
        let mut values = Vec::with_capacity(reqs.len());
        for _ in reqs {
            let line = self.line()?;
            let (len, uq) = line.split_once(' ').ok_or_else(|| self.garbled())?;
            let len: usize = len.parse().map_err(|_| self.garbled())?;
            let mut bytes = vec![0; len];
            self.from.read_exact(&mut bytes).map_err(|e| self.gone(e))?;
            values.push(Value {
                bytes,
                unquoted: uq == "1",
            });
        }
        Ok(Answers { values, skip })
    }

    fn send(&mut self, req: &[u8]) -> Result<()> {
        self.to
            .write_all(req)
            .map_err(|e| Error::Perl(format!("perl is gone: {e}")))
    }

    fn line(&mut self) -> Result<String> {
        let mut line = String::new();
        match self.from.read_line(&mut line) {
            Ok(0) => Err(Error::Perl("perl ended".into())),
            Ok(_) => Ok(line.trim_end_matches('\n').to_owned()),
            Err(e) => Err(self.gone(e)),
        }
    }

    /// An "E <len>" answer, read out as the error it reports.
    fn failure(&mut self, line: &str, code: &[u8]) -> Error {
        let Some(len) = line
            .strip_prefix("E ")
            .and_then(|l| l.parse::<usize>().ok())
        else {
            return self.garbled();
        };
        let mut msg = vec![0; len];
        if let Err(e) = self.from.read_exact(&mut msg) {
            return self.gone(e);
        }
        let msg = String::from_utf8_lossy(&msg).into_owned();
        match code {
            [] => Error::Perl(msg),
            code => Error::Perl(format!(
                "cannot use {}: {msg}",
                String::from_utf8_lossy(code).trim()
            )),
        }
    }

    fn garbled(&self) -> Error {
        Error::Perl("perl answered what fanout did not ask for".into())
    }

    fn gone(&self, e: io::Error) -> Error {
        Error::Perl(format!("perl is gone: {e}"))
    }
}

impl Drop for Perl {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs `f` on the coprocess, starting it first if it is not running (or
/// died: a fresh one takes over, without the globals expressions set).
fn with<T>(f: impl FnOnce(&mut Perl) -> Result<T>) -> Result<T> {
    let mut guard = lock();
    let alive = match guard.as_mut() {
        Some(p) => matches!(p.child.try_wait(), Ok(None)),
        None => false,
    };
    if !alive {
        *guard = Some(Perl::start()?);
    }
    f(guard.as_mut().expect("started above"))
}

/// Compiles `code` (starting perl if needed), so that a bad expression or
/// a missing perl is found before any job starts.
pub(crate) fn compile(code: &[u8]) -> Result<()> {
    with(|p| p.compile(code)).map(drop)
}

/// `--filter`: whether perl finds `text` (a filter with the job's values
/// in it) true. The text goes as a value to one fixed expression that
/// `eval`s it, so nothing per job is compiled and kept; code that dies is
/// false, as GNU parallel's `eval` makes it.
pub(crate) fn truth(job: JobView, text: &[u8]) -> Result<bool> {
    const CODE: &[u8] = b"$_ = (eval $_) ? 1 : ''";
    let a = eval(job, &[], &[(CODE, text)])?;
    Ok(a.values.first().is_some_and(|v| !v.bytes.is_empty()))
}

/// Evaluates each `(code, value)` of one job in one request: `$_` is the
/// value, `@arg` is `(undef, args...)`.
pub(crate) fn eval(job: JobView, args: &[&[u8]], reqs: &[(&[u8], &[u8])]) -> Result<Answers> {
    with(|p| {
        let mut ids = Vec::with_capacity(reqs.len());
        for (code, value) in reqs {
            ids.push((p.compile(code)?, *value));
        }
        p.eval(job, args, &ids)
    })
}
