//! The name fanout's messages go by: `fanout`, or `parallel` (or `sem`)
//! when it is invoked under GNU's name (a symlink), so that scripts
//! matching GNU's messages (`parallel: Error: ...`, `sem: Warning: ...`)
//! keep working. `--version` and `--help` still say fanout.

use std::sync::OnceLock;

static NAME: OnceLock<&'static str> = OnceLock::new();

/// `parallel` or `sem` when the program was started under that name (as
/// GNU's `sem` is GNU parallel by another name), else `fanout`.
pub fn program() -> &'static str {
    NAME.get_or_init(|| {
        let argv0 = std::env::args_os().next().unwrap_or_default();
        let base = std::path::Path::new(&argv0).file_name().unwrap_or_default();
        if base == "parallel" {
            "parallel"
        } else if base == "sem" {
            "sem"
        } else {
            "fanout"
        }
    })
}

/// What an error line begins with.
pub fn error() -> &'static str {
    match program() {
        "parallel" => "parallel: Error: ",
        "sem" => "sem: Error: ",
        _ => "fanout: ",
    }
}

/// What a warning line begins with.
pub fn warning() -> &'static str {
    match program() {
        "parallel" => "parallel: Warning: ",
        "sem" => "sem: Warning: ",
        _ => "fanout: warning: ",
    }
}
