//! The local engine: its settings (`RunConfig`), how a job's arguments
//! become a program (`Commands`), and `Engine`, which runs jobs as child
//! processes (the local backend, `run.rs`) under the run core
//! (`crate::run_core`), driven by the one loop in `crate::backend`.

mod run;
mod start;
mod terminate;

use std::ffi::OsString;
use std::sync::Arc;

pub use crate::backend::CancelToken;
use std::time::Duration;

use crate::control::{HaltWhen, JobControl};
use crate::job::{JobArgs, SlotId};
use crate::template::{RenderCtx, Rendered, Template};
use crate::{Error, Result, Sink};

/// How job output reaches fanout's stdout and stderr.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputMode {
    /// `--group` (default): each job's output is printed whole when it ends.
    Group,
    /// `--line-buffer`: whole lines are printed as they arrive.
    LineBuffer,
    /// `-u`: jobs write to fanout's stdout and stderr directly.
    Ungroup,
}

/// Settings of a run. Start from `RunConfig::default()` and set what
/// differs (it grows with fanout's options, so it cannot be built whole
/// outside this crate).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct RunConfig {
    /// Job slots: at most this many jobs run at once.
    pub jobs: usize,
    /// How output is handled.
    pub output: OutputMode,
    /// Compose commands but do not run them; each job's "output" is its
    /// command line.
    pub dry_run: bool,
    /// The shell for lines that need one (`$PARALLEL_SHELL` or `/bin/sh`).
    pub shell: OsString,
    /// Signals sent to running jobs' process groups when fanout is
    /// interrupted, each followed by a wait (GNU's `--term-seq`).
    pub term_seq: Vec<(i32, Duration)>,
    /// Bytes of one stream kept in memory before spooling to disk.
    pub spool_threshold: usize,
    /// Where spooled output and `--cat`/`--fifo` files go (`--tmpdir`),
    /// in a private directory; `$TMPDIR` or /tmp when `None`.
    pub tmpdir: Option<std::path::PathBuf>,
    /// Catch SIGINT and SIGTERM to end jobs cleanly (the CLI does; a library
    /// user may prefer to keep their own handlers).
    pub handle_signals: bool,
    /// Make fanout a child subreaper, so that descendants which leave
    /// their job's process group (`setsid`) become its children: they are
    /// reaped as they exit, and killed with the jobs when the run is
    /// interrupted, halted `now` or ends on an error (the CLI does; it
    /// changes the whole process, so it is off by default).
    pub subreaper: bool,
    /// Retries, timeouts, halting and start throttles.
    pub control: JobControl,
    /// The number of jobs in the run, when known in advance (`--halt N%`
    /// counts against it; without it, against the jobs started so far).
    pub total_jobs: Option<u64>,
    /// Jobs read ahead of the running ones, at most (pipe mode keeps this
    /// near the number of slots: each job holds a chunk of input).
    pub queue: usize,
    /// The name fanout's own messages in a job's stderr begin with.
    pub program: String,
    /// Ends the run from outside, as SIGTERM would: running jobs walk the
    /// term sequence and are not reported. A distributed worker uses it
    /// when its run is cancelled or it shuts down.
    pub cancel: Option<CancelToken>,
    /// Added to the jobs' niceness (`--nice`).
    pub nice: i32,
    /// Where jobs run (`--wd`); fanout's own directory when `None`.
    pub workdir: Option<Workdir>,
    /// Shell code run before every command line (GNU's `$PARALLEL_ENV`,
    /// which `env_parallel` fills with the caller's functions).
    pub preamble: Option<Vec<u8>>,
    /// `--retries` given as a replacement string (`--retries {2}`): each
    /// job's own number of tries, rendered from its arguments.
    pub retries_per_job: Option<Arc<Template>>,
    /// `--tmpl FILE=OUT`: before a job starts, each text (FILE's, with
    /// replacement strings) is rendered into the file its path names.
    pub tmpl: Vec<TmplFile>,
    /// `--cleanup`: the `--tmpl` files are removed when the job ends.
    pub cleanup: bool,
    /// `--compress`: spooled output passes through these programs.
    pub compress: Option<crate::output::Codec>,
    /// Variables set for every job on top of fanout's own environment (a
    /// distributed worker's `--env` from the run's spec).
    pub env: Vec<(OsString, OsString)>,
    /// `--tmux`: each job runs in a window (or pane) of this tmux session
    /// instead of under fanout, which waits for it there.
    pub tmux: Option<Tmux>,
    /// `-j FILE`: the number of slots is read again from this file as jobs
    /// end (GNU parallel's way to change `-j` during a run).
    pub jobs_file: Option<JobsFile>,
    /// `--filter`: a job runs only when perl finds every one of these
    /// (rendered for it) true.
    pub filters: Vec<Arc<Template>>,
}

