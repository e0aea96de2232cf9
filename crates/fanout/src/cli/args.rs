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
    infer_long_args = true,
    after_help = crate::manual::REPLACEMENT_STRINGS
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
    #[arg(short = 'k', long = "keep-order", visible_alias = "keeporder")]
    pub keep_order: bool,

    /// Print each job's output when it ends, never mixed with another's (default).
    #[arg(long = "group", overrides_with_all = ["ungroup", "line_buffer"])]
    pub group: bool,

    /// Print whole lines of output as they arrive.
    #[arg(
        long = "line-buffer",
        visible_aliases = ["lb", "linebuffer"],
        overrides_with_all = ["ungroup", "group"]
    )]
    pub line_buffer: bool,

    /// Let jobs write straight to the terminal; lines may mix.
    #[arg(short = 'u', long = "ungroup", overrides_with_all = ["group", "line_buffer"])]
    pub ungroup: bool,

    /// Prefix each output line with the job's arguments and a TAB.
    #[arg(long = "tag", visible_alias = "ctag")]
    pub tag: bool,

    /// Prefix each output line with STR (replacement strings expanded) and a TAB.
    #[arg(long = "tagstring", visible_alias = "ctagstring", value_name = "STR")]
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

    /// Accepted for compatibility: fanout asks for no citation.
    #[arg(long = "bibtex", visible_alias = "citation", hide = true)]
    pub bibtex: bool,

    /// Read options from the profile ~/.parallel/NAME (or $PARALLEL_HOME/NAME) first; may repeat.
    #[arg(short = 'J', long = "profile", value_name = "NAME")]
    pub profile: Vec<OsString>,

    /// Copy environment variable VAR (or exported bash function) to a
    /// distributed run's jobs; `_` for all but those --record-env saw (a
    /// local job has the whole environment already).
    #[arg(long = "env", value_name = "VAR")]
    pub env: Vec<OsString>,

    /// Write the names of the variables set now to ~/.parallel/ignored_vars
    /// (the ones `--env _` leaves out), then exit.
    #[arg(long = "record-env")]
    pub record_env: bool,

    /// Ignore the profiles and $PARALLEL.
    #[arg(long = "plain")]
    pub plain: bool,

    /// Print the command lines instead of running them.
    #[arg(long = "dry-run", visible_alias = "dryrun")]
    pub dry_run: bool,

    /// Quote the command, so each of its words is one argument.
    #[arg(short = 'q', long = "quote")]
    pub quote: bool,

    /// Use STR instead of {} as the replacement string.
    #[arg(short = 'I', value_name = "STR")]
    pub replace: Option<OsString>,

    /// As -I STR (-i alone, or --replace: {}).
    #[arg(short = 'i', long = "replace", value_name = "STR", num_args = 0..=1,
          require_equals = true, default_missing_value = "{}")]
    pub replace_i: Option<OsString>,

    /// Define a replacement string: 'TAG perl-expression' ('{TAG(regexp)} ...' takes arguments).
    #[arg(long = "rpl", value_name = "'TAG PERL'")]
    pub rpl: Vec<OsString>,

    /// Add GNU parallel's --plus replacement strings ({+/} {..} {##} {:N} {%str} ...).
    #[arg(long = "plus")]
    pub plus: bool,

    /// What opens and closes a perl expression, both halves together (default {==}).
    #[arg(long = "parens", value_name = "STR")]
    pub parens: Option<OsString>,

    /// Use STR instead of {.} (the value without its extension).
    #[arg(
        short = 'U',
        long = "extensionreplace",
        visible_alias = "er",
        value_name = "STR"
    )]
    pub extension_replace: Option<OsString>,

    /// Use STR instead of {/} (the basename).
    #[arg(long = "basenamereplace", visible_aliases = ["bn", "bnr"], value_name = "STR")]
    pub basename_replace: Option<OsString>,

    /// Use STR instead of {//} (the directory).
    #[arg(long = "dirnamereplace", visible_aliases = ["dn", "dnr"], value_name = "STR")]
    pub dirname_replace: Option<OsString>,

    /// Use STR instead of {/.} (the basename without extension).
    #[arg(
        long = "basenameextensionreplace",
        visible_aliases = ["bne", "bner"],
        value_name = "STR"
    )]
    pub basename_extension_replace: Option<OsString>,

    /// Use STR instead of {#} (the job's number).
    #[arg(long = "seqreplace", value_name = "STR")]
    pub seq_replace: Option<OsString>,

    /// Use STR instead of {%} (the job's slot).
    #[arg(long = "slotreplace", value_name = "STR")]
    pub slot_replace: Option<OsString>,

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

    /// Trim whitespace off values: n (none), l, r, lr/rl (the default with --colsep).
    #[arg(long = "trim", value_name = "n|l|r|lr|rl")]
    pub trim: Option<String>,

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

    /// Log every finished job to FILE (GNU parallel's format; +FILE appends).
    #[arg(
        long = "joblog",
        visible_alias = "jl",
        value_name = "FILE",
        help_heading = "Job control"
    )]
    pub joblog: Option<OsString>,

    /// Skip jobs the --joblog lists as run; run the rest.
    #[arg(long = "resume", help_heading = "Job control")]
    pub resume: bool,

    /// Skip jobs the --joblog lists as succeeded; run failed and new ones.
    #[arg(long = "resume-failed", help_heading = "Job control")]
    pub resume_failed: bool,

    /// Run again the failed commands of the --joblog, ignoring the input.
    #[arg(long = "retry-failed", help_heading = "Job control")]
    pub retry_failed: bool,

    /// Run a failing job up to N times in all (0: until it succeeds).
    #[arg(long = "retries", value_name = "N", help_heading = "Job control")]
    pub retries: Option<String>,

    /// Kill jobs running longer than DURATION (2.5, 30s, 1h30m) or N% of the median runtime.
    #[arg(
        long = "timeout",
        value_name = "DURATION",
        help_heading = "Job control"
    )]
    pub timeout: Option<String>,

    /// Signals and waits (ms) that end a job: default TERM,200,TERM,100,TERM,50,KILL,25.
    #[arg(
        long = "term-seq",
        visible_alias = "termseq",
        value_name = "SEQ",
        help_heading = "Job control"
    )]
    pub term_seq: Option<String>,

    /// Stop early: never, or now|soon,fail|success|done=N|N%; legacy 0, 1, 2, -1, -2, N%.
    #[arg(
        long = "halt",
        visible_alias = "halt-on-error",
        value_name = "WHEN",
        allow_hyphen_values = true,
        value_parser = Suggested(HALT_VALUES),
        hide_possible_values = true,
        help_heading = "Job control"
    )]
    pub halt: Option<String>,

    /// Wait DURATION between job starts.
    #[arg(long = "delay", value_name = "DURATION", help_heading = "Job control")]
    pub delay: Option<String>,

    /// Start no job while MAX processes (or MAX% of CPU threads) are running.
    #[arg(long = "load", value_name = "MAX", help_heading = "Job control")]
    pub load: Option<String>,

    /// Start no job with less than SIZE memory free (10M, 2G); under half, requeue the youngest.
    #[arg(long = "memfree", value_name = "SIZE", help_heading = "Job control")]
    pub memfree: Option<String>,

    /// Start no job while the machine is swapping (pages going both in and out).
    #[arg(long = "noswap", help_heading = "Job control")]
    pub noswap: bool,

    /// Run the jobs in random order.
    #[arg(long = "shuf")]
    pub shuf: bool,

    /// Show a progress bar on stderr (when it is a terminal).
    #[arg(long = "bar", help_heading = "Progress")]
    pub bar: bool,

    /// Show the estimated time left on stderr (when it is a terminal).
    #[arg(long = "eta", help_heading = "Progress")]
    pub eta: bool,

    /// Show running and completed jobs on stderr (when it is a terminal).
    #[arg(long = "progress", help_heading = "Progress")]
    pub progress: bool,

    /// Save each job's output in DIR/<source>/<value>/{seq,stdout,stderr};
    /// to FILE.json, FILE.csv or FILE.tsv as one record per job (`-.json`:
    /// on stdout), in GNU parallel's formats.
    #[arg(
        long = "results",
        visible_alias = "res",
        value_name = "DIR",
        allow_hyphen_values = true,
        help_heading = "Results"
    )]
    pub results: Option<OsString>,

    /// Save each job's output to a file and print the file's name instead.
    #[arg(long = "files", help_heading = "Results")]
    pub files: bool,

    /// Directory for temporary files: spooled output, --cat/--fifo chunks, --files (default: $TMPDIR or /tmp).
    #[arg(
        long = "tmpdir",
        visible_alias = "tempdir",
        value_name = "DIR",
        help_heading = "Results"
    )]
    pub tmpdir: Option<PathBuf>,

    /// Run each job in a window of a tmux session of the run's own (the
    /// command to attach to it is printed); no other output.
    #[arg(long = "tmux")]
    pub tmux: bool,

    /// As --tmux, with a pane per job in one window.
    #[arg(long = "tmuxpane")]
    pub tmuxpane: bool,

    /// Work as a counting semaphore shared by processes (as `sem`): wait
    /// for one of -j slots (default 1) of --id, then run the command.
    #[arg(long = "semaphore", help_heading = "Semaphore")]
    pub semaphore: bool,

    /// With --semaphore: run the command in the foreground and exit with
    /// its status.
    #[arg(long = "fg", help_heading = "Semaphore")]
    pub fg: bool,

    /// With --semaphore: run the command in the background (the default).
    #[arg(long = "bg", help_heading = "Semaphore")]
    pub bg: bool,

    /// With --semaphore: wait until every holder of --id has finished.
    #[arg(long = "wait", help_heading = "Semaphore")]
    pub wait: bool,

    /// With --semaphore: the semaphore's name (default: the terminal's).
    #[arg(
        long = "id",
        visible_alias = "semaphorename",
        value_name = "ID",
        help_heading = "Semaphore"
    )]
    pub id: Option<String>,

    /// With --semaphore: after SECS seconds run anyway (negative: give up).
    #[arg(
        long = "semaphoretimeout",
        visible_alias = "st",
        value_name = "SECS",
        allow_negative_numbers = true,
        help_heading = "Semaphore"
    )]
    pub semaphore_timeout: Option<f64>,

    /// Print nothing of the jobs themselves (the default; -v turns it off).
    #[arg(long = "silent")]
    pub silent: bool,

    /// Exit 0 if this is at least GNU parallel version N (fanout has GNU
    /// parallel 20221122's command line), 255 if not; print the version.
    #[arg(long = "minversion", value_name = "N")]
    pub minversion: Option<String>,

    /// Print the longest command line a job may have, and exit.
    #[arg(long = "max-line-length-allowed")]
    pub max_line_length_allowed: bool,

    /// Count CPU cores, not threads, for -j's default and percentages.
    #[arg(long = "use-cores-instead-of-threads")]
    pub use_cores_instead_of_threads: bool,

    /// As --use-cores-instead-of-threads (GNU's older name).
    #[arg(long = "use-cpus-instead-of-cores")]
    pub use_cpus_instead_of_cores: bool,

    /// Print the number of CPU cores (GNU's obsolete name), and exit.
    #[arg(long = "number-of-cpus")]
    pub number_of_cpus: bool,

    /// Print the number of CPU cores, and exit.
    #[arg(long = "number-of-cores")]
    pub number_of_cores: bool,

    /// Print the number of CPU threads, and exit.
    #[arg(long = "number-of-threads")]
    pub number_of_threads: bool,

    /// Print each input value shell-quoted instead of running anything.
    #[arg(long = "shellquote")]
    pub shellquote: bool,

    /// The number of jobs, for --eta, --bar and --halt N% without reading
    /// all input first.
    #[arg(long = "total-jobs", visible_alias = "total", value_name = "N")]
    pub total_jobs: Option<u64>,

    /// Run the command once with no arguments on every host (without
    /// --sshlogin: this one), reading no input.
    #[arg(long = "nonall")]
    pub nonall: bool,

    /// Run every job on every host (without --sshlogin: this one, so as
    /// without --onall).
    #[arg(long = "onall")]
    pub onall: bool,

    /// Before each job, write FILE's text with its replacement strings
    /// filled in to OUT (itself a template); repeatable.
    #[arg(long = "tmpl", value_name = "FILE=OUT")]
    pub tmpl: Vec<OsString>,

    /// Remove the --tmpl files when the job ends.
    #[arg(long = "cleanup")]
    pub cleanup: bool,

    /// Compress spooled output (and --results files) with the first of
    /// GNU parallel's programs found: pzstd, lbzip2, pbzip2, zstd, ...
    #[arg(long = "compress", help_heading = "Results")]
    pub compress: bool,

    /// Compress with this command (implies --compress).
    #[arg(
        long = "compress-program",
        value_name = "PRG",
        help_heading = "Results"
    )]
    pub compress_program: Option<OsString>,

    /// Decompress with this command (default: the compress program's own).
    #[arg(
        long = "decompress-program",
        value_name = "PRG",
        help_heading = "Results"
    )]
    pub decompress_program: Option<OsString>,

    /// Run jobs in DIR (made when missing); `...` gives each job a private
    /// directory under ~/.parallel/tmp, removed when it ends.
    #[arg(long = "wd", visible_alias = "workdir", value_name = "DIR")]
    pub workdir: Option<PathBuf>,

    /// Run jobs at niceness N (added to fanout's own).
    #[arg(long = "nice", value_name = "N", allow_negative_numbers = true)]
    pub nice: Option<i32>,

    /// Print one JSON object per finished job on stdout instead of its output.
    #[arg(long = "json", help_heading = "Results")]
    pub json: bool,

    /// Serve a live web dashboard of the run on ADDR (default 127.0.0.1:0,
    /// a free port; the URL is printed on stderr). Any address but
    /// localhost needs the token the printed URL carries.
    #[arg(long = "dashboard", value_name = "ADDR", num_args = 0..=1,
          require_equals = true, default_missing_value = "127.0.0.1:0",
          help_heading = "Results")]
    pub dashboard: Option<String>,

    /// With --dashboard --broker URL (watching a broker): the page may
    /// cancel runs (without it, nothing the dashboard does changes a run).
    #[arg(long = "dashboard-control", help_heading = "Results")]
    pub dashboard_control: bool,

    /// At the end of the run, write FILE: one self-contained HTML report
    /// (timeline, run-time histogram, slowest and failed jobs, totals).
    #[arg(long = "report", value_name = "FILE", help_heading = "Results")]
    pub report: Option<PathBuf>,

    /// Cut stdin into chunks of whole records and give each job one on its stdin.
    #[arg(
        long = "pipe",
        visible_alias = "spreadstdin",
        help_heading = "Pipe mode"
    )]
    pub pipe: bool,

    /// Like --pipe for a seekable file (-a or ::::): each job reads its own byte range.
    #[arg(
        long = "pipepart",
        visible_alias = "pipe-part",
        help_heading = "Pipe mode"
    )]
    pub pipepart: bool,

    /// Chunk size, e.g. 10M (default 1M); with --pipepart -N means N chunks per job slot.
    #[arg(
        long = "block",
        visible_alias = "block-size",
        value_name = "SIZE",
        allow_hyphen_values = true,
        help_heading = "Pipe mode"
    )]
    pub block: Option<String>,

    /// A record ends with STR (default \n; C escapes allowed).
    #[arg(long = "recend", value_name = "STR", help_heading = "Pipe mode")]
    pub recend: Option<OsString>,

    /// A record starts with STR.
    #[arg(long = "recstart", value_name = "STR", help_heading = "Pipe mode")]
    pub recstart: Option<OsString>,

    /// --recend and --recstart are regular expressions.
    #[arg(long = "regexp", help_heading = "Pipe mode")]
    pub regexp: bool,

    /// With --pipe: a record is N lines.
    #[arg(
        short = 'L',
        long = "max-lines",
        value_name = "N",
        help_heading = "Pipe mode"
    )]
    pub max_lines: Option<usize>,

    /// Start one job per slot and spread the chunks over them.
    #[arg(
        long = "round-robin",
        visible_aliases = ["round", "roundrobin"],
        help_heading = "Pipe mode"
    )]
    pub round_robin: bool,

    /// Run only the jobs for which perl finds EXPR true, once the job's
    /// values are put in its replacement strings (`{1} < {2}`); repeatable.
    #[arg(long = "filter", value_name = "EXPR")]
    pub filter: Vec<OsString>,

    /// Read input as CSV: quoted fields may hold the separator (--colsep,
    /// one character, default `,`) and newlines.
    #[arg(long = "csv")]
    pub csv: bool,

    /// With --pipe: a record is a run of lines with the same value in
    /// column N (split by --colsep, else TAB).
    #[arg(long = "group-by", value_name = "N", help_heading = "Pipe mode")]
    pub group_by: Option<String>,

    /// With --pipe: each line goes to the job a hash of column N picks, so
    /// equal values meet in one job (one job per slot).
    #[arg(long = "shard", value_name = "N", help_heading = "Pipe mode")]
    pub shard: Option<usize>,

    /// With --pipe: each line goes to job (value of column N) modulo the
    /// number of slots (one job per slot).
    #[arg(long = "bin", value_name = "N", help_heading = "Pipe mode")]
    pub bin: Option<usize>,

    /// With --pipe: when stdin has been quiet this long, the records read
    /// so far go to a job without waiting for a full --block.
    #[arg(
        long = "block-timeout",
        visible_alias = "bt",
        value_name = "DURATION",
        help_heading = "Pipe mode"
    )]
    pub block_timeout: Option<String>,

    /// With --pipe or --pipepart: do not use the input's first line.
    #[arg(long = "skip-first-line", help_heading = "Pipe mode")]
    pub skip_first_line: bool,

    /// With --pipe: every job gets all of the input (one job per argument,
    /// all running at once).
    #[arg(long = "tee", help_heading = "Pipe mode")]
    pub tee: bool,

    /// With --pipe: remove the text --recend and --recstart matched before
    /// a record goes to a job.
    #[arg(long = "remove-rec-sep", visible_aliases = ["rrs", "removerecsep"], help_heading = "Pipe mode")]
    pub remove_rec_sep: bool,

    /// Give each job its chunk in a temporary file named by {}.
    #[arg(long = "cat", help_heading = "Pipe mode")]
    pub cat: bool,

    /// Give each job its chunk through a named pipe named by {}.
    #[arg(long = "fifo", help_heading = "Pipe mode")]
    pub fifo: bool,

    /// Run the jobs on workers through this NATS JetStream server (nats://HOST:PORT).
    #[arg(long = "broker", value_name = "URL", help_heading = "Distributed")]
    pub broker: Option<String>,

    /// Be a worker: run jobs from the broker's runs until stopped (SIGTERM or Ctrl-C).
    #[arg(long = "worker", help_heading = "Distributed")]
    pub worker: bool,

    /// Print the state of the broker's runs (or of --run-id's) and exit.
    #[arg(long = "status", help_heading = "Distributed")]
    pub status: bool,

    /// Cancel the run --run-id names and exit.
    #[arg(long = "cancel", help_heading = "Distributed")]
    pub cancel: bool,

    /// Name the run (default: derived from the directory and command line, so the same command finds its run with --resume).
    #[arg(long = "run-id", value_name = "ID", help_heading = "Distributed")]
    pub run_id: Option<String>,

    /// How long a worker may hold a job without a heartbeat before it is redelivered (default 30s).
    #[arg(
        long = "ack-wait",
        value_name = "DURATION",
        help_heading = "Distributed"
    )]
    pub ack_wait: Option<String>,

    /// Deliveries of one job at most; then it is reported failed as lost (default 5).
    #[arg(
        long = "max-deliveries",
        value_name = "N",
        help_heading = "Distributed"
    )]
    pub max_deliveries: Option<u32>,

    /// Copies of the run's streams on a JetStream cluster, 1 to 5 (default 1); the run survives the loss of a minority of them.
    #[arg(long = "replicas", value_name = "N", help_heading = "Distributed")]
    pub replicas: Option<u32>,

    /// Worker: run only commands that match REGEX in full and hold no newline, backtick or $(; others are reported failed (repeatable).
    #[arg(long = "allow", value_name = "REGEX", help_heading = "Distributed")]
    pub allow: Vec<String>,

    /// Worker: jobs held beyond the free slots, ready to start (default: as many as -j, at least 4).
    #[arg(long = "prefetch", value_name = "N", help_heading = "Distributed")]
    pub prefetch: Option<usize>,

    /// Worker: with --allow, let command lines with a newline, a backtick or $( through too.
    #[arg(long = "allow-metachars", help_heading = "Distributed")]
    pub allow_metachars: bool,

    /// Sign the run (coordinator) or the results (worker) with this secret key (see --keygen).
    #[arg(
        long = "sign-key",
        value_name = "FILE",
        env = "FANOUT_SIGN_KEY",
        hide_env_values = true,
        help_heading = "Distributed"
    )]
    pub sign_key: Option<std::path::PathBuf>,

    /// Worker: run only runs signed by this public key; coordinator: take only results signed by it (repeatable).
    #[arg(long = "trust", value_name = "FILE.pub", help_heading = "Distributed")]
    pub trust: Vec<std::path::PathBuf>,

    /// Worker: run unsigned jobs from a broker connection without authentication and without --allow.
    #[arg(long = "insecure", help_heading = "Distributed")]
    pub insecure: bool,

    /// Write a new signing key pair to FILE (secret, mode 0600) and FILE.pub, and exit.
    #[arg(long = "keygen", value_name = "FILE", help_heading = "Distributed")]
    pub keygen: Option<std::path::PathBuf>,

    /// Worker benchmark mode: report every job succeeded without running it.
    #[arg(long = "noop-jobs", help_heading = "Distributed")]
    pub noop_jobs: bool,

    /// Broker user name (with --broker-password or $FANOUT_BROKER_PASSWORD).
    #[arg(
        long = "broker-user",
        value_name = "USER",
        help_heading = "Distributed"
    )]
    pub broker_user: Option<String>,

    /// Broker password (better: $FANOUT_BROKER_PASSWORD, which ps cannot show).
    #[arg(
        long = "broker-password",
        value_name = "PASSWORD",
        env = "FANOUT_BROKER_PASSWORD",
        hide_env_values = true,
        help_heading = "Distributed"
    )]
    pub broker_password: Option<String>,

    /// Broker token (or $FANOUT_BROKER_TOKEN).
    #[arg(
        long = "broker-token",
        value_name = "TOKEN",
        env = "FANOUT_BROKER_TOKEN",
        hide_env_values = true,
        help_heading = "Distributed"
    )]
    pub broker_token: Option<String>,

    /// Broker credentials file (.creds: JWT and nkey seed).
    #[arg(
        long = "broker-creds",
        value_name = "FILE",
        help_heading = "Distributed"
    )]
    pub broker_creds: Option<PathBuf>,

    /// CA certificate (PEM) to verify the broker's TLS certificate with; implies TLS.
    #[arg(
        long = "broker-tls-ca",
        value_name = "FILE",
        help_heading = "Distributed"
    )]
    pub broker_tls_ca: Option<PathBuf>,

    /// Client certificate (PEM) for TLS, with --broker-tls-key.
    #[arg(
        long = "broker-tls-cert",
        value_name = "FILE",
        requires = "broker_tls_key",
        help_heading = "Distributed"
    )]
    pub broker_tls_cert: Option<PathBuf>,

    /// Client key (PEM) for TLS, with --broker-tls-cert.
    #[arg(
        long = "broker-tls-key",
        value_name = "FILE",
        requires = "broker_tls_cert",
        help_heading = "Distributed"
    )]
    pub broker_tls_key: Option<PathBuf>,

    /// Refuse to talk to the broker without TLS.
    #[arg(long = "broker-require-tls", help_heading = "Distributed")]
    pub broker_require_tls: bool,

    /// Print a completion script for SHELL (bash, zsh, fish, elvish, powershell) and exit.
    #[arg(
        long = "completions",
        value_name = "SHELL",
        value_parser = Suggested(&["bash", "zsh", "fish", "elvish", "powershell"]),
        hide_possible_values = true,
        help_heading = "Documentation"
    )]
    pub completions: Option<String>,

    /// Print the man page (roff) and exit.
    #[arg(long = "man", help_heading = "Documentation")]
    pub man: bool,

    /// The command and its arguments; without one, each input is a command.
    #[arg(value_name = "COMMAND", num_args = 0..)]
    pub command: Vec<OsString>,
}

/// `--halt`'s usual values, offered by the shell completions.
const HALT_VALUES: &[&str] = &[
    "never",
    "now,fail=1",
    "soon,fail=1",
    "now,success=1",
    "soon,success=1",
    "now,done=1",
    "soon,done=1",
    "soon,fail=10%",
];

/// A value parser that takes any string but names some for the shell
/// completions to offer (the option's own parsing comes later, in one
/// place, with fanout's messages).
#[derive(Clone, Copy)]
pub struct Suggested(pub &'static [&'static str]);

impl clap::builder::TypedValueParser for Suggested {
    type Value = String;

    fn parse_ref(
        &self,
        cmd: &clap::Command,
        arg: Option<&clap::Arg>,
        value: &std::ffi::OsStr,
    ) -> Result<String, clap::Error> {
        clap::builder::StringValueParser::new().parse_ref(cmd, arg, value)
    }

    fn possible_values(
        &self,
    ) -> Option<Box<dyn Iterator<Item = clap::builder::PossibleValue> + '_>> {
        Some(Box::new(
            self.0.iter().map(|v| clap::builder::PossibleValue::new(*v)),
        ))
    }
}
