//! `--completions SHELL` and `--man`: generated from the same clap
//! definition the parser uses, so they never drift from the options.

use std::io::{self, Write};

use anyhow::{anyhow, Context, Result};
use clap_complete::Shell;

use crate::cli::Cli;

/// Prints what was asked for and returns the exit status, or `None` when
/// neither option was given.
pub fn generate(cli: &Cli, mut cmd: clap::Command) -> Result<Option<u8>> {
    let mut text = Vec::new();
    if let Some(shell) = &cli.completions {
        let shell: Shell = shell.parse().map_err(|_| {
            anyhow!("unknown shell `{shell}` for --completions: use bash, zsh, fish, elvish or powershell")
        })?;
        clap_complete::generate(shell, &mut cmd, "fanout", &mut text);
        text = also_for(shell, text);
    } else if cli.man {
        // The replacement strings get a section of their own below.
        let cmd = cmd.after_help(None::<&'static str>);
        clap_mangen::Man::new(cmd).render(&mut text)?;
        text.extend_from_slice(crate::manual::MAN_SECTIONS.as_bytes());
    } else {
        return Ok(None);
    }
    match io::stdout().lock().write_all(&text) {
        // `fanout --man | head`: the reader has what it wanted.
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(Some(crate::exit::BROKEN_PIPE)),
        other => other.context("cannot write to stdout").map(|()| Some(0)),
    }
}

/// The names fanout also answers to: GNU's (`parallel`, `sem`), when
/// symlinked.
const ALSO: [&str; 2] = ["parallel", "sem"];

/// The completion script registered for `parallel` and `sem` too.
fn also_for(shell: Shell, text: Vec<u8>) -> Vec<u8> {
    let s = String::from_utf8_lossy(&text).into_owned();
    let out = match shell {
        Shell::Bash => {
            // `complete -F _fanout ... fanout` takes more names.
            let lines: Vec<String> = s
                .lines()
                .map(|l| {
                    let t = l.trim_start();
                    if t.starts_with("complete ") && t.ends_with(" fanout") {
                        format!("{l} {}", ALSO.join(" "))
                    } else {
                        l.to_string()
                    }
                })
                .collect();
            lines.join("\n") + "\n"
        }
        Shell::Zsh => s.replacen("#compdef fanout", "#compdef fanout parallel sem", 1),
        Shell::Fish => {
            let mut all = s.clone();
            for n in ALSO {
                all.push_str(&s.replace("complete -c fanout ", &format!("complete -c {n} ")));
            }
            all
        }
        _ => s,
    };
    out.into_bytes()
}
