//! Starting a job: render its command, take a slot, spawn its process in
//! its own process group and hand it to the event loop.

use std::io::{self, Write};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use std::time::{Instant, SystemTime};
use tempfile::TempPath;

use super::run::{Meta, Run};
use super::Commands;
use crate::exec::{self, Captured, DriveCtx, Feeder, Program, StdinKind};
use crate::job::{ExitKind, JobArgs, JobSeq, Records, SlotId};
use crate::pipe::{Body, Delivery, JobStdin};
use crate::{Event, OutputMode, Sink};

impl<S: Sink> Run<'_, S> {
    /// Starts `job`: new from the input (`None`), or run again after
    /// failing `attempt` times.
    pub(super) fn start(&mut self, mut job: JobArgs, again: Option<u32>, commands: &Commands) {
        let attempt = again.unwrap_or(0);
        let slot = self
            .dispatch
            .slots
            .acquire()
            .expect("started only with a free slot");
        let mut temp = self.chunk_file(&mut job, attempt);
        let command = commands.render(&job, slot);
        let seq = job.seq;
        if again.is_none() {
            self.verdict.started();
        }
        self.emit(Event::Started {
            seq,
            slot,
            command: &command,
            args: &job.records,
        });
        let now = Instant::now();
        self.throttle.started(now);
        if self.mem_check.is_none() {
            self.mem_check = self.throttle.watch_interval().map(|d| now + d);
        }
        let m = Meta {
            slot,
            pgid: 0,
            command,
            job,
            start: now,
            started_at: SystemTime::now(),
            attempt,
            temp: temp.as_mut().ok().and_then(Option::take),
        };
        if let Err(e) = temp {
            let msg = format!("fanout: cannot start job {seq}: {e}\n").into_bytes();
            let exit = ExitKind::SpawnFailed(e.raw_os_error().unwrap_or(0));
            return self.done(m, exit, Captured::default(), Captured::from_vec(msg));
        }
        if self.cfg.dry_run {
            let mut line = m.command.clone();
            line.push(b'\n');
            return self.done(
                m,
                ExitKind::Code(0),
                Captured::from_vec(line),
                Captured::default(),
            );
        }
        self.launch(seq, m, commands);
    }

    /// Starts the job's process and hands it to the event loop.
    fn launch(&mut self, seq: JobSeq, mut m: Meta, commands: &Commands) {
        let prog = match commands {
            Commands::Argv => Program::argv(m.job.records.values().map(<[u8]>::to_vec)),
            Commands::Template { .. } => Program::for_line(&m.command, &self.cfg.shell),
        };
        let input = m.job.stdin.as_ref();
        let stdin = match input.map(|i| (&i.chunk, i.delivery)) {
            Some((JobStdin::Block { body, .. }, Delivery::Stdin))
                if matches!(**body, Body::File { .. }) =>
            {
                StdinKind::Socket
            }
            Some((_, Delivery::Stdin)) => StdinKind::Pipe,
            _ => StdinKind::Null,
        };
        match self.spawn(&prog, &m.command, seq, m.slot, stdin) {
            Ok(mut sp) => {
                m.pgid = sp.pid;
                let input = m.job.stdin.clone().map(|i| (i.chunk, i.delivery));
                let feeder = match input {
                    Some((stdin, Delivery::Stdin)) => {
                        let fed = sp.stdin.take().map(|fd| Feeder::pipe(fd, stdin));
                        if let Some(Err(_)) = fed {
                            // The chunk cannot be delivered: the job must
                            // not run (and succeed) on an empty stdin.
                            exec::kill_group(sp.pid, libc::SIGKILL);
                        }
                        fed.and_then(Result::ok)
                    }
                    Some((stdin, Delivery::Fifo)) => m
                        .temp
                        .as_deref()
                        .map(|p| Feeder::fifo(p.to_path_buf(), stdin)),
                    _ => None,
                };
                self.killing.started(seq, m.start);
                self.meta.insert(seq, m);
                let ctx = DriveCtx {
                    spool: self.spool,
                    live: self.live_tx.clone(),
                };
                self.running
                    .push(Box::pin(exec::drive(seq, sp, ctx, feeder)));
            }
            Err(e) => {
                let msg = format!("fanout: cannot start job {seq}: {e}\n").into_bytes();
                let exit = ExitKind::SpawnFailed(e.raw_os_error().unwrap_or(0));
                self.done(m, exit, Captured::default(), Captured::from_vec(msg));
            }
        }
    }

    /// Spawns the job; a program that cannot be executed directly gets the
    /// shell's chance, and so the shell's message and status (127, 126).
    fn spawn(
        &self,
        prog: &Program,
        line: &[u8],
        seq: JobSeq,
        slot: SlotId,
        stdin: StdinKind,
    ) -> io::Result<exec::Spawned> {
        let (seq_s, slot_s) = (seq.to_string(), slot.to_string());
        let env = [
            ("PARALLEL_SEQ", seq_s.as_str()),
            ("PARALLEL_JOBSLOT", slot_s.as_str()),
        ];
        let capture = self.cfg.output != OutputMode::Ungroup;
        match exec::spawn(prog, &env, capture, stdin) {
            // ENOEXEC: a script without `#!`, which a shell runs with sh.
            Err(e)
                if matches!(prog, Program::Direct(_))
                    && (matches!(
                        e.kind(),
                        io::ErrorKind::NotFound | io::ErrorKind::PermissionDenied
                    ) || e.raw_os_error() == Some(libc::ENOEXEC)) =>
            {
                exec::spawn(&Program::shell(line, &self.cfg.shell), &env, capture, stdin)
            }
            other => other,
        }
    }

    /// `--cat` and `--fifo`: makes the file or fifo that `{}` names in the
    /// job's command (in the run's private directory) and puts its path in
    /// the job's values. `None` when the chunk goes to stdin.
    fn chunk_file(&self, job: &mut JobArgs, attempt: u32) -> io::Result<Option<TempPath>> {
        let Some(input) = &job.stdin else {
            return Ok(None);
        };
        if input.delivery == Delivery::Stdin {
            return Ok(None);
        }
        // Removed when dropped: on an error below, or with the job's state.
        let path =
            TempPath::try_from_path(self.spool.path(&format!("chunk-{}-{attempt}", job.seq))?)?;
        // A dry run only shows the name, as GNU parallel writes nothing.
        if !self.cfg.dry_run {
            match input.delivery {
                Delivery::Cat => write_chunk(&path, &input.chunk)?,
                _ => rustix::fs::mkfifoat(
                    rustix::fs::CWD,
                    &*path,
                    rustix::fs::Mode::from_raw_mode(0o600),
                )?,
            }
        }
        job.records = Records::one([path.as_os_str().as_bytes()]);
        Ok(Some(path))
    }
}

