//! Where a block may be cut: after `--recend`, before `--recstart` (both
//! literal, or regular expressions with `--regexp`), or after every L-th
//! line for `-L`.

use memchr::memmem;

/// How records are delimited.
#[derive(Debug, Clone)]
pub enum Splitter {
    /// Literal `--recend` then `--recstart`; cuts go between them.
    Literal {
        /// `--recend` (default `\n`).
        end: Vec<u8>,
        /// `--recstart` (default empty).
        start: Vec<u8>,
    },
    /// `--regexp`: `(recend)(recstart)` as one pattern; cuts go between
    /// the two groups.
    Regex(regex::bytes::Regex),
    /// `-L n`: a record is n lines.
    Lines(usize),
    /// `--recend ''` and no `--recstart`: no records; cut anywhere.
    Anywhere,
    /// `--group-by`: a record is a run of lines whose column `col` (from
    /// 1, split by `colsep`) holds the same value.
    GroupBy {
        /// The column.
        col: usize,
        /// What separates columns (`--colsep`, else TAB).
        colsep: regex::bytes::Regex,
    },
}

impl Splitter {
    /// The splitter for these options.
    pub fn new(
        end: &[u8],
        start: &[u8],
        regexp: bool,
        lines: Option<usize>,
    ) -> crate::Result<Self> {
        if let Some(n) = lines {
            return Ok(Splitter::Lines(n.max(1)));
        }
        if end.is_empty() && start.is_empty() {
            return Ok(Splitter::Anywhere);
        }
        if regexp {
            let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
            let pattern = format!("(?s)({})({})", text(end), text(start));
            let re = regex::bytes::Regex::new(&pattern)
                .map_err(|e| crate::Error::BadRecordSeparator(e.to_string()))?;
            return Ok(Splitter::Regex(re));
        }
        Ok(Splitter::Literal {
            end: end.to_vec(),
            start: start.to_vec(),
        })
    }

    /// The last cut in `buf` that leaves a non-empty first part, if any.
    /// A cut needs the whole `recstart` after it, so a record start at the
    /// very end of `buf` is not yet a cut.
    pub fn last_cut(&self, buf: &[u8]) -> Option<usize> {
        match self {
            Splitter::Literal { end, start } if start.is_empty() && end.len() == 1 => {
                memchr::memrchr(end[0], buf).map(|i| i + 1)
            }
            Splitter::Literal { end, start } => {
                let needle = [end.as_slice(), start.as_slice()].concat();
                let finder = memmem::FinderRev::new(&needle);
                let mut hay = buf;
                loop {
                    let i = finder.rfind(hay)?;
                    let cut = i + end.len();
                    if cut > 0 {
                        return Some(cut);
                    }
                    // A match at the very start would cut off nothing.
                    hay = &hay[..i + needle.len() - 1];
                    if hay.len() < needle.len() {
                        return None;
                    }
                }
            }
            Splitter::Regex(re) => re
                .captures_iter(buf)
                .filter_map(|c| c.get(1).map(|m| m.end()))
                .filter(|&cut| cut > 0)
                .last(),
            Splitter::Lines(n) => {
                let count = memchr::memchr_iter(b'\n', buf).count();
                let keep = count - count % n;
                (keep > 0).then(|| nth_newline_end(buf, keep))
            }
            Splitter::Anywhere => (!buf.is_empty()).then_some(buf.len()),
            Splitter::GroupBy { .. } => self.group_cuts(buf).last(),
        }
    }

    /// `--group-by`: the places in `buf` between two complete lines whose
    /// keys differ.
    fn group_cuts<'b>(&'b self, buf: &'b [u8]) -> impl Iterator<Item = usize> + 'b {
        let Splitter::GroupBy { col, colsep } = self else {
            unreachable!("only called for --group-by")
        };
        let key = move |line: &'b [u8]| {
            let line = line.strip_suffix(b"\n").unwrap_or(line);
            colsep.split(line).nth(col.saturating_sub(1)).unwrap_or(b"")
        };
        let ends: Vec<usize> = memchr::memchr_iter(b'\n', buf).map(|i| i + 1).collect();
        (1..ends.len()).filter_map(move |i| {
            let prev = &buf[if i >= 2 { ends[i - 2] } else { 0 }..ends[i - 1]];
            let next = &buf[ends[i - 1]..ends[i]];
            (key(prev) != key(next)).then_some(ends[i - 1])
        })
    }

    /// The first cut at or after position `from` of `buf`.
    pub fn first_cut_from(&self, buf: &[u8], from: usize) -> Option<usize> {
        let ok = |c: &usize| *c >= from && *c > 0;
        match self {
            Splitter::Literal { end, start } => {
                let needle = [end.as_slice(), start.as_slice()].concat();
                memmem::find_iter(buf, &needle)
                    .map(|i| i + end.len())
                    .find(ok)
            }
            Splitter::Regex(re) => re
                .captures_iter(buf)
                .filter_map(|c| c.get(1).map(|m| m.end()))
                .find(ok),
            Splitter::Lines(_) => memchr::memchr_iter(b'\n', buf).map(|i| i + 1).find(ok),
            Splitter::Anywhere => (buf.len() >= from).then_some(from.max(1)),
            Splitter::GroupBy { .. } => self.group_cuts(buf).find(ok),
        }
    }

    /// The cut after the first `n` records of `buf` (`-N`), if `buf` holds
    /// that many complete records.
    pub fn nth_cut(&self, buf: &[u8], n: usize) -> Option<usize> {
        let n = n.max(1);
        match self {
            Splitter::Literal { end, start } => {
                let needle = [end.as_slice(), start.as_slice()].concat();
                memmem::find_iter(buf, &needle)
                    .map(|i| i + end.len())
                    .filter(|&cut| cut > 0)
                    .nth(n - 1)
            }
            Splitter::Regex(re) => re
                .captures_iter(buf)
                .filter_map(|c| c.get(1).map(|m| m.end()))
                .filter(|&cut| cut > 0)
                .nth(n - 1),
            Splitter::Lines(l) => {
                let lines = n.saturating_mul(*l);
                (memchr::memchr_iter(b'\n', buf).count() >= lines)
                    .then(|| nth_newline_end(buf, lines))
            }
            Splitter::Anywhere => (buf.len() >= n).then_some(n),
            Splitter::GroupBy { .. } => self.group_cuts(buf).nth(n - 1),
        }
    }
}

