//! Reading one source's items: delimiter, `-E`, `-r` and `--colsep`.

use std::fs::File;
use std::io::{BufRead, BufReader};

use super::{InputOptions, Source};
use crate::job::Record;
use crate::{Error, Result};

/// The items of one source, each already split into its columns.
pub struct Items {
    inner: Inner,
    delimiter: Vec<u8>,
    eof: Option<Vec<u8>>,
    skip_empty: bool,
    colsep: Option<regex::bytes::Regex>,
    on_nul: Option<super::NulHook>,
    csv: Option<u8>,
    done: bool,
}

enum Inner {
    Args(std::vec::IntoIter<Vec<u8>>),
    Reader(Box<dyn BufRead + Send>),
    /// `--csv`: records read by the csv crate, which knows CSV's quoting.
    Csv(Box<csv::Reader<Box<dyn BufRead + Send>>>),
}

impl std::fmt::Debug for Items {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Items")
            .field("done", &self.done)
            .finish_non_exhaustive()
    }
}

impl Items {
    /// Opens a source; a file that cannot be opened is an error now.
    pub fn open(source: Source, opts: &InputOptions) -> Result<Self> {
        let inner = match source {
            Source::Args(v) => Inner::Args(split_args(v, &opts.delimiter).into_iter()),
            Source::Stdin => Inner::Reader(stdin_reader()),
            Source::File(p) if p.as_os_str() == "-" => Inner::Reader(stdin_reader()),
            Source::File(path) => match File::open(&path) {
                Ok(f) => Inner::Reader(Box::new(BufReader::with_capacity(64 * 1024, f))),
                Err(err) => return Err(Error::InputFile { path, err }),
            },
        };
        let inner = match (opts.csv, inner) {
            (Some(d), Inner::Reader(r)) => Inner::Csv(Box::new(
                csv::ReaderBuilder::new()
                    .delimiter(d)
                    .has_headers(false)
                    .flexible(true)
                    .from_reader(r),
            )),
            (_, inner) => inner,
        };
        Ok(Items {
            csv: opts.csv,
            inner,
            delimiter: opts.delimiter.clone(),
            eof: opts.eof.clone(),
            skip_empty: opts.skip_empty,
            colsep: opts.colsep.clone(),
            on_nul: opts.on_nul.clone().filter(|_| opts.delimiter != [0]),
            done: false,
        })
    }

    /// Drops the next item as read, before `-E`, `-r` or `--colsep`.
    pub(super) fn skip_raw(&mut self) -> Result<()> {
        if matches!(self.inner, Inner::Csv(_)) {
            return self.next_csv().transpose().map(drop);
        }
        self.next_raw().map(drop)
    }

    fn next_raw(&mut self) -> Result<Option<Vec<u8>>> {
        match &mut self.inner {
            Inner::Args(it) => Ok(it.next()),
            Inner::Reader(r) => read_item(r.as_mut(), &self.delimiter),
            Inner::Csv(_) => unreachable!("CSV records are read whole"),
        }
    }

    fn columns(&self, item: Vec<u8>) -> Record {
        if let Some(d) = self.csv {
            // A `:::` value under --csv is one CSV line.
            let mut r = csv::ReaderBuilder::new()
                .delimiter(d)
                .has_headers(false)
                .from_reader(item.as_slice());
            let mut rec = csv::ByteRecord::new();
            if matches!(r.read_byte_record(&mut rec), Ok(true)) {
                return rec.iter().map(<[u8]>::to_vec).collect();
            }
            return vec![item];
        }
        match &self.colsep {
            None => vec![item],
            Some(re) => re.split(&item).map(<[u8]>::to_vec).collect(),
        }
    }

    /// `--csv`: the next record of a file or stdin, as its fields.
    fn next_csv(&mut self) -> Option<Result<Record>> {
        let Inner::Csv(r) = &mut self.inner else {
            return None;
        };
        let mut rec = csv::ByteRecord::new();
        match r.read_byte_record(&mut rec) {
            Ok(true) => Some(Ok(rec.iter().map(<[u8]>::to_vec).collect())),
            Ok(false) => None,
            Err(e) => Some(Err(Error::InputRead(std::io::Error::other(e.to_string())))),
        }
    }
}

impl Iterator for Items {
    type Item = Result<Record>;

