//! The `fanout` binary: parse the command line, convert it once into a
//! plan, hand the plan to the engine, turn the outcome into an exit status.

mod cli;
mod exit;
mod limits;

use std::process::ExitCode;

use anyhow::Result;
use clap::{CommandFactory, FromArgMatches};
use fanout_core::{Batcher, Engine, Ordered, Printer};

use cli::{split_sources, Cli, Config, Plan};

fn main() -> ExitCode {
    match run() {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("fanout: {}", one_line(&format!("{e:#}")));
            ExitCode::from(exit::ERROR)
        }
    }
}

fn run() -> Result<u8> {
    // One clap definition serves the `:::` splitter and the parse.
    let cmd = Cli::command();
    let (head, sources) = split_sources(
        std::env::args_os().skip(1).collect(),
        &cli::value_options(&cmd),
    );
    let parsed = cmd
        .try_get_matches_from(std::iter::once("fanout".into()).chain(head))
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
    let mut config = Config::new(cli, sources)?;
    let (header, records) = std::mem::take(&mut config.inputs).open()?;
    let Plan {
        template,
        commands,
        print,
    } = config.plan(header)?;
    let jobs = Batcher::new(records, template, config.batch);
    let engine = Engine::new(config.run);
    let printer = Printer::new(print);
    let summary = if config.keep_order {
        engine.run(jobs, &commands, &mut Ordered::new(printer))?
    } else {
        engine.run(jobs, &commands, &mut { printer })?
    };
    Ok(exit::status(&summary))
}

/// clap's error without its "error: " prefix and usage lines.
fn clap_message(e: &clap::Error) -> String {
    let text = e.render().to_string();
    let first = text.lines().next().unwrap_or("invalid arguments");
    first.trim_start_matches("error: ").to_string()
}

/// Keeps a message on one line, as a single `fanout: ...` line on stderr.
fn one_line(s: &str) -> String {
    s.replace('\n', " ")
}
