//! Turning command text into tokens, once per run.

use std::sync::Arc;

use super::{Modifier, Pos, Segment, TemplateOptions, Token};
use crate::quote::quote_into;
use crate::{Error, Result};

/// Bytes that may follow `{` in a built-in replacement string.
fn is_repl_byte(b: u8) -> bool {
    b.is_ascii_digit() || matches!(b, b'-' | b'.' | b'/' | b'#' | b'%')
}

/// Parses one command word (or a `--tagstring`) and appends its tokens.
/// With `-q` the literal parts are quoted so the shell keeps them as one
/// argument each; replacement values are quoted at render time anyway.
pub(super) fn parse_word(s: &[u8], opts: &TemplateOptions, out: &mut Vec<Token>) -> Result<()> {
    let mut lit: Vec<u8> = Vec::new();
    let flush = |lit: &mut Vec<u8>, out: &mut Vec<Token>| {
        if !lit.is_empty() {
            let text = std::mem::take(lit);
            out.push(Token::Lit(if opts.quote_command {
                crate::quote::quote(&text)
            } else {
                text
            }));
        }
    };
    let start_len = out.len();
    let mut rpl: Vec<&super::Rpl> = opts.rpl.iter().collect();
    rpl.sort_by_key(|r| std::cmp::Reverse(r.tag_len()));
    let mut i = 0;
    while i < s.len() {
        if let Some((tok, len)) = special(&s[i..], opts, &rpl)? {
            flush(&mut lit, out);
            out.push(tok);
            i += len;
            continue;
        }
        if !opts.replace.is_empty() && s[i..].starts_with(&opts.replace) {
            flush(&mut lit, out);
            out.push(Token::Arg {
                pos: Pos::All,
                modifier: Modifier::Whole,
            });
            i += opts.replace.len();
            continue;
        }
        if s[i] == b'{' && !renamed_away(&s[i..], opts) {
            if let Some((tok, len)) = parse_brace(&s[i..], opts)? {
                flush(&mut lit, out);
                out.push(tok);
                i += len;
                continue;
            }
        }
        lit.push(s[i]);
        i += 1;
    }
    flush(&mut lit, out);
    if opts.quote_command && out.len() == start_len {
        // `-q` keeps an empty word as an empty argument.
        let mut q = Vec::new();
        quote_into(b"", &mut q);
        out.push(Token::Lit(q));
    }
    Ok(())
}

/// A perl expression, a renamed built-in or a `--rpl` tag at the start
/// of `s`, with its length.
fn special(
    s: &[u8],
    opts: &TemplateOptions,
    rpl: &[&super::Rpl],
) -> Result<Option<(Token, usize)>> {
    let (open, close) = (&opts.parens.0, &opts.parens.1);
    if !open.is_empty() && s.starts_with(open) {
        let body = &s[open.len()..];
        let Some(end) = memchr::memmem::find(body, close) else {
            return Err(Error::UnbalancedReplacement(
                String::from_utf8_lossy(&s[..s.len().min(open.len() + 20)]).into_owned(),
            ));
        };
        return Ok(Some((
            perl_token(&named_position(&body[..end], &opts.header)),
            open.len() + end + close.len(),
        )));
    }
    for (new, old) in &opts.renamed {
        if !new.is_empty() && s.starts_with(new) {
            if let Some(tok) = builtin(&old[1..old.len() - 1]) {
                return Ok(Some((tok, new.len())));
            }
        }
    }
    for r in rpl {
        if let Some(m) = r.matches(s) {
            return Ok(Some((perl_token(&m.code), m.len)));
        }
    }
    Ok(None)
}

/// `{=name expr =}` with a `--header` name first: `{=N expr =}` with the
/// name's column number, as GNU parallel reads it.
fn named_position<'a>(expr: &'a [u8], header: &[Vec<u8>]) -> std::borrow::Cow<'a, [u8]> {
    let found = header
        .iter()
        .enumerate()
        .filter(|(_, name)| {
            !name.is_empty()
                && expr.starts_with(name)
                && expr.get(name.len()).is_none_or(u8::is_ascii_whitespace)
        })
        .max_by_key(|(_, name)| name.len());
    match found {
        Some((i, name)) => {
            let mut e = (i + 1).to_string().into_bytes();
            e.push(b' ');
            e.extend_from_slice(&expr[name.len()..]);
            std::borrow::Cow::Owned(e)
        }
        None => std::borrow::Cow::Borrowed(expr),
    }
}

