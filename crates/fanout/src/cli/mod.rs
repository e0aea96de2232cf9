//! The command line: split off the `:::` input groups, parse the options
//! with clap, and convert everything once into the engine's configuration.

mod args;
mod convert;
mod escape;
mod jobs;
mod split;

pub use args::Cli;
pub use convert::{Config, Plan};
pub use split::split_sources;
