//! Raw options to a validated run plan, once. The engine sees only the
//! plan, never the parsed command line.

use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use fanout_core::{
    BatchOptions, Commands, InputOptions, Inputs, MultiArgs, OutputMode, PrintOptions, RunConfig,
    Source, SourceSpec, Tag, Template, TemplateOptions, TmplFile, Workdir, DEFAULT_MAX_CHARS,
};

use super::control::{job_control, joblog_options, term_seq, JobLogOptions};
use super::environment::{Environment, FileNeed, MAX_ANY};
use super::escape::{unescape, unquote_printf};
use super::jobs::parse_jobs;
use super::pipe::{pipe_mode, pipe_requested, PipeMode};
use super::Cli;
use fanout_core::pipe::Delivery;

/// Everything a run needs, validated.
pub struct Config {
    /// The inputs, not yet opened.
    pub inputs: Inputs,
    /// The command words.
    pub command: Vec<Vec<u8>>,
    /// How the command becomes a template (header names are added later).
    pub template: TemplateOptions,
    /// `--tagstring`, unparsed until the header is known.
    pub tagstring: Option<Vec<u8>>,
    /// `--tag`.
    pub tag: bool,
    /// `--filter` expressions, parsed when the run is planned.
    pub filters: Vec<Vec<u8>>,
    /// `--tmpl FILE=OUT` pairs, read when the run is planned.
    pub tmpl: Vec<(PathBuf, Vec<u8>)>,
    /// `--tmux` (false) or `--tmuxpane` (true), set up when the run starts.
    pub tmux: Option<bool>,
    /// `$PARALLEL_TMUX`, else `tmux`.
    pub tmux_program: OsString,
    /// Where the tmux socket goes (`--tmpdir`, else `$TMPDIR`).
    pub tmux_dir: PathBuf,
    /// `--total-jobs N`: the number of jobs, given rather than counted.
    pub total_jobs: Option<u64>,
    /// `--shellquote`: print each job's line quoted, run nothing.
    pub shellquote: bool,
    /// `--env` names, whose values go with a distributed run's spec.
    pub env: Vec<OsString>,
    /// `--retries` given as a replacement string, parsed with the rest.
    pub retries_template: Option<Vec<u8>>,
    /// Batching.
    pub batch: BatchOptions,
    /// `-X`.
    pub context: bool,
    /// Engine settings.
    pub run: RunConfig,
    /// `-k`.
    pub keep_order: bool,
    /// `-v`.
    pub verbose: bool,
    /// `-t`.
    pub trace: bool,
    /// `--joblog` and how it is resumed from.
    pub joblog: Option<JobLogOptions>,
    /// `--bar`, `--eta` or `--progress`.
    pub progress: Option<ProgressKind>,
    /// `--results DIR`.
    pub results: Option<PathBuf>,
    /// `--files`, with the directory the files go in.
    pub files: Option<PathBuf>,
    /// `--json`.
    pub json: bool,
    /// `--dashboard` and `--report`.
    pub watch: crate::dashboard::WatchOptions,
    /// `--shuf`.
    pub shuf: bool,
    /// Column names for `--results` directories (`--header` names).
    pub results_names: Vec<Vec<u8>>,
    /// `--pipe`, `--pipepart`, `--round-robin`.
    pub pipe: Option<PipeMode>,
    /// `--broker` and the distributed options.
    pub distributed: Option<super::Distributed>,
    /// The descriptors the jobs need (see `Config::apply_to_process`).
    pub files_needed: FileNeed,
    /// Warnings validation found, printed by `Config::apply_to_process`.
    pub warnings: Vec<String>,
}

/// Which progress display was asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProgressKind {
    /// `--bar`.
    Bar,
    /// `--eta`.
    Eta,
    /// `--progress`.
    Progress,
}

/// A config with its inputs opened and templates parsed.
pub struct Plan {
    /// The command template.
    pub template: Arc<Template>,
    /// How jobs become programs.
    pub commands: Commands,
    /// How output is printed.
    pub print: PrintOptions,
}

