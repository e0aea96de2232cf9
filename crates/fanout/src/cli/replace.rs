//! The replacement-string options as a `TemplateOptions`: `-I`/`-i`,
//! `--rpl`, `--plus`, `--parens`, and the renaming options (`-U`,
//! `--basenamereplace`, ...), checked once.

use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;

use anyhow::{bail, Result};
use fanout_core::{Rpl, TemplateOptions};

use super::Cli;

/// The template options these arguments ask for (`header` and
/// `append_missing` are the caller's).
pub fn template_options(cli: &Cli) -> Result<TemplateOptions> {
    let bytes = |o: &Option<OsString>| o.clone().map(OsString::into_vec);
    let mut t = TemplateOptions {
        replace: bytes(&cli.replace)
            .or_else(|| bytes(&cli.replace_i))
            .unwrap_or_else(|| b"{}".to_vec()),
        quote_command: cli.quote,
        ..TemplateOptions::default()
    };
    t.trim = match cli.trim.as_deref() {
        Some(s) => fanout_core::Trim::parse(s)
            .ok_or_else(|| anyhow::anyhow!("invalid --trim `{s}`: use n, l, r, lr or rl"))?,
        None if cli.colsep.is_some() => fanout_core::Trim::Both,
        None => fanout_core::Trim::None,
    };
    if let Some(p) = bytes(&cli.parens) {
        if p.len() < 2 || p.len() % 2 != 0 {
            bail!("--parens needs an even number of characters: the opening half, then the closing half");
        }
        let half = p.len() / 2;
        t.parens = (p[..half].to_vec(), p[half..].to_vec());
    }
    let renames = [
        (&cli.extension_replace, "{.}"),
        (&cli.basename_replace, "{/}"),
        (&cli.dirname_replace, "{//}"),
        (&cli.basename_extension_replace, "{/.}"),
        (&cli.seq_replace, "{#}"),
        (&cli.slot_replace, "{%}"),
    ];
    for (new, old) in renames {
        if let Some(new) = bytes(new).filter(|n| n.as_slice() != old.as_bytes()) {
            t.renamed.push((new, old.as_bytes().to_vec()));
        }
    }
    // The user's own first: of two tags alike, theirs wins.
    for def in &cli.rpl {
        let def = def.clone().into_vec();
        t.rpl.push(Rpl::parse(&def)?);
    }
    if cli.plus {
        t.rpl.extend(fanout_core::plus());
    }
    Ok(t)
}
