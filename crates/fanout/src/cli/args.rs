//! fanout's options, as clap sees them (GNU parallel's names).

use std::ffi::OsString;
use std::path::PathBuf;

use clap::{ArgAction, Parser};

/// Run jobs in parallel: a fast, GNU parallel compatible job runner.
#[derive(Debug, Parser)]
#[command(
    name = "fanout",
    version,
    trailing_var_arg = true,
    disable_help_subcommand = true,
    args_override_self = true,
    infer_long_args = true
)]
#[command(
    override_usage = "fanout [OPTIONS] [COMMAND [ARG...]] [::: ARGS | :::: FILES | :::+ ARGS | ::::+ FILES]..."
)]
pub struct Cli {
    /// Job slots: N, N% of CPU threads, +N, -N, or 0 for as many as possible.
    #[arg(
        short = 'j',
        long = "jobs",
        visible_alias = "max-procs",
        visible_short_alias = 'P',
        value_name = "N",
        allow_negative_numbers = true
    )]
    pub jobs: Option<String>,

    /// Print output in the order of the input, not of completion.
    #[arg(short = 'k', long = "keep-order")]
    pub keep_order: bool,

    /// Print each job's output when it ends, never mixed with another's (default).
    #[arg(long = "group", overrides_with_all = ["ungroup", "line_buffer"])]
    pub group: bool,

    /// Print whole lines of output as they arrive.
    #[arg(long = "line-buffer", visible_alias = "lb", overrides_with_all = ["ungroup", "group"])]
    pub line_buffer: bool,

    /// Let jobs write straight to the terminal; lines may mix.
    #[arg(short = 'u', long = "ungroup", overrides_with_all = ["group", "line_buffer"])]
    pub ungroup: bool,

    /// Prefix each output line with the job's arguments and a TAB.
    #[arg(long = "tag")]
    pub tag: bool,

    /// Prefix each output line with STR (replacement strings expanded) and a TAB.
    #[arg(long = "tagstring", value_name = "STR")]
    pub tagstring: Option<OsString>,

    /// Print each command line on stdout before its output.
    #[arg(short = 'v')]
    pub verbose: bool,

    /// Print each command line on stderr as it starts.
    #[arg(short = 't', long = "verbose")]
    pub trace: bool,

    /// Accepted for compatibility: fanout prints no citation notice.
    #[arg(long = "will-cite", visible_alias = "no-notice", hide = true)]
    pub will_cite: bool,

    /// Print the command lines instead of running them.
    #[arg(long = "dry-run")]
    pub dry_run: bool,

    /// Quote the command, so each of its words is one argument.
    #[arg(short = 'q', long = "quote")]
    pub quote: bool,

    /// Use STR instead of {} as the replacement string.
    #[arg(short = 'I', value_name = "STR")]
    pub replace: Option<OsString>,

    /// Use at most N arguments per command line.
    #[arg(short = 'n', long = "max-args", value_name = "N")]
    pub max_args: Option<usize>,

    /// Use at most N arguments per command line; {1}..{N} name them.
    #[arg(short = 'N', long = "max-replace-args", value_name = "N")]
    pub max_replace_args: Option<usize>,

    /// Fit as many arguments as the line allows, repeating the word around {}.
    #[arg(short = 'X')]
    pub context_replace: bool,

    /// Fit as many arguments as the line allows, inserted where {} stands.
    #[arg(short = 'm')]
    pub multi: bool,

    /// Like -m, as xargs does it: fill each line, never spread over slots.
    #[arg(long = "xargs")]
    pub xargs: bool,

    /// Keep each command line shorter than N bytes.
    #[arg(short = 's', long = "max-chars", value_name = "N")]
    pub max_chars: Option<usize>,

    /// Input items end with NUL, not newline.
    #[arg(short = '0', long = "null")]
    pub null: bool,

    /// Input items end with DELIM (C escapes such as \t and \0 allowed).
    #[arg(short = 'd', long = "delimiter", value_name = "DELIM")]
    pub delimiter: Option<OsString>,

    /// Stop reading input at a line equal to STR.
    #[arg(short = 'E', value_name = "STR")]
    pub eof: Option<OsString>,

    /// Skip input items that are empty or only whitespace.
    #[arg(short = 'r', long = "no-run-if-empty")]
    pub no_run_if_empty: bool,

    /// Split each input item into columns {1} {2}... on REGEX.
    #[arg(short = 'C', long = "colsep", value_name = "REGEX")]
    pub colsep: Option<String>,

    /// Use the first input line of each source as column names ({name}).
    #[arg(long = "header", value_name = "REGEX")]
    pub header: Option<String>,

    /// Read input items from FILE (- for stdin); repeatable.
    #[arg(short = 'a', long = "arg-file", value_name = "FILE", action = ArgAction::Append)]
    pub arg_file: Vec<PathBuf>,

    /// Use SEP instead of ::: to start a group of arguments.
    #[arg(long = "arg-sep", value_name = "SEP")]
    pub arg_sep: Option<OsString>,

    /// Use SEP instead of :::: to start a group of argument files.
    #[arg(long = "arg-file-sep", value_name = "SEP")]
    pub arg_file_sep: Option<OsString>,

    /// Take one value from each source at a time instead of every combination.
    #[arg(long = "link", visible_alias = "xapply")]
    pub link: bool,

    /// The command and its arguments; without one, each input is a command.
    #[arg(value_name = "COMMAND", num_args = 0..)]
    pub command: Vec<OsString>,
}
