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
    /// A `{= perl =}` replacement string needs perl, and there is none.
    #[error(
        "{{= perl =}} replacement strings need perl, which is not installed (or set $FANOUT_PERL)"
    )]
    PerlMissing,
    /// A `{= perl =}` expression does not compile or died, or perl failed.
    #[error("{0}")]
    Perl(String),
    /// An input file (`::::`, `-a`) could not be opened or read.
    #[error("cannot open input file `{}`: {}", path.display(), crate::error::os_text(err))]
    InputFile {
        /// The file as the user named it.
        path: PathBuf,
        /// What the operating system said.
        err: std::io::Error,
    },
    /// A `--tmpl` file could not be written.
    #[error("cannot write --tmpl file `{}`: {}", path.display(), crate::error::os_text(err))]
    TmplWrite {
        /// The file, as its template rendered it.
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
    // The OS text is in the message, not also a `#[source]`: a caller that
    // prints the chain (`{:#}`) would otherwise say it twice.
    /// The private temporary directory could not be created or written.
    #[error("cannot use temporary directory: {}", crate::error::os_text(.0))]
    Temp(std::io::Error),
    /// The async runtime or a signal handler could not be set up.
    #[error("cannot start the engine: {}", crate::error::os_text(.0))]
    Runtime(std::io::Error),
    /// Writing job output failed (other than a closed pipe).
    #[error("cannot write output: {}", crate::error::os_text(.0))]
    Output(std::io::Error),
    /// A file fanout keeps besides stdout (the job log, a results file)
    /// could not be written.
    #[error("cannot write {what} `{}`: {}", path.display(), crate::error::os_text(err))]
    WriteFile {
        /// Which kind of file.
        what: FileKind,
        /// The file (or, for `--files`, the directory it goes in).
        path: PathBuf,
        /// What the operating system said.
        err: std::io::Error,
    },
    /// A job's output could not be held until it is printed (the spool
    /// disk is full): nothing of it is printed, since `--group` promises
    /// whole outputs or none.
    #[error(
        "cannot keep the output of job {seq} ({}): {}",
        String::from_utf8_lossy(command),
        crate::error::os_text(err)
    )]
    Spool {
        /// The job.
        seq: u64,
        /// Its command line.
        command: Vec<u8>,
        /// What the operating system said.
        err: std::io::Error,
    },
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

/// The files besides stdout that a run writes, as [`Error::WriteFile`]
/// names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum FileKind {
    /// `--joblog`.
    JobLog,
    /// A file under `--results`.
    Results,
    /// A `--files` output file (the path is its directory).
    Files,
}

impl std::fmt::Display for FileKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            FileKind::JobLog => "joblog",
            FileKind::Results => "results file",
            FileKind::Files => "--files output in",
        })
    }
}

/// A sink's failure to write one of its files, carried inside the
/// `io::Error` a [`crate::Sink`] returns, so the engine can name the file
/// ([`Error::WriteFile`]) rather than say "cannot write output".
#[derive(Debug)]
pub(crate) struct FileWriteError {
    pub what: FileKind,
    pub path: PathBuf,
    pub err: std::io::Error,
}

impl FileWriteError {
    /// `err` while writing `path`, as an `io::Error` of the same kind (so a
    /// closed pipe is still seen as one).
    pub(crate) fn wrap(
        what: FileKind,
        path: &std::path::Path,
        err: std::io::Error,
    ) -> std::io::Error {
        std::io::Error::new(
            err.kind(),
            FileWriteError {
                what,
                path: path.to_owned(),
                err,
            },
        )
    }
}

impl std::fmt::Display for FileWriteError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "cannot write {} `{}`: {}",
            self.what,
            self.path.display(),
            os_text(&self.err)
        )
    }
}

impl std::error::Error for FileWriteError {}

impl Error {
    /// The error for a sink's write failure: [`Error::WriteFile`] when the
    /// sink said which file, else [`Error::Output`].
    pub(crate) fn from_sink(e: std::io::Error) -> Error {
        if e.get_ref().is_some_and(|i| i.is::<FileWriteError>()) {
            let inner = e.into_inner().expect("checked above");
            let w = inner.downcast::<FileWriteError>().expect("checked above");
            return Error::WriteFile {
                what: w.what,
                path: w.path,
                err: w.err,
            };
        }
        Error::Output(e)
    }
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