impl Config {
    /// Converts the parsed options and the split-off sources.
    /// Reads nothing of the process and changes nothing in it: `env` is
    /// what it needs of the environment, and what must change in the
    /// process (the open-file limit) or be said (warnings) is left to
    /// [`Config::apply_to_process`].
    pub fn new(cli: Cli, sources: Vec<SourceSpec>, env: &Environment) -> Result<Self> {
        let mut warnings = Vec::new();
        let distributed = super::broker::distributed(&cli, !sources.is_empty())?;
        let (run, files_needed) = run_config(&cli, env)?;
        let joblog = joblog_options(&cli)?;
        super::pipe::check_group_by(&cli)?;
        let pipe = pipe_mode(&cli)?;
        let progress = progress_kind(&cli);
        let watch = watch_options(&cli)?;
        let mut all_sources: Vec<SourceSpec> = cli
            .arg_file
            .iter()
            .map(|p| SourceSpec {
                source: Source::File(p.clone()),
                linked: false,
            })
            .collect();
        all_sources.extend(sources);
        if cli.nonall {
            // --nonall: the command once, with no arguments, on the one
            // host there is without -S (GNU parallel reads no input).
            all_sources = vec![SourceSpec {
                source: Source::Args(vec![Vec::new()]),
                linked: false,
            }];
        }
        let inputs = Inputs {
            sources: all_sources,
            options: input_options(&cli)?,
        };
        // -L N outside pipe mode: N input lines per command line, as -n N
        // (GNU parallel's own reading; -L 0 is -N 0, -l0 is -L 1).
        let max_lines = cli.max_lines.filter(|_| pipe.is_none());
        let max_args = if cli.nonall {
            Some(0)
        } else {
            cli.max_replace_args.or(cli.max_args).or(max_lines)
        };
        let cli_max_replace = cli.max_replace_args.is_some_and(|n| n > 0);
        let lines_context =
            max_lines.is_some_and(|n| n > 0) && cli.max_replace_args.or(cli.max_args).is_none();
        let multi = multi_mode(&cli);
        let modes = [cli.xargs, cli.context_replace, cli.multi];
        if modes.iter().filter(|&&m| m).count() > 1 {
            warnings.push(format!(
                "-X, -m and --xargs pick one way to fill a command line; using {}",
                match multi {
                    Some(MultiArgs::Xargs) => "--xargs",
                    Some(MultiArgs::Context) => "-X",
                    _ => "-m",
                }
            ));
        }
        if cli.json && (cli.tag || cli.tagstring.is_some()) {
            warnings.push(
                "--tag does nothing with --json: each record carries its job's arguments".into(),
            );
        }
        let batch = BatchOptions {
            max_args,
            multi,
            max_chars: max_chars(cli.max_chars, &mut warnings),
            slots: run.jobs,
            lines: max_lines.is_some_and(|n| n > 0)
                && cli.max_replace_args.or(cli.max_args).is_none(),
        };
        let mut run = run;
        run.queue = batch.read_ahead(run.queue);
        if batch.max_chars < 2 {
            bail!("invalid value `{}` for -s: too small", batch.max_chars);
        }
        let mut template = super::replace::template_options(&cli)?;
        let custom = !template.rpl.is_empty()
            || !template.renamed.is_empty()
            || template.parens != TemplateOptions::default().parens;
        if distributed.is_some() {
            if cli.trim.is_some() {
                bail!("--trim does not work with --broker yet");
            }
            // Workers do not trim (the spec does not say to): neither may
            // the coordinator, whose command lines go in the job log.
            template.trim = fanout_core::Trim::None;
        }
        if distributed.is_some() && cli.retries.as_ref().is_some_and(|r| r.contains('{')) {
            bail!("--retries with a replacement string does not work with --broker yet");
        }
        if distributed.is_some() && (cli.tmux || cli.tmuxpane) {
            bail!("--tmux does not work with --broker: workers run jobs where they run");
        }
        if distributed.is_some() && !cli.filter.is_empty() {
            bail!("--filter does not work with --broker yet");
        }
        if distributed.is_some() && !cli.tmpl.is_empty() {
            bail!("--tmpl does not work with --broker yet");
        }
        if distributed.is_some() && (cli.workdir.is_some() || cli.nice.is_some()) {
            bail!("--wd and --nice do not work with --broker yet: workers run jobs where they run");
        }
        if custom && distributed.is_some() {
            // Workers build the template from the run's spec, which does
            // not carry these yet: they would run other commands.
            bail!("--rpl, --plus, --parens and the options renaming replacement strings do not work with --broker yet");
        }
        // In pipe mode the input is on stdin, not in the command. (--cat
        // and --fifo name the chunk's file with {}).
        template.append_missing =
            max_args != Some(0) && pipe.as_ref().is_none_or(|p| p.delivery != Delivery::Stdin);
        Ok(Config {
            inputs,
            command: cli.command.into_iter().map(OsString::into_vec).collect(),
            template,
            tagstring: cli.tagstring.map(|t| unquote_printf(t.as_bytes())),
            tag: cli.tag,
            filters: cli.filter.iter().map(|f| f.as_bytes().to_vec()).collect(),
            tmpl: cli.tmpl.iter().map(split_tmpl).collect::<Result<_>>()?,
            tmux: (cli.tmux || cli.tmuxpane).then_some(cli.tmuxpane),
            tmux_program: env.tmux.clone(),
            tmux_dir: cli.tmpdir.clone().unwrap_or_else(|| env.temp_dir.clone()),
            total_jobs: cli.total_jobs,
            shellquote: cli.shellquote,
            env: cli.env.clone(),
            retries_template: cli
                .retries
                .clone()
                .filter(|r| r.contains('{'))
                .map(String::into_bytes),
            batch,
            // -N (and -L) repeat a word holding {} per value, as -X does
            // (GNU).
            context: multi == Some(MultiArgs::Context) || cli_max_replace || lines_context,
            run,
            keep_order: cli.keep_order,
            // With --files a job's output is its file's name, alone (GNU).
            verbose: cli.verbose && !cli.dry_run && !cli.files,
            trace: cli.trace && !cli.dry_run,
            joblog,
            progress,
            watch,
            results: cli.results.map(PathBuf::from),
            files: cli
                .files
                .then(|| cli.tmpdir.clone().unwrap_or_else(|| env.temp_dir.clone())),
            json: cli.json,
            shuf: cli.shuf,
            results_names: Vec::new(),
            pipe,
            distributed,
            files_needed,
            warnings,
        })
    }

