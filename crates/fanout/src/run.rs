//! One run of the CLI, assembled from the validated config: the jobs
//! (input, batching, what the job log says to skip, shuffling), the sinks
//! (job log, results, progress, printing) and the engine.

use std::os::unix::ffi::OsStrExt;
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use fanout_core::joblog::JobLog;
use fanout_core::plan::{Prior, SinkStack};
use fanout_core::{
    Batcher, Engine, Files, JsonLines, Observer, Printer, ResultsDir, ResultsLayout, ResultsTable,
    RunSummary, Sink, TableFormat, Template, Threshold,
};

use crate::cli::{Config, Plan, ProgressKind, Resume};
use crate::dashboard::Watch;
use crate::progress::{Count, Counters, Display};

/// Runs the jobs `config` describes and returns what happened.
pub fn run(mut config: Config) -> Result<RunSummary> {
    if config.shuf
        && config
            .joblog
            .as_ref()
            .is_some_and(|j| j.resume != Resume::No)
    {
        // Shuffled runs number jobs in their random order, so a job log
        // cannot say which input a logged job was.
        bail!("--shuf cannot be combined with --resume, --resume-failed or --retry-failed");
    }
    let coordinated = config.distributed.is_some() && !config.run.dry_run;
    if coordinated && config.pipe.is_some() {
        bail!("--pipe and --pipepart do not work with --broker yet");
    }
    if let Some(panes) = config.tmux {
        config.run.tmux = Some(crate::tmux::start(
            &config.tmux_program,
            &config.run.shell,
            &config.tmux_dir,
            panes,
        )?);
    }
    if reads_terminal(&config) {
        let w = crate::name::warning();
        eprintln!("{w}Input is read from the terminal. You are either an expert");
        eprintln!("{w}(in which case: YOU ARE AWESOME!) or maybe you forgot");
        eprintln!("{w}::: or :::: or -a or to pipe data into fanout. If so");
        eprintln!("{w}consider going through the tutorial: man parallel_tutorial");
        eprintln!("{w}Press CTRL-D to exit.");
    }
    let mut prior = read_prior(&config)?;
    let reader_error = crate::pipe::ReaderError::default();
    let mut watch_total = None;
    let (jobs, plan) = if let Some(mode) = config.pipe.clone().filter(|m| m.tee) {
        // --tee: one job per argument, all at once, each fed all of stdin.
        let (header, records) = std::mem::take(&mut config.inputs).open()?;
        let plan = config.plan(header.clone())?;
        let batched = Batcher::new(records, plan.template.clone(), config.batch);
        let all = batched.collect::<fanout_core::Result<Vec<_>>>()?;
        config.run.jobs = all.len().max(1);
        config.run.queue = config.run.jobs;
        config.results_names = header;
        let jobs = crate::pipe::tee(&mode, all, reader_error.clone());
        (prior.skipping(jobs), plan)
    } else if let Some(mode) = config.pipe.clone() {
        // Each job holds a chunk: read ahead only as many as there are slots.
        config.run.queue = config.run.jobs;
        let plan = config.plan(Vec::new())?;
        let jobs = crate::pipe::jobs(&mode, &config.inputs, config.run.jobs, &reader_error)?;
        (prior.skipping(jobs), plan)
    } else if let Some(failed) = prior.retry_jobs() {
        // --retry-failed: the job log's failed command lines are the jobs.
        config.command.clear();
        (failed, config.plan(Vec::new())?)
    } else {
        let again = config
            .watch
            .dashboard
            .is_some()
            .then(|| config.inputs.clone());
        let (header, records) = std::mem::take(&mut config.inputs).open()?;
        let plan = config.plan(header.clone())?;
        watch_total = again.and_then(|i| count_jobs(i, &plan, &config));
        let batched = Batcher::new(records, plan.template.clone(), config.batch);
        config.results_names = header;
        (prior.skipping(Box::new(batched)), plan)
    };
    let pct_halt = config
        .run
        .control
        .halt
        .is_some_and(|h| matches!(h.threshold, Threshold::Percent(_)));
    let counted = matches!(config.progress, Some(ProgressKind::Bar | ProgressKind::Eta));
    // total_jobs() in a perl expression ({##}, {0#}) is the number of jobs:
    // GNU parallel reads them all first, and so does fanout.
    let count = (pct_halt || counted || plan.template.needs_total()) && config.total_jobs.is_none();
    let (jobs, total) = fanout_core::plan::prepare(jobs, config.shuf, count);
    let total = total.or(config.total_jobs);
    if config.shellquote {
        return shellquote(jobs, &plan);
    }
    // A bad expression, or no perl, ends the run here, before the progress
    // display starts (the engine and the coordinator check again for
    // library callers, and tell the template the run's numbers).
    plan.template.prepare()?;
    // $Global::total_completed counts the jobs a resumed log holds, too.
    plan.template.add_completed(prior.logged.len());
    config.run.total_jobs = total;
    let counters = Arc::new(Counters::default());
    let display = config
        .progress
        .map(|kind| Display::start(kind, counters.clone(), total, config.run.jobs));
    let mut watch = match config.watch.any() {
        true => Some(Watch::start(&config.watch, total.or(watch_total))?),
        false => None,
    };
    // A local run's dashboard serves on the engine's runtime: a second
    // runtime would wake on every SIGCHLD too (tokio's signal pipe is one
    // per process), and the loop that starts the jobs would wait for it
    // (measured: P1 with a page open 1.5x as long as without).
    let rt = match watch.as_mut() {
        Some(w) if coordinated => {
            w.serve_on_thread()?;
            None
        }
        Some(w) => w.take_serve().map(engine_runtime).transpose()?,
        None => None,
    };
    let mut sink = observers(&config, &plan, counters, watch.as_ref())?;
    let on = match coordinated {
        true => On::Broker,
        false => On::Engine(rt.as_ref()),
    };
    let summary = run_with(&config, jobs, &plan, prior, display.as_ref(), on, &mut sink);
    drop(sink);
    if let Some(mut w) = watch {
        w.end()?;
        if let (Some(rt), true) = (&rt, w.watched()) {
            // Open pages get the run's end before the server stops.
            rt.block_on(async { tokio::time::sleep(crate::dashboard::LAST_WORD).await });
        }
        w.finish()?;
    }
    if let Some(d) = display {
        d.finish();
    }
    // A coordinated run reports its reader's errors itself.
    let reader_error = reader_error
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .take();
    if let (Some(e), false) = (reader_error, coordinated) {
        bail!("cannot read input: {e}");
    }
    summary
}

