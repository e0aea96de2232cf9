//! Options that answer a question and exit, as GNU parallel's do:
//! `--minversion`, `--max-line-length-allowed`, `--number-of-cpus`,
//! `--number-of-cores`, `--number-of-threads`.

use anyhow::{bail, Result};

use super::Cli;

/// The GNU parallel release whose command line fanout implements, for
/// scripts that check `parallel --minversion`.
pub const GNU_VERSION: u64 = 20221122;

/// The exit status when one of these options was given, after printing
/// the answer on stdout.
pub fn answer(cli: &Cli) -> Result<Option<u8>> {
    if let Some(v) = &cli.minversion {
        let Ok(wanted) = v.trim().parse::<u64>() else {
            bail!("invalid --minversion `{v}`: use a GNU parallel version such as 20221122");
        };
        println!("{GNU_VERSION}");
        return Ok(Some(if wanted <= GNU_VERSION { 0 } else { 255 }));
    }
    if cli.max_line_length_allowed {
        println!("{}", fanout_core::LINE_LIMIT);
        return Ok(Some(0));
    }
    if cli.number_of_cpus || cli.number_of_cores {
        println!("{}", cores());
        return Ok(Some(0));
    }
    if cli.number_of_threads {
        println!("{}", threads());
        return Ok(Some(0));
    }
    Ok(None)
}

fn threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// Physical cores: distinct (package, core) pairs in /proc/cpuinfo, or
/// the threads when it does not say.
pub fn cores() -> usize {
    let Ok(info) = std::fs::read_to_string("/proc/cpuinfo") else {
        return threads();
    };
    let mut pairs = std::collections::HashSet::new();
    let mut package = String::new();
    for line in info.lines() {
        let Some((k, v)) = line.split_once(':') else {
            continue;
        };
        match k.trim() {
            "physical id" => package = v.trim().to_string(),
            "core id" => {
                pairs.insert((package.clone(), v.trim().to_string()));
            }
            _ => {}
        }
    }
    if pairs.is_empty() {
        threads()
    } else {
        pairs.len().min(threads().max(1)).max(1)
    }
}
