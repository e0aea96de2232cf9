//! Rendering a parsed template for one job.

use super::perl::{self, Answers, JobView, Value};
use super::{Pos, Segment, Template, Token};
use crate::job::{JobSeq, Record, Records, SlotId};
use crate::quote::quote_into;

/// How perl expressions are handled in a walk over the template: first
/// their values are collected (one request per job), then inserted.
enum Pass<'r, 'v> {
    /// No perl in the template.
    Plain,
    /// Collect (code, `$_`) pairs; write nothing.
    Collect(&'r mut Vec<(&'v [u8], &'v [u8])>),
    /// Insert the answers in the same order.
    Insert(&'r mut std::vec::IntoIter<Value>),
    /// Insert each value as it is: the line's length, about, without
    /// running perl (for `-s`).
    Estimate,
}

/// What rendering a job came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rendered {
    /// The command line is in the buffer.
    Line,
    /// A perl expression called `skip()`: the job is not run.
    Skip,
}

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
    /// Appends the job's command line to `out`. A perl expression that
    /// fails inserts nothing here; see [`Template::try_render`].
    pub fn render(&self, ctx: &RenderCtx<'_>, out: &mut Vec<u8>) {
        let start = out.len();
        if self.try_render(ctx, out).is_err() {
            out.truncate(start);
        }
    }

    /// Appends the job's command line to `out`, evaluating its perl
    /// expressions (all of one job in one request to the coprocess).
    pub fn try_render(&self, ctx: &RenderCtx<'_>, out: &mut Vec<u8>) -> crate::Result<Rendered> {
        if !self.has_perl() {
            self.walk(ctx, out, &mut Pass::Plain);
            return Ok(Rendered::Line);
        }
        let answers = match self.perl.take(ctx.seq) {
            Some(Ok(a)) => a,
            Some(Err(msg)) => return Err(crate::Error::Perl(msg)),
            None => self.evaluate(ctx)?.unwrap_or_default(),
        };
        if answers.skip {
            return Ok(Rendered::Skip);
        }
        let mut values = answers.values.into_iter();
        self.walk(ctx, out, &mut Pass::Insert(&mut values));
        Ok(Rendered::Line)
    }

    /// `--filter`: this template (a filter's text) rendered for the job,
    /// then judged by perl: true runs the job.
    pub fn passes(&self, ctx: &RenderCtx<'_>) -> crate::Result<bool> {
        let mut text = Vec::new();
        if self.try_render(ctx, &mut text)? == Rendered::Skip {
            return Ok(false);
        }
        perl::truth(self.job_view(ctx), &text)
    }

    /// The job as its perl expressions see it.
    fn job_view(&self, ctx: &RenderCtx<'_>) -> JobView {
        JobView {
            seq: ctx.seq.0,
            slot: ctx.slot.0,
            total: self.perl.total(),
            slots: self.perl.slots(),
            completed: self.perl.completed(),
        }
    }

    /// Evaluates the job's perl expressions, all in one request; `None`
    /// when the template has none.
    pub(crate) fn evaluate(&self, ctx: &RenderCtx<'_>) -> crate::Result<Option<Answers>> {
        if !self.has_perl() {
            return Ok(None);
        }
        let mut reqs = Vec::new();
        let mut scratch = Vec::new();
        self.walk(ctx, &mut scratch, &mut Pass::Collect(&mut reqs));
        let args: Vec<&[u8]> = ctx.records.values().collect();
        perl::eval(self.job_view(ctx), &args, &reqs).map(Some)
    }

    fn walk<'v>(&'v self, ctx: &RenderCtx<'v>, out: &mut Vec<u8>, pass: &mut Pass<'_, 'v>) {
        for seg in &self.segments {
            match seg {
                Segment::Space(s) => out.extend_from_slice(s),
                Segment::Word(toks) if ctx.context && ctx.records.len() > 1 && has_all(toks) => {
                    for (i, rec) in ctx.records.iter().enumerate() {
                        if i > 0 {
                            out.push(b' ');
                        }
                        self.render_word(toks, ctx, rec, out, pass);
                    }
                }
                Segment::Word(toks) => self.render_word(toks, ctx, ctx.records.values(), out, pass),
            }
        }
    }

    /// The length of the job's command line, with each perl expression's
    /// input standing for its value: `-s` measures lines before their jobs
    /// exist, and an expression must run once per job, when it starts.
    pub fn line_len(&self, ctx: &RenderCtx<'_>) -> usize {
        let mut out = Vec::with_capacity(64);
        self.walk(ctx, &mut out, &mut Pass::Estimate);
        out.len()
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
                self.render_word(toks, &ctx, vals.clone(), &mut scratch, &mut Pass::Plain);
                cost += scratch.len() + 1;
                continue;
            }
            for t in toks {
                // A perl expression's value is not known before the job
                // renders; its input's length stands for it.
                let modifier = match t {
                    Token::Arg {
                        pos: Pos::All,
                        modifier,
                    } => *modifier,
                    Token::Perl { pos: None, .. } => super::Modifier::Whole,
                    _ => continue,
                };
                scratch.clear();
                self.push_values(vals.clone(), modifier, &mut scratch);
                cost += scratch.len() + 1;
            }
        }
        cost
    }

    /// Renders one word with `vals` as the job's values (all of them, or
    /// one record's under `-X`).
    fn render_word<'v, V>(
        &self,
        toks: &'v [Token],
        ctx: &RenderCtx<'_>,
        vals: V,
        out: &mut Vec<u8>,
        pass: &mut Pass<'_, 'v>,
    ) where
        V: ExactSizeIterator<Item = &'v [u8]> + Clone,
    {
        for t in toks {
            match t {
                Token::Perl { pos: None, code } => {
                    for (i, v) in vals.clone().enumerate() {
                        if i > 0 {
                            out.extend_from_slice(self.join);
                        }
                        self.perl_value(code, self.trim.apply(v), out, pass);
                    }
                }
                Token::Perl { pos: Some(p), code } => {
                    let v = nth_value(vals.clone(), *p).unwrap_or(b"");
                    self.perl_value(code, self.trim.apply(v), out, pass);
                }
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
                        self.push_value(modifier.apply(self.trim.apply(v)), out);
                    }
                }
            }
        }
    }

    /// One evaluation of `code` on `v`: asked for, or inserted.
    fn perl_value<'v>(
        &self,
        code: &'v [u8],
        v: &'v [u8],
        out: &mut Vec<u8>,
        pass: &mut Pass<'_, 'v>,
    ) {
        match pass {
            Pass::Plain => {}
            Pass::Estimate => self.push_value(v, out),
            Pass::Collect(reqs) => reqs.push((code, v)),
            Pass::Insert(values) => {
                if let Some(value) = values.next() {
                    if value.unquoted {
                        out.extend_from_slice(&value.bytes);
                    } else {
                        self.push_value(&value.bytes, out);
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
                out.extend_from_slice(self.join);
            }
            self.push_value(m.apply(self.trim.apply(v)), out);
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
