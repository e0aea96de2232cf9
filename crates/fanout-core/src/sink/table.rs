//! `--results FILE.json|.csv|.tsv`: one record per finished job, in GNU
//! parallel's own formats (its field names, its quoting), in place of the
//! jobs' output. `-.json` and the like write them to stdout.

use std::io::{self, Write};
use std::time::UNIX_EPOCH;

use crate::event::{Event, Sink};
use crate::exec::Captured;
use crate::job::{ExitKind, JobResult};

/// Which of GNU parallel's formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TableFormat {
    /// One JSON object per line.
    Json,
    /// Comma-separated, with a header line.
    Csv,
    /// Tab-separated, with a header line.
    Tsv,
}

impl TableFormat {
    /// The format a `--results` name asks for, by its extension.
    pub fn of_name(name: &[u8]) -> Option<Self> {
        let lower = name.to_ascii_lowercase();
        [
            (&b".json"[..], TableFormat::Json),
            (b".csv", TableFormat::Csv),
            (b".tsv", TableFormat::Tsv),
        ]
        .into_iter()
        .find_map(|(ext, f)| lower.ends_with(ext).then_some(f))
    }
}

/// Writes each finished job as a JSON line or a CSV/TSV row.
pub struct ResultsTable {
    out: Box<dyn Write + Send>,
    format: TableFormat,
    /// `--header` names for the value columns (`V1`, `V2`, ... without).
    names: Vec<Vec<u8>>,
    header_done: bool,
}

impl std::fmt::Debug for ResultsTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResultsTable")
            .field("format", &self.format)
            .finish_non_exhaustive()
    }
}

impl ResultsTable {
    /// A table in `format` written to `out`; `names` head the value
    /// columns of a CSV or TSV file.
    pub fn new(out: Box<dyn Write + Send>, format: TableFormat, names: Vec<Vec<u8>>) -> Self {
        ResultsTable {
            out,
            format,
            names,
            header_done: false,
        }
    }

    fn write(&mut self, r: &JobResult) -> io::Result<()> {
        let (exit, signal) = match r.exit {
            ExitKind::Code(c) => (c, 0),
            ExitKind::Signal(s) => (0, s),
            ExitKind::SpawnFailed(_) => (127, 0),
        };
        let start = r.started_at.duration_since(UNIX_EPOCH).unwrap_or_default();
        let stdout = whole(&r.stdout)?;
        let stderr = whole(&r.stderr)?;
        let fields: [Vec<u8>; 8] = [
            r.seq.to_string().into_bytes(),
            b":".to_vec(),
            format!("{:.3}", start.as_secs_f64()).into_bytes(),
            format!("{:.3}", r.runtime.as_secs_f64()).into_bytes(),
            b"0".to_vec(),
            stdout.len().to_string().into_bytes(),
            exit.to_string().into_bytes(),
            signal.to_string().into_bytes(),
        ];
        let values: Vec<&[u8]> = r.records.values().collect();
        let mut line = Vec::with_capacity(256 + stdout.len() + stderr.len());
        match self.format {
            TableFormat::Json => {
                json_line(&mut line, &fields, &r.command, &values, &stdout, &stderr)
            }
            TableFormat::Csv | TableFormat::Tsv => {
                let sep = if self.format == TableFormat::Csv {
                    b','
                } else {
                    b'\t'
                };
                if !self.header_done {
                    self.header_done = true;
                    let mut head: Vec<Vec<u8>> = [
                        "Seq",
                        "Host",
                        "Starttime",
                        "JobRuntime",
                        "Send",
                        "Receive",
                        "Exitval",
                        "Signal",
                        "Command",
                    ]
                    .iter()
                    .map(|s| s.as_bytes().to_vec())
                    .collect();
                    head.extend((0..values.len()).map(|i| match self.names.get(i) {
                        Some(n) => n.clone(),
                        None => format!("V{}", i + 1).into_bytes(),
                    }));
                    head.extend([b"Stdout".to_vec(), b"Stderr".to_vec()]);
                    let head: Vec<&[u8]> = head.iter().map(Vec::as_slice).collect();
                    csv_row(&mut line, sep, &head);
                }
                let mut row: Vec<&[u8]> = fields.iter().map(Vec::as_slice).collect();
                row.push(&r.command);
                row.extend(values.iter().copied());
                row.extend([stdout.as_slice(), stderr.as_slice()]);
                csv_row(&mut line, sep, &row);
            }
        }
        self.out.write_all(&line)
    }
}