    /// Parses the templates once the header (if any) has named the columns.
    pub fn plan(&mut self, header: Vec<Vec<u8>>) -> Result<Plan> {
        // A header line ending in \r\n names its last column without the \r.
        self.template.header = header
            .into_iter()
            .map(|mut h| {
                if h.last() == Some(&b'\r') {
                    h.pop();
                }
                h
            })
            .collect();
        let template = Arc::new(Template::from_command(&self.command, &self.template)?);
        self.run.filters = self
            .filters
            .iter()
            .map(|f| Template::unquoted(f, &self.template).map(Arc::new))
            .collect::<fanout_core::Result<_>>()?;
        self.run.tmpl = self
            .tmpl
            .iter()
            .map(|(file, out)| tmpl_file(file, out, &self.template))
            .collect::<Result<_>>()?;
        if let Some(r) = &self.retries_template {
            self.run.retries_per_job = Some(Arc::new(Template::unquoted(r, &self.template)?));
        }
        let tag = match &self.tagstring {
            Some(t) => Some(Tag::Template(Template::unquoted(t, &self.template)?)),
            None if self.tag => Some(Tag::Args),
            None => None,
        };
        Ok(Plan {
            commands: Commands::Template {
                template: template.clone(),
                context: self.context,
            },
            template,
            print: PrintOptions {
                mode: self.run.output,
                verbose: self.verbose,
                trace: self.trace,
                tag,
                program: crate::name::program().into(),
            },
        })
    }
}

/// `--compress`, `--compress-program`, `--decompress-program`.
/// `--dashboard[=ADDR]` and `--report FILE`, checked.
fn watch_options(cli: &Cli) -> Result<crate::dashboard::WatchOptions> {
    use std::net::ToSocketAddrs;
    let dashboard = match &cli.dashboard {
        None => None,
        Some(a) => Some(
            a.to_socket_addrs()
                .ok()
                .and_then(|mut it| it.next())
                .ok_or_else(|| {
                    anyhow::anyhow!(
                        "--dashboard `{a}`: give an address as HOST:PORT, such as 127.0.0.1:8080"
                    )
                })?,
        ),
    };
    if let Some(r) = &cli.report {
        if r.as_os_str().is_empty() || r.is_dir() {
            bail!("--report `{}`: give a file to write", r.display());
        }
    }
    let command = std::env::args_os()
        .map(|a| shell_words::quote(&a.to_string_lossy()).into_owned())
        .collect::<Vec<_>>()
        .join(" ");
    Ok(crate::dashboard::WatchOptions {
        dashboard,
        report: cli.report.clone(),
        control: cli.dashboard_control,
        command,
    })
}

