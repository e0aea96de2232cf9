//! Pipe-mode options (`--pipe`, `--pipepart`, `--block`, `--recend`,
//! `--recstart`, `--regexp`, `-N`, `-L`, `--header`, `--round-robin`,
//! `--cat`, `--fifo`) to one validated [`PipeMode`].

use std::os::unix::ffi::OsStrExt;

use anyhow::{anyhow, bail, Result};
use fanout_core::pipe::{Delivery, Header, RecSeps, Splitter};
use fanout_core::units::parse_size;

use super::escape::unescape;
use super::Cli;

/// How input is cut and handed to jobs in pipe mode.
#[derive(Debug, Clone)]
pub struct PipeMode {
    /// `--pipepart`: byte ranges of a seekable file.
    pub part: bool,
    /// `--block` in bytes; for `--pipepart`, a negative value is a number
    /// of chunks per job slot.
    pub block: i64,
    /// Where records end.
    pub splitter: Splitter,
    /// `-N`: records per chunk.
    pub records: Option<usize>,
    /// `--header`.
    pub header: Header,
    /// `--round-robin`.
    pub round_robin: bool,
    /// `--tee`: every job reads all of the input.
    pub tee: bool,
    /// `--rrs`: record separators taken out of each chunk.
    pub remove_seps: Option<RecSeps>,
    /// `-r`: no job for a chunk of only whitespace.
    pub skip_blank: bool,
    /// `--shard N` or `--bin N`: lines routed to jobs by a column.
    pub route: Option<fanout_core::pipe::Route>,
    /// `--skip-first-line`: the input's first line is not read.
    pub skip_first_line: bool,
    /// `--block-timeout`: a partial block goes to a job when stdin has
    /// been quiet this long.
    pub block_timeout: Option<std::time::Duration>,
    /// Stdin, `--cat` or `--fifo`.
    pub delivery: Delivery,
}

/// True when an option asked for pipe mode (`--round-robin`, `--cat` and
/// `--fifo` imply `--pipe`).
pub fn pipe_requested(cli: &Cli) -> bool {
    cli.pipe
        || cli.pipepart
        || cli.round_robin
        || cli.cat
        || cli.fifo
        || cli.tee
        || cli.shard.is_some()
        || cli.bin.is_some()
}

/// `--group-by` outside pipe mode has nothing to group.
pub fn check_group_by(cli: &Cli) -> Result<()> {
    if cli.group_by.is_some() && !pipe_requested(cli) {
        bail!("--group-by groups the lines of --pipe or --pipepart input: add --pipe");
    }
    Ok(())
}

