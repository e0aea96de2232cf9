//! Typed errors of the engine. Callers tell bad input (exit 255 in the CLI)
//! from I/O trouble by matching on the variant, never on message text.

use std::path::PathBuf;

/// Everything that can stop the engine before or while it runs jobs.
///
/// A failing *job* is not an error: it is a [`crate::JobResult`] with a
/// non-zero status. These are the errors of fanout itself.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A replacement string opened with `{` but never closed, such as `{1`.
    #[error("unbalanced replacement string `{0}` in the command")]
    UnbalancedReplacement(String),
    /// An input file (`::::`, `-a`) could not be opened or read.
    #[error("cannot open input file `{}`: {}", path.display(), crate::error::os_text(err))]
    InputFile {
        /// The file as the user named it.
        path: PathBuf,
        /// What the operating system said.
        err: std::io::Error,
    },
    /// Reading an input source failed after it was opened.
    #[error("cannot read input: {}", crate::error::os_text(.0))]
    InputRead(std::io::Error),
    /// A job's command line is longer than `-s` allows, even with one
    /// argument.
    #[error("command line too long ({len} >= {max}) at input {seq}")]
    LineTooLong {
        /// Its length in bytes.
        len: usize,
        /// The `-s` limit.
        max: usize,
        /// The job it would have been.
        seq: u64,
    },
    /// Standard input was named as more than one input source.
    #[error("standard input can be used as only one input source")]
    StdinTwice,
    /// A `--colsep` pattern that is not a valid regular expression.
    #[error("invalid --colsep pattern: {0}")]
    BadColsep(String),
    /// The private temporary directory could not be created or written.
    #[error("cannot use temporary directory: {0}")]
    Temp(#[source] std::io::Error),
    /// The async runtime or a signal handler could not be set up.
    #[error("cannot start the engine: {0}")]
    Runtime(#[source] std::io::Error),
    /// Writing job output failed (other than a closed pipe).
    #[error("cannot write output: {0}")]
    Output(#[source] std::io::Error),
    /// `--recend`/`--recstart` with `--regexp` is not a valid pattern.
    #[error("invalid --recend/--recstart pattern: {0}")]
    BadRecordSeparator(String),
    /// A job log could not be read.
    #[error("cannot read joblog `{}`: {}", path.display(), crate::error::os_text(err))]
    JobLog {
        /// The job log.
        path: PathBuf,
        /// What the operating system said.
        err: std::io::Error,
    },
    /// A file given as a job log is not one (or is damaged), so it cannot
    /// tell which jobs ran.
    #[error("joblog `{}` line {line}: {why}; not resuming from it", path.display())]
    BadJobLog {
        /// The job log.
        path: PathBuf,
        /// The line (from 1).
        line: usize,
        /// What is wrong with it.
        why: String,
    },
}

/// Shorthand for results whose error is [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// An I/O error as a person reads it: "No such file or directory", without
/// Rust's "(os error 2)" suffix.
pub(crate) fn os_text(e: &std::io::Error) -> String {
    let s = e.to_string();
    match s.rfind(" (os error ") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}
