//! One run of the CLI, assembled from the validated config: the jobs
//! (input, batching, what the job log says to skip, shuffling), the sinks
//! (job log, results, progress, printing) and the engine.

use std::os::unix::ffi::OsStrExt;
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use fanout_core::joblog::{self, JobLog, SeqSet};
use fanout_core::{
    Batcher, Engine, Files, JobArgs, JobSeq, JsonLines, Observed, Ordered, Printer, ResultsDir,
    ResultsLayout, RunSummary, Sink, Template, Threshold,
};

use crate::cli::{Config, Plan, ProgressKind, Resume};
use crate::pipe::Jobs;
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
    let prior = read_prior(&config)?;
    let reader_error = crate::pipe::ReaderError::default();
    let (jobs, plan) = if let Some(mode) = config.pipe.clone() {
        // Each job holds a chunk: read ahead only as many as there are slots.
        config.run.queue = config.run.jobs;
        config.run.delivery = mode.delivery;
        let plan = config.plan(Vec::new())?;
        let jobs = crate::pipe::jobs(&mode, &config.inputs, config.run.jobs, &reader_error)?;
        let skip = prior.skip.clone();
        let jobs = jobs.filter(move |j| !matches!(j, Ok(j) if skip.contains(j.seq)));
        (Box::new(jobs) as Jobs, plan)
    } else if let Some(failed) = prior.retry.clone() {
        // --retry-failed: the job log's failed command lines are the jobs.
        config.command.clear();
        let plan = config.plan(Vec::new())?;
        let jobs = failed.into_iter().map(|(seq, command)| {
            Ok(JobArgs {
                seq,
                records: vec![vec![command]].into(),
                stdin: None,
            })
        });
        (Box::new(jobs) as Jobs, plan)
    } else {
        let (header, records) = std::mem::take(&mut config.inputs).open()?;
        let plan = config.plan(header.clone())?;
        let batched = Batcher::new(records, plan.template.clone(), config.batch);
        let skip = prior.skip.clone();
        let jobs = batched.filter(move |j| !matches!(j, Ok(j) if skip.contains(j.seq)));
        config.results_names = header;
        (Box::new(jobs) as Jobs, plan)
    };
    let (jobs, total) = prepare(jobs, &config);
    config.run.total_jobs = total;
    let counters = Arc::new(Counters::default());
    let display = config
        .progress
        .map(|kind| Display::start(kind, counters.clone(), total, config.run.jobs));
    let mut sink = observers(&config, &plan, counters)?;
    let summary = match (&display, coordinated) {
        (Some(d), false) => {
            Engine::new(config.run.clone()).run(jobs, &plan.commands, &mut d.suspended(sink))
        }
        (None, false) => Engine::new(config.run.clone()).run(jobs, &plan.commands, &mut sink),
        (Some(d), true) => {
            let mut sink = d.suspended(sink);
            return finish(
                crate::coordinate::run(&config, jobs, &plan, prior.logged, &mut sink),
                display,
            );
        }
        (None, true) => {
            return finish(
                crate::coordinate::run(&config, jobs, &plan, prior.logged, &mut sink),
                display,
            );
        }
    };
    if let Some(d) = display {
        d.finish();
    }
    if let Some(e) = reader_error
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .take()
    {
        bail!("cannot read input: {e}");
    }
    Ok(summary?)
}

/// What the job log says before the run: jobs to skip, or (for
/// `--retry-failed`) the failed commands to run again.
#[derive(Default)]
struct Prior {
    skip: SeqSet,
    /// Every job the log has, succeeded or not.
    logged: SeqSet,
    retry: Option<Vec<(JobSeq, Vec<u8>)>>,
}