/// Where the jobs run.
enum On<'a> {
    /// Here, through the engine: on its own runtime, or on this one
    /// (where the dashboard serves).
    Engine(Option<&'a tokio::runtime::Runtime>),
    /// On the broker's workers, through a coordinator.
    Broker,
}

/// A runtime as the engine makes its own, with `serve` spawned on it
/// (it serves while the engine's run is awaited there).
fn engine_runtime(serve: crate::dashboard::Serve) -> Result<tokio::runtime::Runtime> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .enable_time()
        .build()?;
    rt.spawn(serve);
    Ok(rt)
}

/// Runs the jobs through the engine, or the broker's coordinator.
fn run_with(
    config: &Config,
    jobs: fanout_core::plan::Jobs,
    plan: &Plan,
    prior: Prior,
    display: Option<&Display>,
    on: On<'_>,
    sink: &mut Box<dyn Sink>,
) -> Result<RunSummary> {
    let engine = Engine::new(config.run.clone());
    let mut suspended;
    let mut sink: &mut dyn Sink = match display {
        Some(d) => {
            suspended = d.suspended(sink);
            &mut suspended
        }
        None => sink,
    };
    Ok(match on {
        On::Engine(None) => engine.run(jobs, &plan.commands, &mut sink)?,
        On::Engine(Some(rt)) => rt.block_on(engine.run_async(jobs, &plan.commands, &mut sink))?,
        On::Broker => crate::coordinate::run(config, jobs, plan, prior.logged, sink)?,
    })
}

/// What the job log says before the run (see `fanout_core::plan`); a
/// torn last row is warned about.
fn read_prior(config: &Config) -> Result<Prior> {
    // A job log written to stdout (`--jl -`) has nothing to resume from:
    // the run is a whole one, as in GNU parallel.
    let Some(log) = config.joblog.as_ref().filter(|l| l.path.as_os_str() != "-") else {
        return Ok(Prior::default());
    };
    let prior = Prior::read(&log.path, log.resume)?;
    if let Some(torn) = &prior.torn {
        eprintln!(
            "{}joblog `{}` line {}: dropped a row cut short ({} bytes, no newline) by an earlier run that stopped while writing it; that job counts as not run",
            crate::name::warning(),
            log.path.display(),
            torn.line,
            torn.len
        );
    }
    Ok(prior)
}

