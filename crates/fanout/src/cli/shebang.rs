//! `#!/usr/bin/fanout --shebang ...` and `--shebang-wrap`: the kernel
//! hands a `#!` line's options over as one argument, then the script's
//! path, then the script's own arguments. Rewritten here, first of all,
//! as GNU parallel rewrites them:
//! - `--shebang OPTS` + `SCRIPT`: `--skip-first-line -a SCRIPT OPTS` (the
//!   script's lines, after the `#!` line, are the input);
//! - `--shebang-wrap PROG` + `SCRIPT ARGS...`: `PROG SCRIPT ::: ARGS...`
//!   (the script runs once per argument, under PROG).

use std::ffi::OsString;
use std::os::unix::ffi::OsStrExt;

use anyhow::{Context, Result};

/// `argv` (without the program name) with a `#!` call spelled out.
pub fn rewrite(argv: Vec<OsString>) -> Result<Vec<OsString>> {
    let Some(first) = argv.first() else {
        return Ok(argv);
    };
    let text = String::from_utf8_lossy(first.as_bytes()).into_owned();
    let (wrap, rest) = if let Some(r) = strip(&text, &["--shebang-wrap", "--shebangwrap"]) {
        (true, r)
    } else if let Some(r) = strip(&text, &["--shebang", "--hashbang"]) {
        (false, r)
    } else {
        return Ok(argv);
    };
    let opts = shell_words::split(rest)
        .with_context(|| format!("cannot read the #! line's options `{rest}`"))?;
    let mut args: Vec<OsString> = argv.into_iter().skip(1).collect();
    let mut out: Vec<OsString> = opts.into_iter().map(OsString::from).collect();
    if wrap {
        if args.is_empty() {
            anyhow::bail!("--shebang-wrap needs the script's path after it");
        }
        out.push(args.remove(0));
        out.push(":::".into());
        out.extend(args);
    } else {
        let Some(script) = args.pop() else {
            anyhow::bail!("--shebang needs the script's path after it");
        };
        // Before the #! line's options: they end with the command.
        let mut all: Vec<OsString> = vec!["--skip-first-line".into(), "-a".into(), script];
        all.extend(args);
        all.append(&mut out);
        out = all;
    }
    Ok(out)
}

fn strip<'a>(text: &'a str, names: &[&str]) -> Option<&'a str> {
    names.iter().find_map(|n| {
        let r = text.strip_prefix(n)?;
        (r.is_empty() || r.starts_with([' ', '\t'])).then_some(r.trim_start())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn os(v: &[&str]) -> Vec<OsString> {
        v.iter().map(OsString::from).collect()
    }

    #[test]
    fn shebang_lines_are_spelled_out_as_gnu_parallel_does() {
        assert_eq!(
            rewrite(os(&["--shebang -k echo", "./s"])).unwrap(),
            os(&["--skip-first-line", "-a", "./s", "-k", "echo"])
        );
        assert_eq!(
            rewrite(os(&["--shebang-wrap -k python3", "./p.py", "a", "b"])).unwrap(),
            os(&["-k", "python3", "./p.py", ":::", "a", "b"])
        );
        assert_eq!(rewrite(os(&["-k", "echo"])).unwrap(), os(&["-k", "echo"]));
    }
}
