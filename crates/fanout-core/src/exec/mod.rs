//! The local executor: each job is a child process in its own process
//! group, started directly when its line needs no shell, its output read
//! through pipes by the one event loop, its exit seen through a pidfd.

mod drive;
mod lookup;
pub(crate) mod orphans;
mod spawn;
mod stdin;

pub use crate::output::{Captured, Codec, Spool, Stream};
pub(crate) use drive::{drive, Chunk, DriveCtx, Outcome};
pub(crate) use lookup::Programs;
pub(crate) use spawn::{
    group_alive, keep_children_reapable, kill_group, spawn, Place, Spawned, StdinKind,
};
pub(crate) use stdin::Feeder;

use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStrExt;

use crate::job::Records;

/// How a job's command is executed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Program {
    /// Executed directly with this argv (the line had no shell syntax),
    /// one word per record, packed: a `-X` line has tens of thousands.
    Direct(Records),
    /// Handed to the shell as `SHELL -c LINE`.
    Shell {
        /// The shell, `$PARALLEL_SHELL` or `/bin/sh`.
        shell: OsString,
        /// The composed command line.
        line: OsString,
    },
}

impl Program {
    /// Chooses direct execution when the shell would only split words.
    pub fn for_line(line: &[u8], shell: &OsStr) -> Program {
        match crate::quote::split_words(line) {
            Some(words) => Program::Direct(words),
            None => Program::shell(line, shell),
        }
    }

    /// An explicit argv, executed directly.
    pub fn argv<I: IntoIterator<Item = Vec<u8>>>(words: I) -> Program {
        let mut argv = Records::new();
        for w in words {
            argv.push_values([w.as_slice()]);
        }
        Program::Direct(argv)
    }

    /// The same line run through the shell.
    pub fn shell(line: &[u8], shell: &OsStr) -> Program {
        Program::Shell {
            shell: shell.to_owned(),
            line: OsStr::from_bytes(line).to_owned(),
        }
    }
}