/// The position just after the `n`-th newline of `buf` (which has at
/// least `n`).
fn nth_newline_end(buf: &[u8], n: usize) -> usize {
    memchr::memchr_iter(b'\n', buf)
        .nth(n - 1)
        .map_or(buf.len(), |i| i + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lit(end: &str, start: &str) -> Splitter {
        Splitter::new(end.as_bytes(), start.as_bytes(), false, None).unwrap()
    }

    #[test]
    fn cuts_after_the_last_newline() {
        let s = lit("\n", "");
        assert_eq!(s.last_cut(b"a\nb\nc"), Some(4));
        assert_eq!(s.last_cut(b"abc"), None);
        assert_eq!(s.nth_cut(b"a\nb\nc\n", 2), Some(4));
        assert_eq!(s.nth_cut(b"a\nb", 2), None);
    }

    #[test]
    fn cuts_between_recend_and_recstart() {
        let s = lit("\n", ">");
        assert_eq!(s.last_cut(b">a\nx\n>b\nc"), Some(5));
        assert_eq!(s.last_cut(b">a\nx\n"), None, "recstart not seen yet");
        let start_only = lit("", ">");
        assert_eq!(start_only.last_cut(b">a>b"), Some(2));
        assert_eq!(start_only.last_cut(b">ab"), None, "a cut at 0 cuts nothing");
    }

    #[test]
    fn group_by_cuts_where_the_column_changes() {
        let s = Splitter::GroupBy {
            col: 2,
            colsep: regex::bytes::Regex::new(",").unwrap(),
        };
        let buf = b"a,x\nb,x\nc,y\nd,y\ne,z\n";
        assert_eq!(s.group_cuts(buf).collect::<Vec<_>>(), [8, 16]);
        assert_eq!(s.nth_cut(buf, 1), Some(8));
        assert_eq!(
            s.last_cut(b"a,x\nb,y"),
            None,
            "the next line is not complete"
        );
    }

    #[test]
    fn regexp_and_lines() {
        let s = Splitter::new(b"\\n", b"[0-9]", true, None).unwrap();
        assert_eq!(s.last_cut(b"1a\n2b\nx\n3"), Some(8));
        let l = Splitter::new(b"\n", b"", false, Some(2)).unwrap();
        assert_eq!(l.last_cut(b"1\n2\n3\n4"), Some(4));
        assert_eq!(l.nth_cut(b"1\n2\n3\n4\n5\n", 2), Some(8));
    }
}

/// `--rrs`: takes the record separators out of a chunk before a job gets
/// it, as GNU parallel does: every `recend recstart` between records, a
/// `recstart` at the front and a `recend` at the back (perl's `$`: at the
/// very end or before a final newline).
#[derive(Debug, Clone)]
pub struct RecSeps {
    between: regex::bytes::Regex,
    front: regex::bytes::Regex,
    back: regex::bytes::Regex,
}

impl RecSeps {
    /// The remover for `--recend end --recstart start` (regular
    /// expressions with `--regexp`, else literal bytes).
    pub fn new(end: &[u8], start: &[u8], regexp: bool) -> crate::Result<Self> {
        let pat = |b: &[u8]| {
            if regexp {
                String::from_utf8_lossy(b).into_owned()
            } else {
                b.iter().map(|c| format!("\\x{c:02x}")).collect()
            }
        };
        let (end, start) = (pat(end), pat(start));
        let re = |p: String| {
            regex::bytes::Regex::new(&p)
                .map_err(|e| crate::Error::BadRecordSeparator(e.to_string()))
        };
        Ok(RecSeps {
            between: re(format!("(?s-u)(?:{end})(?:{start})"))?,
            front: re(format!("(?s-u)\\A(?:{start})"))?,
            back: re(format!("(?s-u)(?:{end})(\n?)\\z"))?,
        })
    }

    /// `body` without its separators.
    pub fn remove(&self, body: Vec<u8>) -> Vec<u8> {
        let b = self.between.replace_all(&body, &b""[..]);
        let b = self.front.replace(&b, &b""[..]);
        self.back.replace(&b, &b"$1"[..]).into_owned()
    }
}