    fn next(&mut self) -> Option<Self::Item> {
        if matches!(self.inner, Inner::Csv(_)) {
            return self.next_csv_item();
        }
        while !self.done {
            let item = match self.next_raw() {
                Ok(Some(item)) => item,
                Ok(None) => break,
                Err(e) => {
                    self.done = true;
                    return Some(Err(e));
                }
            };
            if self.eof.as_deref() == Some(item.as_slice()) {
                break;
            }
            if self.skip_empty && item.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            let item = match &self.on_nul {
                Some(hook) if memchr::memchr(0, &item).is_some() => {
                    (hook.0)();
                    replace_nul(&item)
                }
                _ => item,
            };
            return Some(Ok(self.columns(item)));
        }
        self.done = true;
        None
    }
}

/// Arguments given after `:::` split at the delimiter, as GNU parallel
/// does (it writes them to a file, one per delimiter, and reads that file
/// back): `-d ' ' ::: "1 done"` is two items, and so is `::: $'a\nb'`.
fn split_args(args: Vec<Vec<u8>>, delim: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::with_capacity(args.len());
    for arg in args {
        if memchr::memmem::find(&arg, delim).is_none() {
            out.push(arg);
            continue;
        }
        let mut rest = arg.as_slice();
        while let Some(at) = memchr::memmem::find(rest, delim) {
            out.push(rest[..at].to_vec());
            rest = &rest[at + delim.len()..];
        }
        out.push(rest.to_vec());
    }
    out
}

/// A NUL as the two characters `\0`, as GNU parallel puts it.
fn replace_nul(item: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(item.len() + 8);
    for &b in item {
        if b == 0 {
            out.extend_from_slice(b"\\0");
        } else {
            out.push(b);
        }
    }
    out
}

impl Items {
    /// `--csv` records with `-E` and `-r` applied (to the record's only
    /// field, and to records whose every field is blank).
    fn next_csv_item(&mut self) -> Option<Result<Record>> {
        while !self.done {
            let rec = match self.next_csv()? {
                Ok(rec) => rec,
                Err(e) => {
                    self.done = true;
                    return Some(Err(e));
                }
            };
            if rec.len() == 1 && self.eof.as_deref() == Some(rec[0].as_slice()) {
                break;
            }
            if self.skip_empty && rec.iter().all(|f| f.iter().all(u8::is_ascii_whitespace)) {
                continue;
            }
            return Some(Ok(rec));
        }
        self.done = true;
        None
    }
}

fn stdin_reader() -> Box<dyn BufRead + Send> {
    // Reads larger than Stdin's own 8 KiB buffer bypass it, so this costs
    // no extra copy.
    Box::new(BufReader::with_capacity(64 * 1024, std::io::stdin()))
}

/// Reads one item terminated by `delim` (which is dropped). The last item
/// may end without a terminator; `None` at end of input.
fn read_item(r: &mut dyn BufRead, delim: &[u8]) -> Result<Option<Vec<u8>>> {
    let last = *delim.last().expect("delimiter is never empty");
    let mut item = Vec::new();
    loop {
        let n = r.read_until(last, &mut item).map_err(Error::InputRead)?;
        if n == 0 {
            return Ok((!item.is_empty()).then_some(item));
        }
        if item.ends_with(delim) {
            item.truncate(item.len() - delim.len());
            return Ok(Some(item));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn items(data: &str, delim: &str) -> Vec<String> {
        let mut r = std::io::Cursor::new(data.as_bytes().to_vec());
        let mut out = Vec::new();
        while let Some(i) = read_item(&mut r, delim.as_bytes()).unwrap() {
            out.push(String::from_utf8(i).unwrap());
        }
        out
    }

    #[test]
    fn command_line_arguments_split_at_the_delimiter() {
        let v = |s: &[&str]| s.iter().map(|a| a.as_bytes().to_vec()).collect::<Vec<_>>();
        assert_eq!(
            split_args(v(&["1 done", "x"]), b" "),
            v(&["1", "done", "x"])
        );
        assert_eq!(split_args(v(&["a\n", ""]), b"\n"), v(&["a", "", ""]));
    }

    #[test]
    fn splits_on_delimiters_like_gnu_parallel() {
        assert_eq!(items("a\nb\n", "\n"), ["a", "b"]);
        assert_eq!(items("a\n\nb", "\n"), ["a", "", "b"]);
        assert_eq!(items("a::b::c", "::"), ["a", "b", "c"]);
        assert_eq!(items("a:b::c", "::"), ["a:b", "c"]);
        assert_eq!(items("a,b\n", ","), ["a", "b\n"]);
    }
}
