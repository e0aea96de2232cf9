//! What fanout reads of its process before it validates the options, and
//! what it changes in its process after: validation (`Config::new`) reads
//! nothing and changes nothing, so these two steps are the only places
//! where the environment comes in and the process is altered.

use std::ffi::OsString;
use std::path::PathBuf;

use super::Config;

/// The environment, read once.
#[derive(Debug, Clone)]
pub struct Environment {
    /// The shell for command lines that need one (see `shell.rs`).
    pub shell: OsString,
    /// `$FANOUT_MEMINFO`: a file standing in for `/proc/meminfo` (tests).
    pub meminfo: Option<PathBuf>,
    /// The temp directory (`$TMPDIR`, else `/tmp`).
    pub temp_dir: PathBuf,
    /// CPU threads available to this process.
    pub cpus: usize,
    /// `$PARALLEL_ENV`: shell code run before each command line, given
    /// as the variable's value or as the name of a file (or fifo) that
    /// holds it, as GNU parallel reads it.
    pub parallel_env: Option<Vec<u8>>,
    /// `$HOME`, under which `--wd ...` makes the jobs' directories.
    pub home: Option<PathBuf>,
    /// `$PARALLEL_TMUX`: the tmux program for `--tmux` (default `tmux`).
    pub tmux: OsString,
}

impl Environment {
    /// Reads what fanout takes from its environment.
    pub fn read() -> Self {
        Environment {
            shell: super::shell::user_shell(
                std::env::var_os("PARALLEL_SHELL").filter(|s| !s.is_empty()),
                std::env::var_os("SHELL").filter(|s| !s.is_empty()),
            ),
            meminfo: std::env::var_os("FANOUT_MEMINFO").map(PathBuf::from),
            temp_dir: std::env::temp_dir(),
            cpus: std::thread::available_parallelism().map_or(1, |n| n.get()),
            parallel_env: parallel_env(),
            tmux: std::env::var_os("PARALLEL_TMUX")
                .filter(|t| !t.is_empty())
                .unwrap_or_else(|| "tmux".into()),
            home: std::env::var_os("HOME")
                .filter(|h| !h.is_empty())
                .map(PathBuf::from),
        }
    }
}

fn parallel_env() -> Option<Vec<u8>> {
    use std::os::unix::ffi::OsStringExt;
    let v = std::env::var_os("PARALLEL_ENV").filter(|v| !v.is_empty())?;
    let path = std::path::Path::new(&v);
    if path.exists() {
        if let Ok(code) = std::fs::read(path) {
            return Some(code);
        }
    }
    Some(v.into_vec())
}

/// `-j 0` runs as many jobs as the open-file limit allows, at most this.
pub(super) const MAX_ANY: usize = 4096;

/// How many descriptors the jobs need: what the open-file limit must hold.
#[derive(Debug, Clone, Copy)]
pub struct FileNeed {
    /// The jobs asked for (`None`: `-j 0`, as many as fit).
    pub requested: Option<usize>,
    /// Descriptors per job: two pipes and a pidfd (pipe mode: one more,
    /// the writing end of its stdin).
    pub per_job: usize,
}

impl Config {
    /// The process-wide step after validation: raises the open-file limit
    /// for the jobs (lowering `-j`, as GNU parallel does, when it cannot),
    /// then prints the warnings validation collected.
    pub fn apply_to_process(&mut self) {
        let need = self.files_needed;
        let jobs = need.requested.unwrap_or(MAX_ANY);
        // Plus room for `-k` to hold finished jobs' spool files.
        let want = jobs
            .saturating_mul(need.per_job)
            .saturating_add(64)
            .max(4096);
        let limit = crate::limits::raise_nofile(want);
        let fit = (limit.saturating_sub(16) / need.per_job).max(1);
        if jobs > fit {
            if need.requested.is_some() {
                self.warnings.push(format!(
                    "only enough file handles to run {fit} jobs in parallel"
                ));
            }
            self.run.jobs = fit;
            self.batch.slots = fit;
        }
        for w in self.warnings.drain(..) {
            eprintln!("{}{w}", crate::name::warning());
        }
    }
}

/// GNU parallel's choice for `--compress`: the first of its programs on
/// `$PATH`, run with `-c -1` and `-dc`; `cat` when there is none. (It
/// looks at the file system, so it is asked only when `--compress` is.)
pub fn find_compressor() -> (OsString, OsString) {
    const PROGRAMS: [&str; 17] = [
        "pzstd", "lbzip2", "pbzip2", "zstd", "pixz", "lz4", "pigz", "lzop", "plzip", "lzip",
        "gzip", "lrz", "pxz", "bzip2", "lzma", "xz", "clzip",
    ];
    match PROGRAMS.into_iter().find(|p| on_path(p.as_ref())) {
        Some(p) => (format!("{p} -c -1").into(), format!("{p} -dc").into()),
        None => ("cat".into(), "cat".into()),
    }
}

/// True when `program` is a file: as a path when it has a `/`, else in
/// one of `$PATH`'s directories.
pub fn on_path(program: &std::ffi::OsStr) -> bool {
    let p = PathBuf::from(program);
    if p.components().count() > 1 {
        return p.is_file();
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path).any(|d| d.join(&p).is_file())
}
