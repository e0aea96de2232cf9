//! Rendering a parsed template for one job.

use super::{Pos, Segment, Template, Token};
use crate::job::{JobSeq, Record, Records, SlotId};
use crate::quote::quote_into;

/// What a job contributes to its command line.
#[derive(Debug, Clone, Copy)]
pub struct RenderCtx<'a> {
    /// The job's records (one, or several when batching).
    pub records: &'a Records,
    /// `{#}`.
    pub seq: JobSeq,
    /// `{%}`.
    pub slot: SlotId,
    /// `-X`: a word holding `{}` is repeated once per record.
    pub context: bool,
}

impl Template {
    /// Appends the job's command line to `out`.
    pub fn render(&self, ctx: &RenderCtx<'_>, out: &mut Vec<u8>) {
        for seg in &self.segments {
            match seg {
                Segment::Space(s) => out.extend_from_slice(s),
                Segment::Word(toks) if ctx.context && ctx.records.len() > 1 && has_all(toks) => {
                    for (i, rec) in ctx.records.iter().enumerate() {
                        if i > 0 {
                            out.push(b' ');
                        }
                        self.render_word(toks, ctx, rec, out);
                    }
                }
                Segment::Word(toks) => self.render_word(toks, ctx, ctx.records.values(), out),
            }
        }
    }

    /// Renders to a new vector; see [`Template::render`].
    pub fn render_vec(&self, ctx: &RenderCtx<'_>) -> Vec<u8> {
        let mut out = Vec::with_capacity(64);
        self.render(ctx, &mut out);
        out
    }

    /// How many bytes adding `rec` to a batch adds to the command line, for
    /// `-s`: each `{}` grows by the record's values (or, under `-X`, by
    /// another copy of its word), plus a separating space.
    pub fn arg_cost(&self, rec: &Record, context: bool) -> usize {
        let empty = Records::new();
        let ctx = RenderCtx {
            records: &empty,
            seq: JobSeq(0),
            slot: SlotId(0),
            context: false,
        };
        let vals = rec.iter().map(Vec::as_slice);
        let mut scratch = Vec::new();
        let mut cost = 0;
        for seg in &self.segments {
            let Segment::Word(toks) = seg else { continue };
            if context && has_all(toks) {
                scratch.clear();
                self.render_word(toks, &ctx, vals.clone(), &mut scratch);
                cost += scratch.len() + 1;
                continue;
            }
            for t in toks {
                if let Token::Arg {
                    pos: Pos::All,
                    modifier,
                } = t
                {
                    scratch.clear();
                    self.push_values(vals.clone(), *modifier, &mut scratch);
                    cost += scratch.len() + 1;
                }
            }
        }
        cost
    }

    /// Renders one word with `vals` as the job's values (all of them, or
    /// one record's under `-X`).
    fn render_word<'v, V>(&self, toks: &[Token], ctx: &RenderCtx<'_>, vals: V, out: &mut Vec<u8>)
    where
        V: ExactSizeIterator<Item = &'v [u8]> + Clone,
    {
        for t in toks {
            match t {
                Token::Lit(b) => out.extend_from_slice(b),
                Token::Seq => push_num(ctx.seq.0, out),
                Token::Slot => push_num(u64::from(ctx.slot.0), out),
                Token::Arg {
                    pos: Pos::All,
                    modifier,
                } => self.push_values(vals.clone(), *modifier, out),
                Token::Arg { pos, modifier } => {
                    // A position past the job's values is empty, unquoted,
                    // as GNU parallel renders it under -N.
                    if let Some(v) = nth_value(vals.clone(), *pos) {
                        self.push_value(modifier.apply(v), out);
                    }
                }
            }
        }
    }

    fn push_values<'v>(
        &self,
        vals: impl Iterator<Item = &'v [u8]>,
        m: super::Modifier,
        out: &mut Vec<u8>,
    ) {
        for (i, v) in vals.enumerate() {
            if i > 0 {
                out.push(b' ');
            }
            self.push_value(m.apply(v), out);
        }
    }

    fn push_value(&self, v: &[u8], out: &mut Vec<u8>) {
        if self.quote_values {
            quote_into(v, out);
        } else {
            out.extend_from_slice(v);
        }
    }
}

fn has_all(toks: &[Token]) -> bool {
    toks.iter()
        .any(|t| matches!(t, Token::Arg { pos: Pos::All, .. }))
}

/// The n-th value of the job, counting every column of every record.
fn nth_value<'v>(mut vals: impl ExactSizeIterator<Item = &'v [u8]>, pos: Pos) -> Option<&'v [u8]> {
    let total = vals.len();
    let idx = match pos {
        Pos::All => return None,
        Pos::Index(n) => n.checked_sub(1)?,
        Pos::FromEnd(n) => total.checked_sub(n)?,
    };
    vals.nth(idx)
}

fn push_num(n: u64, out: &mut Vec<u8>) {
    use std::io::Write;
    let _ = write!(out, "{n}");
}
