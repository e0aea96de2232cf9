//! The engine of fanout, a parallel job runner compatible with GNU parallel.
//!
//! Data flows one way: [`Inputs`] yield records; a [`Batcher`] groups them
//! into jobs ([`JobArgs`]); the [`Engine`] renders each job's command from a
//! [`Template`] when a slot frees up, runs it as a child process in its own
//! process group, and pushes [`Event`]s to a [`Sink`]: the [`Printer`], the
//! [`Ordered`] wrapper for `-k`, or your own.
//!
//! # Example
//!
//! Run `echo` over three inputs, two at a time, and read the results in
//! input order:
//!
//! ```
//! use std::sync::Arc;
//! use fanout_core::{Batcher, BatchOptions, Collect, Commands, Engine, Inputs, RunConfig,
//!                   Template, TemplateOptions};
//!
//! let template = Arc::new(Template::from_command(&["echo", "hello {}"], &TemplateOptions::default())?);
//! let (_header, records) = Inputs::from_values(["a", "b c", "d"]).open()?;
//! let jobs = Batcher::new(records, template.clone(), BatchOptions::default());
//! let mut config = RunConfig::default();
//! config.jobs = 2;
//! let engine = Engine::new(config);
//! let mut results = Collect::default();
//! let summary = engine.run(jobs, &Commands::Template { template, context: false }, &mut results)?;
//! assert_eq!(summary.failed, 0);
//! let outputs: Vec<Vec<u8>> = results.into_sorted().into_iter()
//!     .map(|mut r| r.stdout.to_vec().unwrap())
//!     .collect();
//! assert_eq!(outputs, [&b"hello a\n"[..], b"hello b c\n", b"hello d\n"]);
//! # Ok::<(), fanout_core::Error>(())
//! ```

pub mod backend;
mod batch;
pub mod control;
mod engine;
mod error;
mod event;
pub mod exec;
mod feed;
pub mod halt;
pub mod input;
mod job;
pub mod joblog;
pub mod killing;
pub mod output;
pub mod pipe;
pub mod plan;
pub mod quote;
pub mod run_core;
mod scheduler;
pub mod signals;
pub mod sink;
pub mod stdin;
pub mod template;
#[cfg(test)]
mod test_support;
pub mod throttle;
pub mod units;
pub mod verdict;

pub use batch::{BatchOptions, Batcher, MultiArgs, DEFAULT_MAX_CHARS, LINE_LIMIT};
pub use control::{Halt, HaltOn, HaltWhen, JobControl, Threshold, Timeout};
pub use engine::{
    default_term_seq, CancelToken, Commands, Engine, JobsFile, OutputMode, RunConfig, RunSummary,
    TmplFile, Tmux, Workdir,
};
pub use error::{Error, FileKind, Result};
pub use event::{Collect, Event, Observed, Observer, Sink};
pub use input::{InputOptions, Inputs, NulHook, Source, SourceSpec};
pub use job::{
    ExitKind, JobArgs, JobResult, JobSeq, KillReason, Record, Records, SeqHash, SeqHasher, SeqMap,
    SlotId, Values,
};
pub use scheduler::{Dispatch, Slots, Waiting};
pub use sink::{
    Files, JsonLines, Ordered, PrintOptions, Printer, ResultsDir, ResultsLayout, ResultsTable,
    TableFormat, Tag,
};
pub use template::{plus, Rendered, Rpl, Template, TemplateOptions, Trim};
pub use verdict::{Stopped, Verdict};
