//! Finding a job's program in `$PATH` once per run, not in every child.
//!
//! Given a bare name, glibc's `posix_spawnp` calls `execve` on each
//! directory of `PATH` in turn until one holds the program, in the vfork
//! child, while fanout waits for it: eight failed calls a job for `true`
//! with this machine's `PATH` (measured with strace; issue "Close to the
//! machine's limit", P1). Like a shell's `hash`, the path found is kept
//! for the rest of the run. A program that has gone since fails to spawn
//! with `NotFound`, and the line then gets the shell's own search.

use std::collections::HashMap;
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// The most names remembered: a run whose every line names another
/// program searches as before once this is full, in flat memory.
const MAX_NAMES: usize = 256;

/// The programs of a run found so far.
#[derive(Debug)]
pub(crate) struct Programs {
    /// `$PATH`'s directories; `None` when the jobs' `PATH` is not fanout's.
    path: Option<Vec<PathBuf>>,
    found: HashMap<Box<[u8]>, Option<PathBuf>>,
}

impl Programs {
    /// Searches `path` (fanout's `$PATH`), or nothing when `None`: the jobs
    /// get a `PATH` of their own, which `posix_spawnp` must search.
    pub(crate) fn new(path: Option<&OsStr>) -> Programs {
        Programs {
            path: path.map(|p| std::env::split_paths(p).collect()),
            found: HashMap::new(),
        }
    }

    /// The file `name` would be executed from, when it is a bare name found
    /// in an absolute directory of `PATH` before any relative one (which
    /// depends on the job's working directory).
    pub(crate) fn find(&mut self, name: &[u8]) -> Option<&Path> {
        if name.is_empty() || name.contains(&b'/') {
            return None;
        }
        let dirs = self.path.as_ref()?;
        if !self.found.contains_key(name) {
            if self.found.len() >= MAX_NAMES {
                return None;
            }
            let hit = search(dirs, OsStr::from_bytes(name));
            self.found.insert(name.into(), hit);
        }
        self.found.get(name)?.as_deref()
    }
}

/// The first `DIR/name` that execve would run: a regular file we may
/// execute (execvp goes past a directory or a file without the x bit).
fn search(dirs: &[PathBuf], name: &OsStr) -> Option<PathBuf> {
    for dir in dirs {
        if !dir.is_absolute() {
            return None;
        }
        let file = dir.join(name);
        let regular = std::fs::metadata(&file).is_ok_and(|m| m.is_file());
        if regular && rustix::fs::access(&file, rustix::fs::Access::EXEC_OK).is_ok() {
            return Some(file);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn exe(dir: &Path, name: &str, mode: u32) {
        let f = dir.join(name);
        std::fs::write(&f, "#!/bin/sh\n").unwrap();
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(mode)).unwrap();
    }

    #[test]
    fn the_first_executable_file_in_path_is_found_once() {
        let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        exe(a.path(), "tool", 0o644);
        std::fs::create_dir(a.path().join("dir")).unwrap();
        exe(b.path(), "tool", 0o755);
        exe(b.path(), "dir", 0o755);
        let path = std::env::join_paths([a.path(), b.path()]).unwrap();
        let mut p = Programs::new(Some(&path));
        let want = b.path().join("tool");
        assert_eq!(p.find(b"tool"), Some(want.as_path()));
        assert_eq!(p.find(b"dir"), Some(b.path().join("dir").as_path()));
        std::fs::remove_file(&want).unwrap();
        assert_eq!(p.find(b"tool"), Some(want.as_path()), "kept, as hash does");
        assert_eq!(p.find(b"missing"), None);
    }

    #[test]
    fn names_with_a_slash_and_relative_path_entries_are_left_to_the_child() {
        let a = tempfile::tempdir().unwrap();
        exe(a.path(), "tool", 0o755);
        let mut p = Programs::new(Some(&std::env::join_paths([a.path()]).unwrap()));
        assert_eq!(p.find(b"./tool"), None);
        let rel = std::env::join_paths([Path::new("bin"), a.path()]).unwrap();
        assert_eq!(Programs::new(Some(&rel)).find(b"tool"), None);
        assert_eq!(Programs::new(None).find(b"tool"), None);
    }
}
