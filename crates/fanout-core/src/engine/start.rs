//! Starting a job: render its command, take a slot, spawn its process in
//! its own process group and hand it to the event loop.

use std::io;
use std::time::{Instant, SystemTime};

use super::run::{Meta, Run};
use super::Commands;
use crate::exec::{self, Captured, DriveCtx, Program};
use crate::job::{ExitKind, JobArgs, JobSeq, SlotId};
use crate::{Event, OutputMode, Sink};

impl<S: Sink> Run<'_, S> {
    /// Starts `job`: new from the input (`None`), or run again after
    /// failing `attempt` times.
    pub(super) fn start(&mut self, job: JobArgs, again: Option<u32>, commands: &Commands) {
        let attempt = again.unwrap_or(0);
        let slot = self.slots.acquire().expect("started only with a free slot");
        let command = commands.render(&job, slot);
        let seq = job.seq;
        if again.is_none() {
            self.summary.started += 1;
            self.halt.started();
        }
        let args: Vec<Vec<u8>> = job.records.iter().flatten().cloned().collect();
        self.emit(Event::Started {
            seq,
            slot,
            command: &command,
            args: &args,
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
            kill: None,
        };
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
            Commands::Argv => Program::argv(m.job.records.iter().flatten().cloned()),
            Commands::Template { .. } => Program::for_line(&m.command, &self.cfg.shell),
        };
        match self.spawn(&prog, &m.command, seq, m.slot) {
            Ok(sp) => {
                m.pgid = sp.pid;
                self.timeouts.insert(m.start, seq);
                self.meta.insert(seq, m);
                let ctx = DriveCtx {
                    spool: self.spool,
                    live: self.live_tx.clone(),
                };
                self.running.push(Box::pin(exec::drive(seq, sp, ctx)));
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
    ) -> io::Result<exec::Spawned> {
        let (seq_s, slot_s) = (seq.to_string(), slot.to_string());
        let env = [
            ("PARALLEL_SEQ", seq_s.as_str()),
            ("PARALLEL_JOBSLOT", slot_s.as_str()),
        ];
        let capture = self.cfg.output != OutputMode::Ungroup;
        match exec::spawn(prog, &env, capture) {
            // ENOEXEC: a script without `#!`, which a shell runs with sh.
            Err(e)
                if matches!(prog, Program::Direct(_))
                    && (matches!(
                        e.kind(),
                        io::ErrorKind::NotFound | io::ErrorKind::PermissionDenied
                    ) || e.raw_os_error() == Some(libc::ENOEXEC)) =>
            {
                exec::spawn(&Program::shell(line, &self.cfg.shell), &env, capture)
            }
            other => other,
        }
    }
}
