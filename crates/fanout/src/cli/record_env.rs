//! `--env` for distributed runs: which of the coordinator's variables go
//! to the workers with the run's spec, and `--record-env`, which writes
//! the names `--env _` leaves out (GNU parallel's `ignored_vars`).

use std::ffi::OsString;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::PathBuf;

use anyhow::{Context, Result};

use super::Cli;

/// The variables GNU parallel sets in its own environment at start-up,
/// which its `--record-env` therefore lists.
const GNU_SETS: [&str; 4] = [
    "PARALLEL_HOME",
    "PARALLEL_REMOTE_TMPDIR",
    "PARALLEL_RSYNC_OPTS",
    "TMPDIR",
];

/// `--record-env`: writes the names of the variables set now into
/// `ignored_vars` in the configuration directory (`$PARALLEL_HOME`, else
/// `~/.parallel`, made when missing), one per line, and says the run is
/// done.
pub fn record(cli: &Cli) -> Result<Option<u8>> {
    if !cli.record_env {
        return Ok(None);
    }
    let dir = super::profile::home().context("--record-env needs $PARALLEL_HOME or $HOME")?;
    std::fs::create_dir_all(&dir)
        .with_context(|| format!("cannot make directory `{}`", dir.display()))?;
    let mut names: Vec<Vec<u8>> = std::env::vars_os().map(|(k, _)| k.into_vec()).collect();
    // GNU parallel records these too, having set them before it looks.
    for own in GNU_SETS {
        names.push(own.as_bytes().to_vec());
    }
    names.sort();
    names.dedup();
    let mut text = names.join(&b'\n');
    text.push(b'\n');
    let path = dir.join("ignored_vars");
    std::fs::write(&path, text).with_context(|| format!("cannot write `{}`", path.display()))?;
    Ok(Some(0))
}

/// The variables `--env` names, with their values now: a name, or an
/// exported bash function of that name (`BASH_FUNC_name%%`), or `_` for
/// every variable `--record-env` did not record. Names not set are left
/// out, as GNU parallel leaves them.
pub fn selected(names: &[OsString]) -> Vec<(Vec<u8>, Vec<u8>)> {
    let all: Vec<(OsString, OsString)> = std::env::vars_os().collect();
    let ignored = ignored_vars();
    let mut out: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
    let mut push = |k: &OsString, v: &OsString| {
        let k = k.as_bytes().to_vec();
        if !out.iter().any(|(n, _)| *n == k) {
            out.push((k, v.as_bytes().to_vec()));
        }
    };
    for name in names {
        if name == "_" {
            for (k, v) in all
                .iter()
                .filter(|(k, _)| !ignored.contains(&k.as_bytes().to_vec()))
            {
                push(k, v);
            }
            continue;
        }
        let mut func = OsString::from("BASH_FUNC_");
        func.push(name);
        func.push("%%");
        for (k, v) in all.iter().filter(|(k, _)| k == name || *k == func) {
            push(k, v);
        }
    }
    out
}

/// The names in `ignored_vars` (none when it is not there).
fn ignored_vars() -> Vec<Vec<u8>> {
    let dirs = [
        std::env::var_os("PARALLEL_HOME").map(PathBuf::from),
        std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".parallel")),
    ];
    dirs.into_iter()
        .flatten()
        .find_map(|d| std::fs::read(d.join("ignored_vars")).ok())
        .map(|t| t.split(|&b| b == b'\n').map(<[u8]>::to_vec).collect())
        .unwrap_or_default()
}