fn read_prior(config: &Config) -> Result<Prior> {
    let Some(log) = config.joblog.as_ref().filter(|j| j.resume != Resume::No) else {
        return Ok(Prior::default());
    };
    let mut prior = Prior::default();
    let mut succeeded = SeqSet::default();
    let mut failed = std::collections::BTreeMap::new();
    let found = joblog::read(&log.path, |row| {
        let run = match log.resume {
            Resume::SkipSucceeded => row.succeeded(),
            _ => true,
        };
        if run {
            prior.skip.insert(row.seq);
        }
        prior.logged.insert(row.seq);
        if row.succeeded() {
            succeeded.insert(row.seq);
        } else {
            failed.insert(row.seq, row.command);
        }
    })?;
    if let Some(torn) = found.torn {
        eprintln!(
            "fanout: warning: joblog `{}` line {}: dropped a row cut short ({} bytes, no newline) by an earlier run that stopped while writing it; that job counts as not run",
            log.path.display(),
            torn.line,
            torn.len
        );
    }
    if log.resume == Resume::RetryFailed {
        prior.retry = Some(
            failed
                .into_iter()
                .filter(|(seq, _)| !succeeded.contains(*seq))
                .collect(),
        );
    }
    Ok(prior)
}

/// Reads every job first when the run needs to know how many there are
/// (`--bar`, `--eta`, `--halt N%`) or to shuffle them, as GNU parallel
/// does; otherwise jobs stream.
fn prepare(jobs: Jobs, config: &Config) -> (Jobs, Option<u64>) {
    let pct_halt = config
        .run
        .control
        .halt
        .is_some_and(|h| matches!(h.threshold, Threshold::Percent(_)));
    let counted = matches!(config.progress, Some(ProgressKind::Bar | ProgressKind::Eta));
    if !(config.shuf || pct_halt || counted) {
        return (jobs, None);
    }
    let mut all = Vec::new();
    let mut error = None;
    for j in jobs {
        match j {
            Ok(j) => all.push(j),
            Err(e) => {
                error = Some(e);
                break;
            }
        }
    }
    if config.shuf {
        // As GNU parallel: {#} numbers the jobs in their shuffled order.
        fastrand::shuffle(&mut all);
        for (i, j) in all.iter_mut().enumerate() {
            j.seq = JobSeq(i as u64 + 1);
        }
    }
    let total = all.len() as u64;
    let jobs = all.into_iter().map(Ok).chain(error.map(Err));
    (Box::new(jobs), Some(total))
}

/// The sinks: the printer (or JSON lines) with the job log, results and
/// `--files` in front of it, all behind `-k`'s ordering, as GNU parallel
/// logs a job when it prints it; progress counts see events first.
fn observers(config: &Config, plan: &Plan, counters: Arc<Counters>) -> Result<Box<dyn Sink>> {
    let printer: Box<dyn Sink> = if config.json {
        Box::new(JsonLines::stdout())
    } else {
        Box::new(Printer::new(plan.print.clone()))
    };
    let mut sink = Observed::new(printer);
    if let Some(log) = config.joblog.as_ref().filter(|_| !config.run.dry_run) {
        let j = if log.path.as_os_str() == "-" {
            JobLog::stdout()
        } else {
            JobLog::open(&log.path, log.append)
        }
        .with_context(|| format!("cannot write --joblog `{}`", log.path.display()))?;
        sink = sink.with(j);
    }
    if let Some(dir) = &config.results {
        sink = sink.with(ResultsDir::new(results_layout(dir, config)?));
    }
    if let Some(dir) = &config.files {
        sink = sink.with(Files::new(dir.clone()));
    }
    let ordered: Box<dyn Sink> = if config.keep_order {
        Box::new(Ordered::new(sink))
    } else {
        Box::new(sink)
    };
    let mut outer = Observed::new(ordered);
    if config.progress.is_some() {
        outer = outer.with(Count(counters));
    }
    Ok(Box::new(outer))
}

fn results_layout(dir: &std::path::Path, config: &Config) -> Result<ResultsLayout> {
    let bytes = dir.as_os_str().as_bytes();
    if [&b".json"[..], b".csv", b".tsv"]
        .iter()
        .any(|e| bytes.ends_with(e))
    {
        bail!("--results to a .json, .csv or .tsv file is not supported; use --json for machine-readable results");
    }
    let t = Template::unquoted(bytes, &config.template)?;
    if !t.is_literal() {
        return Ok(ResultsLayout::Template(t));
    }
    Ok(ResultsLayout::Tree {
        dir: dir.to_owned(),
        names: config.results_names.clone(),
    })
}

/// Ends a coordinated run as a local one ends: the display goes first.
fn finish(
    summary: Result<RunSummary>,
    display: Option<crate::progress::Display>,
) -> Result<RunSummary> {
    if let Some(d) = display {
        d.finish();
    }
    summary
}
