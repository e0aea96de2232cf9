//! Options from outside the command line, read as GNU parallel reads
//! them, in this order before the command line's own: the profile files
//! (`/etc/parallel/config`, `config` in each configuration directory,
//! `~/.parallelrc`; or those `-J NAME` names instead), then `$PARALLEL`.
//! Each line of a profile (but `#` comments) and `$PARALLEL` are split
//! into words as a shell would. `--plain` turns all of this off.
//!
//! The configuration directories are those of `$PARALLEL_HOME`,
//! `$XDG_CONFIG_HOME/parallel` (`~/.config/parallel`), each of
//! `$XDG_CONFIG_DIRS` with `/parallel`, and `~/.parallel` that exist.

use std::ffi::OsString;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context, Result};

use super::split::options_end;
use super::ValueOptions;

/// `argv` (fanout's arguments, without the program name) with the
/// options of the profiles and `$PARALLEL` in front.
pub fn expand(argv: Vec<OsString>, opts: &ValueOptions) -> Result<Vec<OsString>> {
    let asked = scan(&argv, opts);
    if asked.plain {
        return Ok(argv);
    }
    let dirs = config_dirs();
    let home = std::env::var_os("HOME").map(PathBuf::from);
    let profiles = if asked.profiles.is_empty() {
        let mut p = vec![PathBuf::from("/etc/parallel/config")];
        p.extend(dirs.iter().map(|d| d.join("config")));
        p.extend(home.map(|h| h.join(".parallelrc")));
        p.into_iter().filter(|p| p.is_file()).collect()
    } else {
        asked
            .profiles
            .iter()
            .map(|name| find(name, &dirs))
            .collect::<Result<Vec<_>>>()?
    };
    let mut front = Vec::new();
    for p in profiles {
        let text =
            std::fs::read(&p).with_context(|| format!("cannot read profile `{}`", p.display()))?;
        for line in text.split(|&b| b == b'\n') {
            if line.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'#') {
                continue;
            }
            front.extend(words(line).with_context(|| format!("profile `{}`", p.display()))?);
        }
    }
    if let Some(env) = std::env::var_os("PARALLEL").filter(|v| !v.is_empty()) {
        front.extend(words(env.as_bytes()).context("$PARALLEL")?);
    }
    front.extend(argv);
    Ok(front)
}

/// What the command line asks of the profiles.
#[derive(Default)]
struct Asked {
    profiles: Vec<OsString>,
    plain: bool,
}

/// Reads `-J`/`--profile` and `--plain` from fanout's own options (up to
/// the command; the splitter tells which arguments are option values).
fn scan(argv: &[OsString], opts: &ValueOptions) -> Asked {
    let (end, values) = options_end(argv, opts);
    let mut asked = Asked::default();
    let value_after = |i: usize| values.contains(&(i + 1)).then(|| argv[i + 1].clone());
    for (i, a) in argv[..end].iter().enumerate() {
        let b = a.as_bytes();
        if values.contains(&i) {
            continue;
        }
        if b == b"--plain" {
            asked.plain = true;
        } else if b == b"--profile" {
            asked.profiles.extend(value_after(i));
        } else if let Some(v) = b.strip_prefix(b"--profile=") {
            asked.profiles.push(OsString::from_vec(v.to_vec()));
        } else if !b.starts_with(b"--") && b.len() > 1 {
            // A cluster: the first short option that takes a value takes
            // the rest of the word, or the next argument.
            let short = &b[1..];
            if let Some(p) = short.iter().position(|c| opts.short.contains(c)) {
                if short[p] == b'J' {
                    let rest = &short[p + 1..];
                    asked.profiles.extend(match rest {
                        [] => value_after(i),
                        _ => Some(OsString::from_vec(rest.to_vec())),
                    });
                }
            }
        }
    }
    asked
}

/// The directory fanout writes its own state to, as GNU parallel does:
/// `$PARALLEL_HOME`, else `~/.parallel` (`None` without either variable).
pub fn home() -> Option<PathBuf> {
    std::env::var_os("PARALLEL_HOME")
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".parallel")))
}

/// The configuration directories that exist, first the one that wins.
fn config_dirs() -> Vec<PathBuf> {
    let env = |k| {
        std::env::var_os(k)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    let home = env("HOME");
    let xdg_home = env("XDG_CONFIG_HOME").or_else(|| home.as_ref().map(|h| h.join(".config")));
    let mut dirs: Vec<PathBuf> = env("PARALLEL_HOME").into_iter().collect();
    dirs.extend(xdg_home.map(|d| d.join("parallel")));
    if let Some(x) = std::env::var_os("XDG_CONFIG_DIRS") {
        dirs.extend(std::env::split_paths(&x).map(|d| d.join("parallel")));
    }
    dirs.extend(home.map(|h| h.join(".parallel")));
    dirs.retain(|d| d.is_dir());
    dirs
}

/// A `-J` profile: a path (`./x`, `/x`), or a file in a configuration
/// directory.
fn find(name: &OsString, dirs: &[PathBuf]) -> Result<PathBuf> {
    let b = name.as_bytes();
    if b.starts_with(b"/") || b.starts_with(b"./") {
        let p = Path::new(name);
        return p
            .is_file()
            .then(|| p.to_owned())
            .ok_or_else(|| anyhow!("profile `{}` not found", p.display()));
    }
    let found = dirs.iter().map(|d| d.join(name)).find(|p| p.is_file());
    match found {
        Some(p) => Ok(p),
        None if dirs.is_empty() => bail!(
            "profile `{}` not found: no configuration directory (~/.parallel, $PARALLEL_HOME)",
            name.to_string_lossy()
        ),
        None => bail!(
            "profile `{}` not found in {}",
            name.to_string_lossy(),
            dirs.iter()
                .map(|d| d.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// Words as a shell splits them (quotes and backslashes).
fn words(text: &[u8]) -> Result<Vec<OsString>> {
    let text = std::str::from_utf8(text).map_err(|_| anyhow!("not UTF-8"))?;
    let words = shell_words::split(text).map_err(|e| anyhow!("{e}"))?;
    Ok(words.into_iter().map(OsString::from).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts() -> ValueOptions {
        ValueOptions {
            long: vec!["profile".into(), "jobs".into()],
            short: b"Jj".to_vec(),
        }
    }

    fn os(v: &[&str]) -> Vec<OsString> {
        v.iter().map(OsString::from).collect()
    }

    #[test]
    fn profiles_are_found_among_the_options_only() {
        let a = scan(
            &os(&[
                "-j",
                "2",
                "-Jone",
                "--profile",
                "two",
                "--profile=three",
                "echo",
                "-J",
                "x",
            ]),
            &opts(),
        );
        assert_eq!(a.profiles, os(&["one", "two", "three"]));
        assert!(!a.plain);
        assert!(scan(&os(&["--plain", "echo"]), &opts()).plain);
    }

    #[test]
    fn words_split_as_a_shell_splits_them() {
        assert_eq!(
            words(b"-k --tag 'a b' c\\ d").unwrap(),
            os(&["-k", "--tag", "a b", "c d"])
        );
    }
}