/// `{=N expr =}`: a leading number is the value's position (as GNU
/// parallel reads it, so `1 $_=seq()` is evaluated once).
fn perl_token(expr: &[u8]) -> Token {
    let neg = usize::from(expr.first() == Some(&b'-'));
    let digits = expr[neg..]
        .iter()
        .take_while(|b| b.is_ascii_digit())
        .count();
    let n = std::str::from_utf8(&expr[neg..neg + digits])
        .ok()
        .and_then(|d| d.parse().ok());
    let (pos, code) = match n {
        Some(n) if digits > 0 => {
            let rest = &expr[neg + digits..];
            let rest = &rest[rest.iter().take_while(|b| **b == b' ').count()..];
            let pos = if neg == 1 {
                Pos::FromEnd(n)
            } else {
                Pos::Index(n)
            };
            (Some(pos), rest)
        }
        _ => (None, expr),
    };
    Token::Perl {
        pos,
        code: Arc::new(code.to_vec()),
    }
}

/// True when `s` starts with a built-in string that was given another
/// name, which makes it plain text.
fn renamed_away(s: &[u8], opts: &TemplateOptions) -> bool {
    opts.renamed.iter().any(|(_, old)| s.starts_with(old))
}

/// Parses a `{...}` at the start of `s`. `Ok(None)` means it is not a
/// replacement string (awk's `{print}`, a shell group) and stays literal.
fn parse_brace(s: &[u8], opts: &TemplateOptions) -> Result<Option<(Token, usize)>> {
    let k = s[1..].iter().take_while(|&&b| is_repl_byte(b)).count();
    if k == 0 {
        return Ok(header_name(s, opts));
    }
    match s.get(1 + k) {
        Some(b'}') => Ok(builtin(&s[1..1 + k]).map(|t| (t, k + 2))),
        Some(b':') if s.get(2 + k) == Some(&b'%') => Ok(formatted(s, k)),
        Some(b' ' | b'\t' | b'\n') if spaced_positional(s, k).is_some() => {
            Ok(spaced_positional(s, k))
        }
        // `{1` at the end of a word: a replacement string left open.
        None | Some(b' ' | b'\t' | b'\n') => Err(Error::UnbalancedReplacement(
            String::from_utf8_lossy(&s[..1 + k]).into_owned(),
        )),
        Some(_) => Ok(None),
    }
}

/// A positional string with whitespace after its number, `{1 .}` or
/// `{1` newline `}`, which GNU parallel reads as `{1.}` and `{1}`.
fn spaced_positional(s: &[u8], k: usize) -> Option<(Token, usize)> {
    let num = &s[1..1 + k];
    let digits = num.strip_prefix(b"-").unwrap_or(num);
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let ws = s[1 + k..]
        .iter()
        .take_while(|b| b.is_ascii_whitespace())
        .count();
    let at = 1 + k + ws;
    let m = s[at..]
        .iter()
        .take_while(|&&b| is_repl_byte(b) && !b.is_ascii_digit())
        .count();
    if s.get(at + m) != Some(&b'}') {
        return None;
    }
    let inner = [num, &s[at..at + m]].concat();
    builtin(&inner).map(|t| (t, at + m + 1))
}

/// A built-in string with a format, `{#:%05d}` `{2.:%10s}`: evaluated in
/// perl as GNU parallel does.
fn formatted(s: &[u8], k: usize) -> Option<(Token, usize)> {
    let close = 1 + k + memchr::memchr(b'}', &s[1 + k..])?;
    let (pos, mut code) = match builtin(&s[1..1 + k])? {
        Token::Seq => (Some(Pos::Index(1)), b"$_ = seq()".to_vec()),
        Token::Slot => (Some(Pos::Index(1)), b"$_ = slot()".to_vec()),
        Token::Arg { pos, modifier } => {
            let pos = (pos != Pos::All).then_some(pos);
            (pos, modifier.perl().as_bytes().to_vec())
        }
        _ => return None,
    };
    super::rpl::sprintf_into(&s[2 + k..close], &mut code);
    let code = Arc::new(code);
    Some((Token::Perl { pos, code }, close + 1))
}

