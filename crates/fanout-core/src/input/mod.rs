//! Input sources and how they combine into records.
//!
//! Each source (`:::` values, a `::::`/`-a` file, standard input) yields
//! items; `--colsep` splits an item into columns; linked sources (`:::+`,
//! `--link`) are zipped; the remaining groups are combined as a cartesian
//! product with the last source varying fastest. The first group is
//! streamed, so a job can start before standard input ends.

mod items;
mod product;

use std::path::PathBuf;

pub use items::Items;
pub use product::RecordStream;

use crate::{Error, Result};

/// Where input values come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// Values given on the command line after `:::`.
    Args(Vec<Vec<u8>>),
    /// A file of items (`::::`, `-a`); `-` means standard input.
    File(PathBuf),
    /// Standard input.
    Stdin,
}

/// A source and whether it is linked to the one before it (`:::+`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceSpec {
    /// The source.
    pub source: Source,
    /// Zip with the previous source instead of taking the product.
    pub linked: bool,
}

/// How items are read and combined.
#[derive(Debug, Clone)]
pub struct InputOptions {
    /// Item terminator: newline by default, NUL for `-0`, any bytes for `-d`.
    pub delimiter: Vec<u8>,
    /// `-E`: stop reading a source at an item equal to this.
    pub eof: Option<Vec<u8>>,
    /// `-r`: skip items that are empty or only whitespace.
    pub skip_empty: bool,
    /// `--colsep`: split each item into columns.
    pub colsep: Option<regex::bytes::Regex>,
    /// `--header`: the first item of each source names its columns.
    pub header: bool,
    /// `--link`: zip all sources, wrapping the shorter ones.
    pub link: bool,
    /// `--skip-first-line`: the first source's first item is dropped.
    pub skip_first_line: bool,
    /// `--csv`: items are CSV records (quotes may hold the separator and
    /// newlines) with fields separated by this byte; `colsep` is unused.
    pub csv: Option<u8>,
    /// Told once when an item read from a file held a NUL, which cannot go
    /// into an argument: GNU parallel replaces it with `\0` and warns.
    pub on_nul: Option<NulHook>,
}

/// A callback for [`InputOptions::on_nul`] (the caller prints the warning).
#[derive(Clone)]
pub struct NulHook(pub std::sync::Arc<dyn Fn() + Send + Sync>);

impl std::fmt::Debug for NulHook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("NulHook")
    }
}

impl Default for InputOptions {
    fn default() -> Self {
        InputOptions {
            delimiter: b"\n".to_vec(),
            eof: None,
            skip_empty: false,
            colsep: None,
            header: false,
            link: false,
            on_nul: None,
            skip_first_line: false,
            csv: None,
        }
    }
}

/// The input of a run, ready to be opened.
#[derive(Debug, Clone, Default)]
pub struct Inputs {
    /// The sources in command-line order; none means standard input.
    pub sources: Vec<SourceSpec>,
    /// How to read them.
    pub options: InputOptions,
}

impl Inputs {
    /// Input from values given directly, as `:::` gives them.
    pub fn from_values<I, V>(values: I) -> Self
    where
        I: IntoIterator<Item = V>,
        V: Into<Vec<u8>>,
    {
        let vals = values.into_iter().map(Into::into).collect();
        Inputs {
            sources: vec![SourceSpec {
                source: Source::Args(vals),
                linked: false,
            }],
            options: InputOptions::default(),
        }
    }

    /// Opens every source and returns the header names (empty without
    /// `--header`) and the stream of records. Missing files fail here,
    /// before any job runs.
    pub fn open(self) -> Result<(Vec<Vec<u8>>, RecordStream)> {
        let mut specs = self.sources;
        if specs.is_empty() {
            specs.push(SourceSpec {
                source: Source::Stdin,
                linked: false,
            });
        }
        let mut stdin_used = false;
        let mut opened = Vec::with_capacity(specs.len());
        for spec in specs {
            let is_stdin = matches!(&spec.source, Source::Stdin)
                || matches!(&spec.source, Source::File(p) if p.as_os_str() == "-");
            if is_stdin && std::mem::replace(&mut stdin_used, true) {
                return Err(Error::StdinTwice);
            }
            opened.push((Items::open(spec.source, &self.options)?, spec.linked));
        }
        if self.options.skip_first_line {
            // `--skip-first-line` (a `#!` script's own line): the first
            // source's first item is not input.
            if let Some((items, _)) = opened.first_mut() {
                items.skip_raw()?;
            }
        }
        let mut names = Vec::new();
        if self.options.header {
            for (items, _) in &mut opened {
                if let Some(rec) = items.next().transpose()? {
                    names.extend(rec);
                }
            }
        }
        Ok((names, RecordStream::new(opened, self.options.link)?))
    }
}