/// The sinks: the printer (or JSON lines) with the job log, results and
/// `--files` in front of it, all behind `-k`'s ordering, as GNU parallel
/// logs a job when it prints it; progress counts see events first.
fn observers(
    config: &Config,
    plan: &Plan,
    counters: Arc<Counters>,
    watch: Option<&Watch>,
) -> Result<Box<dyn Sink>> {
    let table = config
        .results
        .as_ref()
        .and_then(|p| Some((p, TableFormat::of_name(p.as_os_str().as_bytes())?)));
    let printer: Box<dyn Sink> = if let Some((path, format)) = table {
        // As GNU parallel: the jobs' output goes into the table only.
        let out: Box<dyn std::io::Write + Send> = if path.file_stem() == Some("-".as_ref()) {
            Box::new(std::io::stdout())
        } else {
            let f = std::fs::File::create(path)
                .with_context(|| format!("cannot write --results `{}`", path.display()))?;
            Box::new(std::io::BufWriter::new(f))
        };
        Box::new(ResultsTable::new(out, format, config.results_names.clone()))
    } else if config.json {
        Box::new(JsonLines::stdout())
    } else {
        Box::new(Printer::new(plan.print.clone()))
    };
    let mut with_output: Vec<Box<dyn Observer>> = Vec::new();
    if let Some(log) = config.joblog.as_ref().filter(|_| !config.run.dry_run) {
        let j = if log.path.as_os_str() == "-" {
            JobLog::stdout()
        } else {
            JobLog::open(&log.path, log.append)
        }
        .with_context(|| format!("cannot write --joblog `{}`", log.path.display()))?;
        with_output.push(Box::new(j));
    }
    if let Some(dir) = config.results.as_ref().filter(|_| table.is_none()) {
        let compress = config.run.compress.as_ref().map(|c| c.compress.clone());
        with_output.push(Box::new(
            ResultsDir::new(results_layout(dir, config)?).compressed(compress),
        ));
    }
    if let Some(dir) = &config.files {
        with_output.push(Box::new(Files::new(dir.clone())));
    }
    let mut live: Vec<Box<dyn Observer>> = Vec::new();
    if config.progress.is_some() {
        live.push(Box::new(Count(counters)));
    }
    if let Some(w) = watch {
        live.push(w.observer());
    }
    Ok(SinkStack {
        printer,
        with_output,
        keep_order: config.keep_order,
        live,
    }
    .build())
}

fn results_layout(dir: &std::path::Path, config: &Config) -> Result<ResultsLayout> {
    let bytes = dir.as_os_str().as_bytes();
    let t = Template::unquoted(bytes, &config.template)?;
    if !t.is_literal() {
        return Ok(ResultsLayout::Template(t));
    }
    Ok(ResultsLayout::Tree {
        dir: dir.to_owned(),
        names: config.results_names.clone(),
    })
}

/// True when the jobs come from stdin and stdin is a terminal: GNU
/// parallel warns then, as the user has most likely forgotten `:::`.
fn reads_terminal(config: &Config) -> bool {
    let stdin_source = config.inputs.sources.is_empty()
        || config.inputs.sources.iter().any(|s| match &s.source {
            fanout_core::Source::Stdin => true,
            fanout_core::Source::File(p) => p.as_os_str() == "-",
            _ => false,
        });
    stdin_source && rustix::termios::isatty(std::io::stdin())
}

/// The number of jobs `inputs` make, for the dashboard's ETA, counted by
/// reading them once more without keeping them (so memory stays flat);
/// `None` when a source cannot be read twice (stdin, a pipe) or the run
/// skips jobs the log lists (`--resume`).
fn count_jobs(inputs: fanout_core::Inputs, plan: &Plan, config: &Config) -> Option<u64> {
    let twice = !inputs.sources.is_empty()
        && inputs.sources.iter().all(|s| match &s.source {
            fanout_core::Source::Args(_) => true,
            fanout_core::Source::File(p) => std::fs::metadata(p).is_ok_and(|m| m.is_file()),
            fanout_core::Source::Stdin => false,
        });
    let resumed = config
        .joblog
        .as_ref()
        .is_some_and(|l| l.resume != Resume::No);
    if !twice || resumed {
        return None;
    }
    let (_, records) = inputs.open().ok()?;
    let mut n = 0;
    for job in Batcher::new(records, plan.template.clone(), config.batch) {
        job.ok()?;
        n += 1;
    }
    Some(n)
}

/// `--shellquote`: each job's command line, quoted for the shell, on
/// stdout; nothing is run.
fn shellquote(jobs: fanout_core::plan::Jobs, plan: &Plan) -> Result<RunSummary> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    for job in jobs {
        let job = job?;
        let line = plan.commands.render(&job, fanout_core::SlotId(1));
        let mut q = fanout_core::quote::quote(&line);
        q.push(b'\n');
        out.write_all(&q)?;
    }
    out.flush()?;
    Ok(RunSummary::default())
}