impl Sink for ResultsTable {
    fn event(&mut self, event: Event<'_>) -> io::Result<()> {
        match event {
            Event::Finished(r) => self.write(&r),
            _ => Ok(()),
        }
    }

    fn finish(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

/// A captured stream read whole: GNU's record holds it in one field.
fn whole(c: &Captured) -> io::Result<Vec<u8>> {
    let mut v = Vec::new();
    c.for_each_chunk(|chunk| {
        v.extend_from_slice(chunk);
        Ok(())
    })?;
    Ok(v)
}

fn json_line(
    out: &mut Vec<u8>,
    f: &[Vec<u8>; 8],
    command: &[u8],
    values: &[&[u8]],
    stdout: &[u8],
    stderr: &[u8],
) {
    let s = |b: &Vec<u8>| String::from_utf8_lossy(b).into_owned();
    out.extend_from_slice(
        format!(
            "{{ \"Seq\": {}, \"Host\": \"{}\", \"Starttime\": {}, \"JobRuntime\": {}, \"Send\": {}, \"Receive\": {}, \"Exitval\": {}, \"Signal\": {}, \"Command\": \"",
            s(&f[0]), s(&f[1]), s(&f[2]), s(&f[3]), s(&f[4]), s(&f[5]), s(&f[6]), s(&f[7])
        )
        .as_bytes(),
    );
    json_quote(out, command);
    out.extend_from_slice(b"\", \"V\": [ ");
    for (i, v) in values.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.push(b'"');
        json_quote(out, v);
        out.push(b'"');
    }
    out.extend_from_slice(b" ], \"Stdout\": \"");
    json_quote(out, stdout);
    out.extend_from_slice(b"\", \"Stderr\": \"");
    json_quote(out, stderr);
    out.extend_from_slice(b"\" }\n");
}

/// GNU parallel's `jsonquote`: backslash and quote escaped, control bytes
/// as `\u00XX`, every other byte as it is.
fn json_quote(out: &mut Vec<u8>, b: &[u8]) {
    for &c in b {
        match c {
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'"' => out.extend_from_slice(b"\\\""),
            0..=31 => out.extend_from_slice(format!("\\u{c:04x}").as_bytes()),
            _ => out.push(c),
        }
    }
}

/// One row with GNU parallel's quoting (its `combine_ref`): a field with a
/// quote (doubled), whitespace, the separator or a NUL goes in quotes.
fn csv_row(out: &mut Vec<u8>, sep: u8, fields: &[&[u8]]) {
    for (i, f) in fields.iter().enumerate() {
        if i > 0 {
            out.push(sep);
        }
        let quote = f
            .iter()
            .any(|&c| c == b'"' || c == sep || c == 0 || c.is_ascii_whitespace() || c == 0x0b);
        if !quote {
            out.extend_from_slice(f);
            continue;
        }
        out.push(b'"');
        for &c in *f {
            if c == b'"' {
                out.push(b'"');
            }
            out.push(c);
        }
        out.push(b'"');
    }
    out.push(b'\n');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_quoted_as_gnu_parallel_quotes_them() {
        let mut out = Vec::new();
        csv_row(&mut out, b',', &[b"a", b"b c", b"x\"y", b"1,2"]);
        assert_eq!(out, b"a,\"b c\",\"x\"\"y\",\"1,2\"\n");
        let mut j = Vec::new();
        json_quote(&mut j, b"\"\t\\");
        assert_eq!(j, br#"\"\u0009\\"#);
    }

    #[test]
    fn the_format_is_the_extension() {
        assert_eq!(TableFormat::of_name(b"out.JSON"), Some(TableFormat::Json));
        assert_eq!(TableFormat::of_name(b"-.tsv"), Some(TableFormat::Tsv));
        assert_eq!(TableFormat::of_name(b"dir"), None);
    }
}
