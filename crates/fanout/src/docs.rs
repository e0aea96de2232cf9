//! `--completions SHELL` and `--man`: generated from the same clap
//! definition the parser uses, so they never drift from the options.

use std::io::Write;

use anyhow::{anyhow, Context, Result};
use clap_complete::Shell;

use crate::cli::Cli;

/// Prints what was asked for and returns the exit status, or `None` when
/// neither option was given.
pub fn generate(cli: &Cli, mut cmd: clap::Command) -> Result<Option<u8>> {
    let mut out = std::io::stdout().lock();
    if let Some(shell) = &cli.completions {
        let shell: Shell = shell
            .parse()
            .map_err(|_| anyhow!("unknown shell `{shell}` for --completions: use bash, zsh, fish, elvish or powershell"))?;
        clap_complete::generate(shell, &mut cmd, "fanout", &mut out);
        return Ok(Some(0));
    }
    if cli.man {
        clap_mangen::Man::new(cmd)
            .render(&mut out)
            .context("cannot write the man page")?;
        out.flush()?;
        return Ok(Some(0));
    }
    Ok(None)
}
