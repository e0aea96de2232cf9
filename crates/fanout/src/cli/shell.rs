//! The shell composed command lines run in, found as GNU parallel finds
//! it: `$PARALLEL_SHELL`, else the shell fanout was started from (the
//! nearest ancestor process that is a known shell), else `$SHELL`, else
//! `/bin/sh`. So `export -f f; fanout f ::: a` works from bash, and zsh or
//! fish users get their own shell's syntax.

use std::ffi::OsString;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// Every shell GNU parallel knows by name.
const SHELLS: &[&str] = &[
    "ash",
    "bash",
    "bsd-csh",
    "csh",
    "dash",
    "fdsh",
    "fish",
    "fizsh",
    "ion",
    "ksh",
    "ksh93",
    "lksh",
    "mksh",
    "pdksh",
    "posh",
    "rbash",
    "rc",
    "rush",
    "rzsh",
    "sash",
    "sh",
    "static-sh",
    "tcsh",
    "yash",
    "zsh",
];

/// Ancestors looked at, at most (a loop in /proc cannot happen, but a very
/// deep tree is not worth walking).
const MAX_DEPTH: usize = 64;

/// The shell for command lines that need one.
pub fn user_shell(parallel_shell: Option<OsString>, shell_env: Option<OsString>) -> OsString {
    parallel_shell
        .or_else(|| parent_shell().map(PathBuf::into_os_string))
        .or(shell_env)
        .unwrap_or_else(|| OsString::from("/bin/sh"))
}

/// The nearest ancestor that is a shell, as the path of its program.
fn parent_shell() -> Option<PathBuf> {
    let mut pid = std::os::unix::process::parent_id();
    for _ in 0..MAX_DEPTH {
        if pid <= 1 {
            return None;
        }
        if let Some(name) = shell_name(pid) {
            return shell_path(pid, &name);
        }
        pid = parent_of(pid)?;
    }
    None
}

/// The known shell process `pid` runs, by the name it was started as
/// (`-bash` for a login shell; `busybox sh`).
fn shell_name(pid: u32) -> Option<String> {
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
    let mut words = cmdline.split(|&b| b == 0);
    let mut first = words.next()?;
    let base = |w: &[u8]| {
        Path::new(std::ffi::OsStr::from_bytes(w))
            .file_name()
            .map(|n| n.as_bytes().to_vec())
    };
    if matches!(base(first).as_deref(), Some(b"busybox" | b"rosetta")) {
        first = words.next()?;
    }
    let name = base(first)?;
    let name = String::from_utf8(name).ok()?;
    let name = name.strip_prefix('-').unwrap_or(&name).to_owned();
    SHELLS.contains(&name.as_str()).then_some(name)
}

/// The program of shell `name` running as `pid`: the executable itself
/// when it is that shell, else `name` found on `PATH`.
fn shell_path(pid: u32, name: &str) -> Option<PathBuf> {
    if let Ok(exe) = std::fs::read_link(format!("/proc/{pid}/exe")) {
        let is_shell = exe
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| SHELLS.contains(&n));
        if is_shell {
            return Some(exe);
        }
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

/// The parent of `pid`, from `/proc/PID/stat` (the field after the
/// command name, which may itself hold spaces and parentheses).
fn parent_of(pid: u32) -> Option<u32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().nth(1)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parallel_shell_wins_then_the_parent_then_shell() {
        let s = user_shell(Some("/bin/zsh".into()), Some("/bin/fish".into()));
        assert_eq!(s, "/bin/zsh");
        assert_eq!(
            parent_of(std::process::id()),
            Some(std::os::unix::process::parent_id())
        );
    }
}
