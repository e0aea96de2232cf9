//! Starting a job the core gave a slot: render its command, spawn its
//! process in its own process group and hand it to the event loop.

use std::io::{self, Write};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use std::time::Instant;
use tempfile::TempPath;

use super::run::{Local, LocalCore};
use super::Commands;
use crate::exec::{self, Captured, DriveCtx, Feeder, Place, Program, StdinKind};
use crate::job::{ExitKind, JobArgs, JobSeq, Records, SlotId};
use crate::pipe::{Body, Delivery, JobStdin};
use crate::run_core::Ended;
use crate::{OutputMode, Sink, Workdir};

impl Local<'_> {
    /// Starts job `seq`, which the core took a slot for: its `--cat` or
    /// `--fifo` file, its command line, its process.
    pub(super) fn start_job<S: Sink + ?Sized>(
        &mut self,
        core: &mut LocalCore,
        seq: JobSeq,
        sink: &mut S,
    ) {
        let run = core.job_mut(seq).expect("the core started it");
        let ctx = crate::template::RenderCtx {
            records: &run.job.records,
            seq,
            slot: run.slot,
            context: false,
        };
        match self
            .cfg
            .filters
            .iter()
            .try_fold(true, |ok, f| Ok::<_, crate::Error>(ok && f.passes(&ctx)?))
        {
            // --filter false: the job is not run, and nothing reports it.
            Ok(false) => {
                core.forget(seq);
                return;
            }
            Ok(true) => {}
            Err(e) => {
                core.forget(seq);
                return core.fail(e);
            }
        }
        let run = core.job_mut(seq).expect("the core started it");
        let mut temp = self.chunk_file(&mut run.job, run.attempt);
        run.command = match self.commands.compose(&run.job, run.slot) {
            Ok(Some(line)) => line,
            // skip(): the job is not run, and nothing reports it.
            Ok(None) => {
                core.forget(seq);
                return;
            }
            Err(e) => {
                core.forget(seq);
                return core.fail(e);
            }
        };
        run.data.temp = temp.as_mut().ok().and_then(Option::take);
        if let Err(e) = self.write_tmpl(run) {
            core.forget(seq);
            return core.fail(e);
        }
        if let Some(t) = &self.cfg.retries_per_job {
            let ctx = crate::template::RenderCtx {
                records: &run.job.records,
                seq,
                slot: run.slot,
                context: false,
            };
            let mut n = Vec::new();
            let _ = t.try_render(&ctx, &mut n);
            // As perl's number of a string: what does not read as one is 0,
            // which means one try, as 1 does.
            let n = std::str::from_utf8(&n)
                .ok()
                .and_then(|s| s.trim().parse().ok());
            run.retries = Some(n.unwrap_or(0).max(1));
        }
        let slot = run.slot;
        core.announce(seq, slot, sink);
        if let Err(e) = temp {
            return self.not_started(core, seq, e, sink);
        }
        if self.cfg.dry_run {
            let run = core.job(seq).expect("the core started it");
            let mut line = run.command.clone();
            line.push(b'\n');
            let ended = Ended::new(
                seq,
                ExitKind::Code(0),
                Captured::from_vec(line),
                Captured::default(),
            );
            core.ended(ended, Instant::now(), sink);
            return;
        }
        self.launch(core, seq, sink);
    }

    /// `--tmpl`: renders each template file for the job (its path too)
    /// and writes it, before the job starts; kept for removal with
    /// `--cleanup`.
    fn write_tmpl(
        &self,
        run: &mut crate::run_core::Running<super::run::LocalJob>,
    ) -> crate::Result<()> {
        for t in &self.cfg.tmpl {
            let ctx = crate::template::RenderCtx {
                records: &run.job.records,
                seq: run.job.seq,
                slot: run.slot,
                context: false,
            };
            let (mut path, mut text) = (Vec::new(), Vec::new());
            t.path.try_render(&ctx, &mut path)?;
            t.text.try_render(&ctx, &mut text)?;
            let path = std::path::PathBuf::from(std::ffi::OsStr::from_bytes(&path));
            std::fs::write(&path, &text).map_err(|err| crate::Error::TmplWrite {
                path: path.clone(),
                err,
            })?;
            if self.cfg.cleanup {
                let kept = TempPath::try_from_path(&path)
                    .map_err(|err| crate::Error::TmplWrite { path, err })?;
                run.data.tmpl.push(kept);
            }
        }
        Ok(())
    }

    /// Reports a job that could not start, with fanout's message.
    fn not_started<S: Sink + ?Sized>(
        &self,
        core: &mut LocalCore,
        seq: JobSeq,
        e: io::Error,
        sink: &mut S,
    ) {
        let p = &self.cfg.program;
        let msg = format!("{p}: cannot start job {seq}: {e}\n").into_bytes();
        let exit = ExitKind::SpawnFailed(e.raw_os_error().unwrap_or(0));
        let ended = Ended::new(seq, exit, Captured::default(), Captured::from_vec(msg));
        core.ended(ended, Instant::now(), sink);
    }

    /// Starts the job's process and hands it to the event loop.
    fn launch<S: Sink + ?Sized>(&mut self, core: &mut LocalCore, seq: JobSeq, sink: &mut S) {
        let run = core.job_mut(seq).expect("the core started it");
        let prog = match (self.commands, &self.cfg.preamble) {
            (Commands::Argv, _) => Program::argv(run.job.records.values().map(<[u8]>::to_vec)),
            (Commands::Template { .. }, None) => Program::for_line(&run.command, &self.cfg.shell),
            (Commands::Template { .. }, Some(pre)) => {
                let line = [pre.as_slice(), b"\n", &run.command].concat();
                Program::shell(&line, &self.cfg.shell)
            }
        };
        let prog = match &self.cfg.tmux {
            None => prog,
            Some(t) => match self.spool.path(&format!("tmux-{seq}-{}", run.attempt)) {
                Ok(status) => {
                    let inner = match &self.cfg.preamble {
                        Some(pre) => [pre.as_slice(), b"\n", &run.command].concat(),
                        None => run.command.clone(),
                    };
                    Program::shell(&tmux_line(t, seq, &inner, &status), &self.cfg.shell)
                }
                Err(e) => return self.not_started(core, seq, e, sink),
            },
        };
        match workdir(self.cfg.workdir.as_ref(), seq) {
            Ok(dir) => run.data.workdir = dir,
            Err(e) => return self.not_started(core, seq, e, sink),
        }
        let input = run.job.stdin.as_ref();
        let stdin = match input.map(|i| (&i.chunk, i.delivery)) {
            Some((JobStdin::Block { body, .. }, Delivery::Stdin))
                if matches!(**body, Body::File { .. }) =>
            {
                StdinKind::Socket
            }
            Some((_, Delivery::Stdin)) => StdinKind::Pipe,
            _ => StdinKind::Null,
        };
        let cwd = match (&self.cfg.workdir, &run.data.workdir) {
            (_, Some(private)) => Some(private.path().to_path_buf()),
            (Some(Workdir::Dir(d)), None) => Some(d.clone()),
            _ => None,
        };
        match self.spawn(&prog, &run.command, (seq, run.slot), stdin, cwd.as_deref()) {
            Ok(mut sp) => {
                run.data.pgid = sp.pid;
                let input = run.job.stdin.clone().map(|i| (i.chunk, i.delivery));
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
                    Some((stdin, Delivery::Fifo)) => run
                        .data
                        .temp
                        .as_deref()
                        .map(|p| Feeder::fifo(p.to_path_buf(), stdin)),
                    _ => None,
                };
                let ctx = DriveCtx {
                    spool: self.spool,
                    live: self.live_tx.clone(),
                };
                self.running
                    .push(Box::pin(exec::drive(seq, sp, ctx, feeder)));
            }
            Err(e) => self.not_started(core, seq, e, sink),
        }
    }

    /// Spawns the job; a program that cannot be executed directly gets the
    /// shell's chance, and so the shell's message and status (127, 126).
    fn spawn(
        &mut self,
        prog: &Program,
        line: &[u8],
        (seq, slot): (JobSeq, SlotId),
        stdin: StdinKind,
        cwd: Option<&Path>,
    ) -> io::Result<exec::Spawned> {
        let (seq_s, slot_s) = (seq.to_string(), slot.to_string());
        let env = [
            ("PARALLEL_SEQ", seq_s.as_str()),
            ("PARALLEL_JOBSLOT", slot_s.as_str()),
        ];
        let capture = self.cfg.output != OutputMode::Ungroup;
        // $PARALLEL_ENV is for this run's jobs, not for a fanout they run.
        let unset: &[&str] = if self.cfg.preamble.is_some() {
            &["PARALLEL_ENV"]
        } else {
            &[]
        };
        let exe = match prog {
            Program::Direct(argv) => argv.values().next().and_then(|p| self.programs.find(p)),
            Program::Shell { .. } => None,
        };
        let place = Place {
            cwd,
            nice: self.cfg.nice,
            unset,
            extra: &self.cfg.env,
            exe,
        };
        match exec::spawn(prog, &env, capture, stdin, place) {
            // ENOEXEC: a script without `#!`, which a shell runs with sh.
            Err(e)
                if matches!(prog, Program::Direct(_))
                    && (matches!(
                        e.kind(),
                        io::ErrorKind::NotFound | io::ErrorKind::PermissionDenied
                    ) || e.raw_os_error() == Some(libc::ENOEXEC)) =>
            {
                let place = Place { exe: None, ..place };
                let shell = Program::shell(line, &self.cfg.shell);
                exec::spawn(&shell, &env, capture, stdin, place)
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

/// `--tmux`: the shell line that runs `inner` in a new window (or pane)
/// of the session, waits there until it ends, and exits with its status,
/// which the window writes to `status` (in the run's private directory).
fn tmux_line(t: &crate::Tmux, seq: JobSeq, inner: &[u8], status: &Path) -> Vec<u8> {
    use crate::quote::quote;
    let q = |b: &[u8]| String::from_utf8_lossy(&quote(b)).into_owned();
    let tmux = format!(
        "{} -S {}",
        q(t.program.as_bytes()),
        q(t.socket.as_os_str().as_bytes())
    );
    let status = q(status.as_os_str().as_bytes());
    let chan = q(format!("{}-{seq}", t.session).as_bytes());
    let session = q(t.session.as_bytes());
    // In a subshell: the job's own `exit` must not skip the status.
    let mut window = b"(".to_vec();
    window.extend_from_slice(inner);
    // The pane lives a moment after: tmux drops what a pane wrote just
    // before its process ended, unread.
    window.extend_from_slice(
        format!("\n); echo $? > {status}; {tmux} wait-for -S {chan}; sleep 1").as_bytes(),
    );
    let window = q(&window);
    let create = if t.panes {
        format!("{tmux} split-window -d -t {session} {window} && {tmux} select-layout -t {session} tiled >/dev/null")
    } else {
        format!("{tmux} new-window -d -t {session} -n {seq} {window}")
    };
    format!("{create} && {tmux} wait-for {chan}; s=$(cat {status} 2>/dev/null || echo 255); rm -f {status}; exit $s")
        .into_bytes()
}

/// `--wd`: makes the job's directory; for `--wd ...` a private one (named
/// as GNU parallel names it: host, fanout's pid, the job's number), which
/// is removed when the returned value is dropped with the job's state.
fn workdir(wd: Option<&Workdir>, seq: JobSeq) -> io::Result<Option<tempfile::TempDir>> {
    match wd {
        None => Ok(None),
        Some(Workdir::Dir(d)) => std::fs::create_dir_all(d).map(|()| None),
        Some(Workdir::Private(base)) => {
            std::fs::create_dir_all(base)?;
            let host = rustix::system::uname();
            let host = host.nodename().to_string_lossy();
            let prefix = format!("{host}-{}-{seq}-", std::process::id());
            tempfile::Builder::new()
                .prefix(&prefix)
                .tempdir_in(base)
                .map(Some)
        }
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