/// `-j FILE`: where the slot count lives, and how its text reads.
#[derive(Clone)]
pub struct JobsFile {
    /// The file.
    pub path: std::path::PathBuf,
    /// Its text to a slot count (`None`: not one; the count stays).
    pub parse: ParseSlots,
}

/// Reads a slot count (`-j`'s text) as the caller's CLI reads it.
pub type ParseSlots = Arc<dyn Fn(&str) -> Option<usize> + Send + Sync>;

impl std::fmt::Debug for JobsFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JobsFile")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

/// A tmux session the jobs of a `--tmux` run go to.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Tmux {
    /// The tmux program (`$PARALLEL_TMUX`, else `tmux`).
    pub program: OsString,
    /// The server's socket (`tmux -S`).
    pub socket: std::path::PathBuf,
    /// The session's name.
    pub session: String,
    /// `--tmuxpane`: a pane per job in one window, not a window per job.
    pub panes: bool,
}

impl Tmux {
    /// A session named `session` on the server at `socket`.
    pub fn new(
        program: OsString,
        socket: std::path::PathBuf,
        session: String,
        panes: bool,
    ) -> Self {
        Tmux {
            program,
            socket,
            session,
            panes,
        }
    }
}

/// One `--tmpl FILE=OUT`.
#[derive(Debug, Clone)]
pub struct TmplFile {
    /// FILE's text, as a template ([`Template::file_text`]).
    pub text: Arc<Template>,
    /// OUT, as a template ([`Template::unquoted`]).
    pub path: Arc<Template>,
}

/// A job's working directory (`--wd`).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Workdir {
    /// This directory, made when missing.
    Dir(std::path::PathBuf),
    /// `--wd ...`: a directory of the job's own under this one, made
    /// before it starts and removed with everything in it when it ends.
    Private(std::path::PathBuf),
}

impl Default for RunConfig {
    fn default() -> Self {
        RunConfig {
            jobs: std::thread::available_parallelism().map_or(1, |n| n.get()),
            output: OutputMode::Group,
            dry_run: false,
            shell: OsString::from("/bin/sh"),
            term_seq: default_term_seq(),
            spool_threshold: 128 * 1024,
            tmpdir: None,
            handle_signals: false,
            subreaper: false,
            control: JobControl::default(),
            total_jobs: None,
            queue: crate::feed::CAPACITY,
            cancel: None,
            program: "fanout".into(),
            nice: 0,
            workdir: None,
            preamble: None,
            retries_per_job: None,
            tmpl: Vec::new(),
            cleanup: false,
            compress: None,
            env: Vec::new(),
            tmux: None,
            jobs_file: None,
            filters: Vec::new(),
        }
    }
}

/// GNU parallel's default `--term-seq`: TERM,200,TERM,100,TERM,50,KILL,25.
pub fn default_term_seq() -> Vec<(i32, Duration)> {
    let ms = Duration::from_millis;
    vec![
        (libc::SIGTERM, ms(200)),
        (libc::SIGTERM, ms(100)),
        (libc::SIGTERM, ms(50)),
        (libc::SIGKILL, ms(25)),
    ]
}

/// How a job's arguments become the program it runs.
#[derive(Debug, Clone)]
pub enum Commands {
    /// Render a command template (GNU parallel's model).
    Template {
        /// The template.
        template: Arc<Template>,
        /// `-X`: context replace.
        context: bool,
    },
    /// Each job's values are its argv, executed directly with no shell.
    Argv,
}

impl Commands {
    /// True when a job's command line does not depend on its slot, so one
    /// rendered for another slot can stand for it.
    pub fn same_in_every_slot(&self) -> bool {
        match self {
            Commands::Template { template, .. } => template.same_in_every_slot(),
            Commands::Argv => true,
        }
    }

    /// The command line of job `args` in `slot` (empty where a perl
    /// expression failed; see [`Commands::compose`]).
    pub fn render(&self, args: &JobArgs, slot: SlotId) -> Vec<u8> {
        self.compose(args, slot).ok().flatten().unwrap_or_default()
    }

    /// The command line of job `args` in `slot`; `None` when a perl
    /// expression called `skip()`, an error when one failed.
    pub fn compose(&self, args: &JobArgs, slot: SlotId) -> Result<Option<Vec<u8>>> {
        match self {
            Commands::Template { template, context } => {
                let mut line = Vec::with_capacity(64);
                let ctx = RenderCtx {
                    records: &args.records,
                    seq: args.seq,
                    slot,
                    context: *context,
                };
                if template.try_render(&ctx, &mut line)? == Rendered::Skip {
                    return Ok(None);
                }
                // Grown by doubling, a long line (-X) would keep up to as
                // much again unused, for as long as the job is held.
                if line.capacity() - line.len() > 4096 {
                    line.shrink_to_fit();
                }
                Ok(Some(line))
            }
            Commands::Argv => {
                let words: Vec<Vec<u8>> = args.records.values().map(crate::quote::quote).collect();
                Ok(Some(words.join(&b' ')))
            }
        }
    }

