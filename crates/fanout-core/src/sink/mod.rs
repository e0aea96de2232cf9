//! Output sinks: printing a job's output as GNU parallel does (grouped,
//! line-buffered or ungrouped, with `--tag` and `-v`), and putting jobs
//! back in input order for `-k`.

mod ordered;
mod print;
mod tag;

pub use ordered::Ordered;
pub use print::{PrintOptions, Printer};
pub use tag::Tag;
