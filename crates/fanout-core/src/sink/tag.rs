//! `--tag` and `--tagstring`: a prefix on every output line.

use crate::job::{JobSeq, Records, SlotId};
use crate::template::{RenderCtx, Template};

/// What goes before each output line.
#[derive(Debug, Clone)]
pub enum Tag {
    /// `--tag`: the job's arguments, space-separated, then a TAB.
    Args,
    /// `--tagstring STR`: the string with replacement strings expanded
    /// (unquoted), then a TAB.
    Template(Template),
}

impl Tag {
    /// The prefix for a job.
    pub fn prefix(&self, seq: JobSeq, slot: SlotId, args: &Records) -> Vec<u8> {
        let mut out = match self {
            Tag::Args => args.values().collect::<Vec<_>>().join(&b' '),
            Tag::Template(t) => {
                // All the values as one record, as GNU parallel renders
                // --tagstring.
                let recs = Records::one(args.values());
                t.render_vec(&RenderCtx {
                    records: &recs,
                    seq,
                    slot,
                    context: false,
                })
            }
        };
        out.push(b'\t');
        out
    }
}

/// Appends `data` to `out` with `prefix` before every line. `at_start`
/// carries across calls whether the next byte begins a line.
pub(crate) fn tagged(prefix: &[u8], data: &[u8], at_start: &mut bool, out: &mut Vec<u8>) {
    let mut rest = data;
    while !rest.is_empty() {
        if *at_start {
            out.extend_from_slice(prefix);
        }
        match memchr::memchr(b'\n', rest) {
            Some(i) => {
                out.extend_from_slice(&rest[..=i]);
                rest = &rest[i + 1..];
                *at_start = true;
            }
            None => {
                out.extend_from_slice(rest);
                *at_start = false;
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn prefixes_every_line_across_chunks() {
        let mut out = Vec::new();
        let mut start = true;
        super::tagged(b"T\t", b"a\nb", &mut start, &mut out);
        super::tagged(b"T\t", b"c\nd\n", &mut start, &mut out);
        assert_eq!(out, b"T\ta\nT\tbc\nT\td\n");
    }
}