/// `{name}` for a `--header` column name, with the same modifiers as
/// positional strings (`{name.}`, `{name/}`, `{name//}`, `{name/.}`).
fn header_name(s: &[u8], opts: &TemplateOptions) -> Option<(Token, usize)> {
    if opts.header.is_empty() {
        return None;
    }
    let close = memchr::memchr(b'}', s)?;
    let inner = &s[1..close];
    for suffix in [&b""[..], b"/.", b"//", b"/", b"."] {
        let Some(name) = inner.strip_suffix(suffix) else {
            continue;
        };
        if let Some(idx) = opts.header.iter().position(|h| h.as_slice() == name) {
            let modifier = Modifier::from_suffix(suffix)?;
            return Some((
                Token::Arg {
                    pos: Pos::Index(idx + 1),
                    modifier,
                },
                close + 1,
            ));
        }
    }
    None
}

/// The built-in replacement strings: `{#}` `{%}` `{.}` `{/}` `{//}` `{/.}`
/// and positional `{n}` `{-n}` with the same modifiers.
fn builtin(inner: &[u8]) -> Option<Token> {
    match inner {
        b"#" => return Some(Token::Seq),
        b"%" => return Some(Token::Slot),
        _ => {}
    }
    let (neg, rest) = match inner.strip_prefix(b"-") {
        Some(r) => (true, r),
        None => (false, inner),
    };
    let digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
    let modifier = Modifier::from_suffix(&rest[digits..])?;
    if digits == 0 {
        return (!neg && modifier != Modifier::Whole).then_some(Token::Arg {
            pos: Pos::All,
            modifier,
        });
    }
    // `{0}` and `{-0}` name no value: they render empty, as in GNU
    // parallel (nth_value finds nothing at either).
    let n: usize = std::str::from_utf8(&rest[..digits]).ok()?.parse().ok()?;
    let pos = if neg { Pos::FromEnd(n) } else { Pos::Index(n) };
    Some(Token::Arg { pos, modifier })
}

/// Splits literal tokens at whitespace so that words stand apart.
pub(super) fn segments(tokens: Vec<Token>) -> Vec<Segment> {
    let mut segs = Vec::new();
    let mut word: Vec<Token> = Vec::new();
    let mut quote: Option<u8> = None;
    for tok in tokens {
        let Token::Lit(bytes) = tok else {
            word.push(tok);
            continue;
        };
        let mut start = 0;
        let mut i = 0;
        while i < bytes.len() {
            let b = bytes[i];
            match quote {
                // Whitespace inside '...' or "..." (from the user, or from
                // -q) belongs to the word: -X must repeat it whole.
                Some(q) if b == q => quote = None,
                Some(_) => {}
                None if b == b'\'' || b == b'"' => quote = Some(b),
                None if is_space(b) => {
                    push_lit(&mut word, &bytes[start..i]);
                    let sp = bytes[i..].iter().take_while(|b| is_space(**b)).count();
                    if !word.is_empty() {
                        segs.push(Segment::Word(std::mem::take(&mut word)));
                    }
                    segs.push(Segment::Space(bytes[i..i + sp].to_vec()));
                    i += sp;
                    start = i;
                    continue;
                }
                None => {}
            }
            i += 1;
        }
        push_lit(&mut word, &bytes[start..]);
    }
    if !word.is_empty() {
        segs.push(Segment::Word(word));
    }
    segs
}

fn push_lit(word: &mut Vec<Token>, bytes: &[u8]) {
    if bytes.is_empty() {
        return;
    }
    if let Some(Token::Lit(prev)) = word.last_mut() {
        prev.extend_from_slice(bytes);
    } else {
        word.push(Token::Lit(bytes.to_vec()));
    }
}

fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n')
}