/// The pipe mode asked for, if any.
pub fn pipe_mode(cli: &Cli) -> Result<Option<PipeMode>> {
    if !pipe_requested(cli) {
        // Outside pipe mode -L N is input lines per command line (see
        // convert.rs), as in GNU parallel.
        return Ok(None);
    }
    if cli.bar || cli.eta || cli.shuf || cli.halt.as_deref().is_some_and(|h| h.ends_with('%')) {
        // They need every job read first, and in pipe mode a job is a chunk
        // of input: all of it would be in memory. GNU parallel refuses too.
        bail!("--pipe is incompatible with --bar, --eta, --shuf and --halt ...%");
    }
    let block = match &cli.block {
        // As GNU parallel: --pipepart makes 10 jobs per slot unless told
        // otherwise, and with --round-robin one per slot.
        _ if cli.pipepart && cli.round_robin => -1,
        None if cli.pipepart => -10,
        None => 1 << 20,
        Some(b) => match b.strip_prefix('-') {
            // -N (GNU: with a unit too, -0.01k is 10): N chunks per slot.
            Some(n) if cli.pipepart => {
                -(parse_size(n)
                    .and_then(|v| i64::try_from(v).ok())
                    .ok_or_else(|| anyhow!("invalid --block `{b}`"))?)
            }
            _ => {
                let v = parse_size(b)
                    .ok_or_else(|| anyhow!("invalid --block `{b}`: use a size such as 10M"))?;
                i64::try_from(v).map_err(|_| anyhow!("--block `{b}` is too big"))?
            }
        },
    };
    if block == 0 {
        bail!("--block must be more than 0");
    }
    let bytes = |o: &Option<std::ffi::OsString>| o.as_ref().map(|s| unescape(s.as_bytes()));
    let (end, start) = match (bytes(&cli.recend), bytes(&cli.recstart)) {
        // -0: records end with NUL, as in GNU parallel.
        (None, None) if cli.null => (vec![0], Vec::new()),
        (None, None) => (b"\n".to_vec(), Vec::new()),
        (end, start) => (end.unwrap_or_default(), start.unwrap_or_default()),
    };
    let splitter = match &cli.group_by {
        Some(g) => group_by(g, cli.colsep.as_deref())?,
        None => Splitter::new(&end, &start, cli.regexp, cli.max_lines)?,
    };
    if cli.pipepart
        && (cli.max_lines.is_some() || cli.max_replace_args.is_some() || cli.max_args.is_some())
    {
        bail!("--pipepart cannot count records (-N, -L): use --recend/--recstart and --block");
    }
    if cli.tee && (cli.pipepart || cli.round_robin || cli.cat || cli.fifo) {
        bail!("--tee feeds every job all of stdin; it cannot be combined with --pipepart, --round-robin, --cat or --fifo");
    }
    if cli.round_robin && (cli.cat || cli.fifo) {
        bail!("--round-robin feeds jobs on stdin; it cannot be combined with --cat or --fifo");
    }
    Ok(Some(PipeMode {
        part: cli.pipepart,
        block,
        splitter,
        records: cli.max_replace_args.or(cli.max_args),
        header: header(cli.header.as_deref())?,
        round_robin: cli.round_robin,
        tee: cli.tee,
        remove_seps: if cli.remove_rec_sep {
            Some(RecSeps::new(&end, &start, cli.regexp)?)
        } else {
            None
        },
        skip_blank: cli.no_run_if_empty,
        route: route(cli)?,
        skip_first_line: cli.skip_first_line,
        block_timeout: match &cli.block_timeout {
            None => None,
            Some(t) => Some(
                fanout_core::units::parse_duration(t)
                    .filter(|d| !d.is_zero())
                    .ok_or_else(|| {
                        anyhow!("invalid --block-timeout `{t}`: use a duration such as 2s")
                    })?,
            ),
        },
        delivery: if cli.cat {
            Delivery::Cat
        } else if cli.fifo {
            Delivery::Fifo
        } else {
            Delivery::Stdin
        },
    }))
}

/// `--shard N` or `--bin N`, with the columns split as `--colsep` splits
/// them (TAB without it).
fn route(cli: &Cli) -> Result<Option<fanout_core::pipe::Route>> {
    use fanout_core::pipe::{Route, RouteBy};
    let (col, by) = match (cli.shard, cli.bin) {
        (None, None) => return Ok(None),
        (Some(_), Some(_)) => bail!("--shard and --bin both route lines: give one"),
        (Some(c), None) => (c, RouteBy::Hash),
        (None, Some(c)) => (c, RouteBy::Number),
    };
    if col == 0 {
        bail!("--shard and --bin take a column number (1, 2, ...)");
    }
    if cli.pipepart || cli.round_robin || cli.tee || cli.cat || cli.fifo {
        bail!("--shard and --bin feed one job per slot on stdin: not with --pipepart, --round-robin, --tee, --cat or --fifo");
    }
    let sep = cli.colsep.as_deref().unwrap_or("\t");
    let colsep =
        regex::bytes::Regex::new(sep).map_err(|e| anyhow!("invalid --colsep `{sep}`: {e}"))?;
    Ok(Some(Route { col, colsep, by }))
}

/// `--group-by N`: column N's value, the columns split as `--colsep`
/// splits them (TAB without it).
fn group_by(g: &str, colsep: Option<&str>) -> Result<Splitter> {
    let col: usize = g
        .parse()
        .ok()
        .filter(|&n| n > 0)
        .ok_or_else(|| anyhow!("invalid --group-by `{g}`: use a column number (1, 2, ...)"))?;
    let sep = colsep.unwrap_or("\t");
    let colsep =
        regex::bytes::Regex::new(sep).map_err(|e| anyhow!("invalid --colsep `{sep}`: {e}"))?;
    Ok(Splitter::GroupBy { col, colsep })
}

/// `--header` with `--pipe`: `:` is the first line, a number that many
/// lines, anything else a pattern matched at the start of the input.
fn header(h: Option<&str>) -> Result<Header> {
    Ok(match h {
        None => Header::None,
        Some(":") => Header::Lines(1),
        Some(n) if n.parse::<usize>().is_ok() => match n.parse::<usize>()? {
            0 => Header::None,
            n => Header::Lines(n),
        },
        Some(re) => Header::Regex(
            regex::bytes::Regex::new(&format!("^(?:{re})"))
                .map_err(|e| anyhow!("invalid --header `{re}`: {e}"))?,
        ),
    })
}
