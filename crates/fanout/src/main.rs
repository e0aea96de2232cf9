//! The `fanout` binary: parse the command line, convert it once into a
//! validated config, hand it to the engine, turn the outcome into an exit
//! status.

mod cli;
mod coordinate;
mod dashboard;
mod distributed;
mod docs;
mod exit;
mod limits;
mod manual;
mod math;
mod name;
mod pipe;
mod progress;
mod run;
mod seekable;
mod sem;
mod tmux;

use std::process::ExitCode;

use anyhow::Result;
use clap::{CommandFactory, FromArgMatches};

use cli::{split_sources, Cli, Config};

fn main() -> ExitCode {
    match main_inner() {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("{}{}", name::error(), one_line(&message(&e)));
            ExitCode::from(exit::ERROR)
        }
    }
}

fn main_inner() -> Result<u8> {
    // One clap definition serves the `:::` splitter, the parse, the
    // completions and the man page.
    let mut cmd = Cli::command();
    let opts = cli::value_options(&cmd);
    let argv = cli::shebang::rewrite(std::env::args_os().skip(1).collect())?;
    let argv = cli::profile::expand(argv, &opts)?;
    let argv = cli::legacy::rewrite(argv, &opts);
    let (head, sources) = split_sources(argv, &opts);
    // Parsed in place, not on a clone: the ~250 options are 180 KB of heap.
    let parsed = cmd
        .try_get_matches_from_mut(std::iter::once("fanout".into()).chain(head))
        .and_then(|m| Cli::from_arg_matches(&m));
    let cli = match parsed {
        Ok(cli) => cli,
        Err(e) if !e.use_stderr() => {
            // --help and --version.
            let _ = e.print();
            return Ok(0);
        }
        Err(e) => anyhow::bail!("{}", clap_message(&e)),
    };
    if let Some(done) = docs::generate(&cli, cmd)? {
        return Ok(done);
    }
    if sem::wanted(&cli) {
        let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
        return sem::run(&cli, cpus);
    }
    if let Some(done) = cli::info::answer(&cli)? {
        return Ok(done);
    }
    if let Some(done) = cli::record_env::record(&cli)? {
        return Ok(done);
    }
    if let Some(done) = distributed::keygen(&cli)? {
        return Ok(done);
    }
    let env = cli::Environment::read();
    let mut config = Config::new(cli, sources, &env)?;
    config.apply_to_process();
    if let Some(done) = distributed::serve(&config)? {
        return Ok(done);
    }
    let summary = run::run(config)?;
    Ok(exit::status(&summary))
}

/// clap's error without its "error: " prefix and usage lines.
fn clap_message(e: &clap::Error) -> String {
    if let Some(line) = cli::unknown::explain(e) {
        return line;
    }
    let text = e.render().to_string();
    let first = text.lines().next().unwrap_or("invalid arguments");
    first.trim_start_matches("error: ").to_string()
}

/// The error and its causes, `: `-separated, each OS error as a person
/// reads it (without Rust's "(os error N)"), so the OS text appears once.
fn message(e: &anyhow::Error) -> String {
    let parts: Vec<String> = e
        .chain()
        .map(|cause| match cause.downcast_ref::<std::io::Error>() {
            Some(io) => os_text(io),
            None => cause.to_string(),
        })
        .collect();
    parts.join(": ")
}

/// An I/O error's text without the " (os error N)" Rust adds (also when
/// a wrapper, as tempfile's "at path", comes after it).
fn os_text(e: &std::io::Error) -> String {
    let s = e.to_string();
    match s.find(" (os error ") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}

/// Keeps a message on one line, as a single `fanout: ...` line on stderr.
fn one_line(s: &str) -> String {
    s.replace('\n', " ")
}