fn compress(cli: &Cli) -> Option<fanout_core::exec::Codec> {
    if !cli.compress && cli.compress_program.is_none() {
        return None;
    }
    let (c, d) = match &cli.compress_program {
        Some(c) => {
            let mut d = c.clone();
            d.push(" -dc");
            (c.clone(), d)
        }
        None => super::environment::find_compressor(),
    };
    Some(fanout_core::exec::Codec {
        compress: c,
        decompress: cli.decompress_program.clone().unwrap_or(d),
    })
}

/// `--tmpl FILE=OUT` split at its first `=`.
fn split_tmpl(t: &OsString) -> Result<(PathBuf, Vec<u8>)> {
    let b = t.as_bytes();
    match memchr::memchr(b'=', b) {
        Some(i) if i > 0 && i + 1 < b.len() => Ok((
            PathBuf::from(OsStr::from_bytes(&b[..i])),
            b[i + 1..].to_vec(),
        )),
        _ => bail!("--tmpl `{}`: use --tmpl FILE=OUT", t.to_string_lossy()),
    }
}

/// A `--tmpl` file read and parsed, its perl expressions compiled.
fn tmpl_file(file: &Path, out: &[u8], opts: &TemplateOptions) -> Result<TmplFile> {
    let text = std::fs::read(file)
        .with_context(|| format!("cannot read --tmpl file `{}`", file.display()))?;
    let t = TmplFile {
        text: Arc::new(Template::file_text(&text, opts)?),
        path: Arc::new(Template::unquoted(out, opts)?),
    };
    t.text.prepare()?;
    t.path.prepare()?;
    Ok(t)
}

/// GNU parallel's three warnings about a NUL in the input, once a run.
fn warn_nul_once() {
    static SAID: std::sync::Once = std::sync::Once::new();
    SAID.call_once(|| {
        let w = crate::name::warning();
        eprintln!("{w}A NUL character in the input was replaced with \\0.");
        eprintln!("{w}NUL cannot be passed through in the argument list.");
        eprintln!("{w}Did you mean to use the --null option?");
    });
}

fn input_options(cli: &Cli) -> Result<InputOptions> {
    let delimiter = match (&cli.delimiter, cli.null) {
        (Some(d), _) => unescape(d.as_bytes()),
        (None, true) => vec![0],
        (None, false) => b"\n".to_vec(),
    };
    if delimiter.is_empty() {
        bail!("the delimiter given to -d is empty");
    }
    let csv = match (cli.csv, cli.colsep.as_deref()) {
        (false, _) => None,
        (true, None) => Some(b','),
        (true, Some(c)) => match unescape(c.as_bytes()).as_slice() {
            [b] => Some(*b),
            _ => bail!("--csv takes a --colsep of one character, not `{c}`"),
        },
    };
    let colsep = match cli.colsep.as_ref().filter(|_| !cli.csv) {
        Some(re) => {
            Some(regex::bytes::Regex::new(re).with_context(|| format!("invalid --colsep `{re}`"))?)
        }
        // As GNU parallel (and its man page): with --header, columns are
        // tab-separated unless --colsep says otherwise.
        None if cli.header.as_deref().is_some_and(|h| h.parse() != Ok(0u64)) => {
            Some(regex::bytes::Regex::new("\t").expect("valid"))
        }
        None => None,
    };
    Ok(InputOptions {
        delimiter,
        eof: cli
            .eof
            .as_ref()
            .filter(|e| !e.is_empty())
            .map(|e| e.as_bytes().to_vec()),
        skip_empty: cli.no_run_if_empty,
        colsep,
        // As GNU parallel: `--header 0` is zero header lines.
        header: cli.header.as_deref().is_some_and(|h| h.parse() != Ok(0u64)),
        link: cli.link,
        on_nul: Some(fanout_core::NulHook(Arc::new(warn_nul_once))),
        skip_first_line: cli.skip_first_line,
        csv,
    })
}