/// `--cat`: the chunk in a file of its own.
fn write_chunk(path: &Path, stdin: &JobStdin) -> io::Result<()> {
    let JobStdin::Block { head, body } = stdin else {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "--cat needs a chunk per job",
        ));
    };
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)?;
    f.write_all(head)?;
    match &**body {
        Body::Bytes(b) => f.write_all(b),
        Body::File { file, offset, len } => copy_range(file, *offset, *len, &mut f),
    }
}

/// Copies a file range, in the kernel where it can (`copy_file_range`
/// fails across filesystems, e.g. to a tmpfs `$TMPDIR`), else by reads.
fn copy_range(
    file: &std::fs::File,
    offset: u64,
    len: u64,
    to: &mut std::fs::File,
) -> io::Result<()> {
    use std::os::unix::fs::FileExt;
    let (mut off, mut left) = (offset, len);
    while left > 0 {
        match rustix::fs::copy_file_range(file, Some(&mut off), &*to, None, left as usize) {
            Ok(0) => return Ok(()),
            Ok(n) => left -= n as u64,
            Err(_) => break,
        }
    }
    let mut buf = vec![0; 1 << 16];
    while left > 0 {
        let n = file.read_at(&mut buf[..left.min(1 << 16) as usize], off)?;
        if n == 0 {
            return Ok(());
        }
        to.write_all(&buf[..n])?;
        off += n as u64;
        left -= n as u64;
    }
    Ok(())
}
