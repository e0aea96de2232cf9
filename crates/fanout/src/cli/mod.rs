//! The command line: split off the `:::` input groups, parse the options
//! with clap, and convert everything once into the engine's configuration.

mod args;
mod broker;
mod control;
mod convert;
mod environment;
mod escape;
pub mod info;
mod jobs;
pub mod legacy;
mod pipe;
pub mod profile;
pub mod record_env;
mod replace;
pub mod shebang;
mod shell;
mod split;
pub mod unknown;

pub use args::Cli;
pub use broker::{default_run_id, Distributed, Role};
pub use control::Resume;
pub use convert::{Config, Plan, ProgressKind};
pub use environment::{on_path, Environment};
pub use jobs::parse_jobs;
pub use pipe::PipeMode;
pub use split::{split_sources, ValueOptions};

/// The options of [`Cli`] that take a value, read from clap's definition
/// so the `:::` splitter and clap never disagree.
pub fn value_options(cmd: &clap::Command) -> ValueOptions {
    let mut v = ValueOptions::default();
    for arg in cmd
        .get_arguments()
        // An optional value (`-i`, `--replace[=STR]`) is only ever
        // attached: the next argument is not it.
        .filter(|a| a.get_action().takes_values() && !a.is_require_equals_set())
    {
        v.long.extend(
            arg.get_long_and_visible_aliases()
                .into_iter()
                .flatten()
                .map(String::from),
        );
        v.short.extend(
            arg.get_short_and_visible_aliases()
                .into_iter()
                .flatten()
                .filter_map(|c| u8::try_from(c).ok()),
        );
    }
    v
}
