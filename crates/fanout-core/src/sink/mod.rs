//! Output sinks: printing a job's output as GNU parallel does (grouped,
//! line-buffered or ungrouped, with `--tag` and `-v`), and putting jobs
//! back in input order for `-k`.

mod json;
mod ordered;
mod print;
mod results;
mod table;
mod tag;

pub use json::JsonLines;
pub use ordered::Ordered;
pub use print::{PrintOptions, Printer};
pub use results::{dir_name, Files, ResultsDir, ResultsLayout};
pub use table::{ResultsTable, TableFormat};
pub use tag::Tag;