/// Engine settings: job slots, output mode, shell, signal handling; and
/// the descriptors the jobs will need.
fn run_config(cli: &Cli, env: &Environment) -> Result<(RunConfig, FileNeed)> {
    let mut base = RunConfig::default();
    if cli.use_cores_instead_of_threads || cli.use_cpus_instead_of_cores {
        base.jobs = super::info::cores();
    }
    // -j FILE (GNU): the slots are the file's number, read again as jobs
    // end. (A file is looked at only when -j names one.)
    let jobs_file = cli
        .jobs
        .as_deref()
        .map(std::path::Path::new)
        .filter(|p| p.is_file());
    let file_jobs = match jobs_file {
        Some(p) => Some(
            std::fs::read_to_string(p)
                .with_context(|| format!("cannot read -j file `{}`", p.display()))?
                .trim()
                .to_string(),
        ),
        None => None,
    };
    let requested = match file_jobs.as_deref().or(cli.jobs.as_deref()) {
        None => Some(base.jobs),
        Some(s) => parse_jobs(s, base.jobs).map_err(anyhow::Error::msg)?,
    };
    // Pipe mode adds a descriptor per job: the writing end of its stdin.
    let need = FileNeed {
        requested,
        per_job: if pipe_requested(cli) { 4 } else { 3 },
    };
    let jobs = requested.unwrap_or(MAX_ANY);

    let mut control = job_control(cli, env.cpus)?;
    if let Some(path) = &env.meminfo {
        // For tests: read free memory from a file they control.
        control.meminfo = path.clone();
    }
    let term_seq = match &cli.term_seq {
        Some(s) => term_seq(s)?,
        None => base.term_seq.clone(),
    };
    let cpus = base.jobs;
    let mut run = base;
    run.jobs = jobs;
    run.jobs_file = jobs_file.map(|p| fanout_core::JobsFile {
        path: p.to_path_buf(),
        parse: Arc::new(move |t| parse_jobs(t, cpus).ok().flatten()),
    });
    // A dry run prints each command as the job's output; --json, --files
    // and --results need each job's whole output.
    run.output = if cli.dry_run || cli.json || cli.files || cli.results.is_some() {
        OutputMode::Group
    } else {
        output_mode(cli)
    };
    run.dry_run = cli.dry_run;
    run.shell = env.shell.clone();
    run.handle_signals = true;
    run.subreaper = true;
    run.control = control;
    run.term_seq = term_seq;
    run.tmpdir = cli.tmpdir.clone();
    run.nice = cli.nice.unwrap_or(0);
    run.workdir = match cli.workdir.as_deref() {
        None => None,
        Some(d) if d.as_os_str() == "..." => {
            let Some(home) = &env.home else {
                bail!("--wd ... needs $HOME: the jobs' directories go in ~/.parallel/tmp");
            };
            Some(Workdir::Private(home.join(".parallel/tmp")))
        }
        Some(d) => Some(Workdir::Dir(d.to_path_buf())),
    };
    run.preamble = env.parallel_env.clone();
    run.cleanup = cli.cleanup;
    run.compress = compress(cli);
    run.program = crate::name::program().into();
    Ok((run, need))
}

/// `-s`, capped (with GNU parallel's warning) at its usable length.
fn max_chars(given: Option<usize>, warnings: &mut Vec<String>) -> usize {
    match given {
        Some(n) if n > DEFAULT_MAX_CHARS => {
            warnings.push(format!(
                "Value for option -s should be < {DEFAULT_MAX_CHARS}."
            ));
            DEFAULT_MAX_CHARS
        }
        Some(n) => n,
        None => DEFAULT_MAX_CHARS,
    }
}

/// `--xargs`, `-X` or `-m`, in that order of precedence.
fn multi_mode(cli: &Cli) -> Option<MultiArgs> {
    if cli.xargs {
        Some(MultiArgs::Xargs)
    } else if cli.context_replace {
        Some(MultiArgs::Context)
    } else if cli.multi {
        Some(MultiArgs::Plain)
    } else {
        None
    }
}

fn progress_kind(cli: &Cli) -> Option<ProgressKind> {
    if cli.bar {
        Some(ProgressKind::Bar)
    } else if cli.eta {
        Some(ProgressKind::Eta)
    } else if cli.progress {
        Some(ProgressKind::Progress)
    } else {
        None
    }
}

fn output_mode(cli: &Cli) -> OutputMode {
    if cli.ungroup {
        OutputMode::Ungroup
    } else if cli.line_buffer {
        OutputMode::LineBuffer
    } else {
        OutputMode::Group
    }
}
