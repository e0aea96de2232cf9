//! Replacement strings, parsed once into tokens and rendered per job.
//!
//! A command such as `convert {} {/.}.png` becomes segments of words and
//! spaces, each word a list of [`Token`]s. Rendering a job walks the tokens;
//! nothing searches the command text again.

mod modifier;
mod parse;
mod render;

pub use modifier::Modifier;
pub use render::RenderCtx;

/// Which input value a replacement string stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pos {
    /// `{}`: every value of the job, space-separated.
    All,
    /// `{n}`: the n-th value (1-based; `{0}` is none, so empty).
    Index(usize),
    /// `{-n}`: the n-th value from the end (1-based; `{-0}` is none).
    FromEnd(usize),
}

/// One parsed piece of a command word.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Token {
    /// Bytes copied as they are.
    Lit(Vec<u8>),
    /// An input value, with a path modifier.
    Arg {
        /// Which value.
        pos: Pos,
        /// How it is transformed before quoting.
        modifier: Modifier,
    },
    /// `{#}`: the job's sequence number.
    Seq,
    /// `{%}`: the job's slot number.
    Slot,
}

/// A word (no whitespace inside literals) or the whitespace between words.
/// `-X` repeats whole words, so the template keeps them apart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Segment {
    Word(Vec<Token>),
    Space(Vec<u8>),
}

/// How a command is turned into a template.
#[derive(Debug, Clone)]
pub struct TemplateOptions {
    /// The string that stands for all values (`{}`, or `-I`'s argument).
    pub replace: Vec<u8>,
    /// `-q`: quote the command's own words too, so the shell sees them as
    /// literal arguments.
    pub quote_command: bool,
    /// Column names from `--header`, in column order: `{name}` is the
    /// column's value.
    pub header: Vec<Vec<u8>>,
    /// Append ` {}` when the command has no replacement string (off for
    /// `-N0`, where jobs take no arguments).
    pub append_missing: bool,
}

impl Default for TemplateOptions {
    fn default() -> Self {
        TemplateOptions {
            replace: b"{}".to_vec(),
            quote_command: false,
            header: Vec::new(),
            append_missing: true,
        }
    }
}

/// A command template: parse once with [`Template::from_command`], render
/// per job with [`Template::render`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    segments: Vec<Segment>,
    quote_values: bool,
}

impl Template {
    /// Builds the template of a command given as words (the command and its
    /// arguments on fanout's command line). Words are joined with spaces, as
    /// GNU parallel does; an empty command means "each input is a command".
    pub fn from_command<W: AsRef<[u8]>>(
        words: &[W],
        opts: &TemplateOptions,
    ) -> crate::Result<Self> {
        if words.is_empty() {
            let all = Token::Arg {
                pos: Pos::All,
                modifier: Modifier::Whole,
            };
            return Ok(Template {
                segments: vec![Segment::Word(vec![all])],
                quote_values: false,
            });
        }
        let mut tokens = Vec::new();
        for (i, w) in words.iter().enumerate() {
            if i > 0 {
                tokens.push(Token::Lit(b" ".to_vec()));
            }
            parse::parse_word(w.as_ref(), opts, &mut tokens)?;
        }
        let has_repl = tokens.iter().any(|t| !matches!(t, Token::Lit(_)));
        if !has_repl && opts.append_missing {
            tokens.push(Token::Lit(b" ".to_vec()));
            tokens.push(Token::Arg {
                pos: Pos::All,
                modifier: Modifier::Whole,
            });
        }
        Ok(Template {
            segments: parse::segments(tokens),
            quote_values: true,
        })
    }

    /// Builds a template whose values are inserted without quoting, as
    /// `--tagstring` uses them.
    pub fn unquoted(text: &[u8], opts: &TemplateOptions) -> crate::Result<Self> {
        let mut tokens = Vec::new();
        parse::parse_word(
            text,
            &TemplateOptions {
                quote_command: false,
                ..opts.clone()
            },
            &mut tokens,
        )?;
        Ok(Template {
            segments: parse::segments(tokens),
            quote_values: false,
        })
    }

    /// True when the template has no replacement strings: it renders the
    /// same text for every job.
    pub fn is_literal(&self) -> bool {
        self.segments.iter().all(|s| match s {
            Segment::Word(tokens) => tokens.iter().all(|t| matches!(t, Token::Lit(_))),
            _ => true,
        })
    }
}

#[cfg(test)]
mod tests;