    /// `jobs`, with each job's perl expressions evaluated as the input
    /// thread reads it (see `template::perl::ahead`).
    pub fn ahead<I>(&self, jobs: I) -> Box<dyn Iterator<Item = Result<JobArgs>> + Send>
    where
        I: Iterator<Item = Result<JobArgs>> + Send + 'static,
    {
        match self {
            Commands::Template { template, context } => {
                crate::template::perl::ahead(template.clone(), *context, jobs)
            }
            Commands::Argv => Box::new(jobs),
        }
    }

    /// Gets the template ready for a run of `slots` slots and `total` jobs
    /// (when known): its perl expressions compiled, so that a bad one, or a
    /// missing perl, stops the run before any job starts.
    pub fn prepare(&self, slots: usize, total: Option<u64>) -> Result<()> {
        if let Commands::Template { template, .. } = self {
            template.know_run(total, slots);
            template.prepare()?;
        }
        Ok(())
    }
}

/// What a run came to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct RunSummary {
    /// Jobs started (or printed, for a dry run).
    pub started: u64,
    /// Jobs that failed: non-zero exit, killed by a signal, or not started.
    pub failed: u64,
    /// The signal that interrupted the run, if one did.
    pub interrupted: Option<i32>,
    /// Output went to a closed pipe, so the run stopped early.
    pub broken_pipe: bool,
    /// Set when `--halt` stopped the run.
    pub halted: Option<HaltWhen>,
    /// The exit status `--halt` decided, when it did (GNU parallel's rules:
    /// the failing job's status for `fail=1`, the failed percentage for
    /// `N%`, 0 for `success`).
    pub halt_status: Option<i32>,
}

/// Runs jobs according to a [`RunConfig`].
#[derive(Debug, Clone, Default)]
pub struct Engine {
    config: RunConfig,
}

impl Engine {
    /// An engine with these settings.
    pub fn new(config: RunConfig) -> Self {
        Engine { config }
    }

    /// Runs every job `jobs` yields and pushes events to `sink`; blocks
    /// until all have ended, on a runtime of its own. (Inside an async
    /// program, await [`Engine::run_async`] instead.) `jobs` is read on its
    /// own thread, a bounded number ahead of the running jobs, so memory
    /// stays flat however long the input.
    pub fn run<I, S>(&self, jobs: I, commands: &Commands, sink: &mut S) -> Result<RunSummary>
    where
        I: Iterator<Item = Result<JobArgs>> + Send + 'static,
        S: Sink,
    {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .enable_time()
            .build()
            .map_err(Error::Runtime)?;
        rt.block_on(self.run_async(jobs, commands, sink))
    }

    /// [`Engine::run`] as a future, to await inside the caller's tokio
    /// runtime (which must have its I/O and time drivers enabled, as
    /// `#[tokio::main]` does). The future is not `Send`: await it where
    /// it is made, or on a `LocalSet`.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use fanout_core::{Batcher, BatchOptions, Collect, Commands, Engine, Inputs, RunConfig,
    ///                   Template, TemplateOptions};
    ///
    /// #[tokio::main]
    /// async fn main() -> fanout_core::Result<()> {
    ///     let template = Arc::new(Template::from_command(&["echo", "{}"], &TemplateOptions::default())?);
    ///     let (_header, records) = Inputs::from_values(["x", "y", "z"]).open()?;
    ///     let jobs = Batcher::new(records, template.clone(), BatchOptions::default());
    ///     let mut config = RunConfig::default();
    ///     config.jobs = 3;
    ///     let engine = Engine::new(config);
    ///     let commands = Commands::Template { template, context: false };
    ///     let mut results = Collect::default();
    ///     let summary = engine.run_async(jobs, &commands, &mut results).await?;
    ///     assert_eq!(summary.started, 3);
    ///     let out: Vec<Vec<u8>> = results.into_sorted().into_iter()
    ///         .map(|mut r| r.stdout.to_vec().unwrap())
    ///         .collect();
    ///     assert_eq!(out, [&b"x\n"[..], b"y\n", b"z\n"]);
    ///     Ok(())
    /// }
    /// ```
    pub async fn run_async<I, S>(
        &self,
        jobs: I,
        commands: &Commands,
        sink: &mut S,
    ) -> Result<RunSummary>
    where
        I: Iterator<Item = Result<JobArgs>> + Send + 'static,
        S: Sink,
    {
        commands.prepare(self.config.jobs, self.config.total_jobs)?;
        crate::exec::keep_children_reapable();
        if self.config.subreaper {
            crate::exec::orphans::become_subreaper().map_err(Error::Runtime)?;
        }
        let jobs = crate::backend::Jobs::read_ahead(commands.ahead(jobs), self.config.queue)
            .map_err(Error::Runtime)?;
        run::run(&self.config, jobs, commands, sink).await
    }
}
