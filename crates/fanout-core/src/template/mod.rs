//! Replacement strings, parsed once into tokens and rendered per job.
//!
//! A command such as `convert {} {/.}.png` becomes segments of words and
//! spaces, each word a list of [`Token`]s. Rendering a job walks the tokens;
//! nothing searches the command text again.

mod modifier;
mod parse;
pub(crate) mod perl;
mod render;
mod rpl;

use std::sync::Arc;

pub use modifier::Modifier;
pub use render::{RenderCtx, Rendered};
pub use rpl::{plus, Rpl};

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
    /// `{= perl =}` (or a `--rpl` tag standing for one): `$_` is each value
    /// of the job in turn (`None`), or one value (`{=2 ... =}`), and what
    /// the expression leaves in it is inserted.
    Perl {
        /// Which value: `None` for each.
        pos: Option<Pos>,
        /// The expression.
        code: Arc<Vec<u8>>,
    },
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
    /// What opens and closes a perl expression (`--parens`).
    pub parens: (Vec<u8>, Vec<u8>),
    /// `--rpl` and `--plus` strings, tried longest tag first.
    pub rpl: Vec<Rpl>,
    /// `--trim`: whitespace taken off values.
    pub trim: Trim,
    /// Built-in strings under other names (`-U`, `--basenamereplace`, ...):
    /// (new name, built-in name). The built-in name is then plain text.
    pub renamed: Vec<(Vec<u8>, Vec<u8>)>,
}

impl Default for TemplateOptions {
    fn default() -> Self {
        TemplateOptions {
            replace: b"{}".to_vec(),
            quote_command: false,
            header: Vec::new(),
            append_missing: true,
            parens: (b"{=".to_vec(), b"=}".to_vec()),
            rpl: Vec::new(),
            renamed: Vec::new(),
            trim: Trim::None,
        }
    }
}

/// A command template: parse once with [`Template::from_command`], render
/// per job with [`Template::render`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    segments: Vec<Segment>,
    quote_values: bool,
    perl: perl::RunState,
    trim: Trim,
    /// Between the values `{}` stands for: a space; nothing in a `--tmpl`
    /// file, as GNU parallel renders one.
    join: &'static [u8],
}

/// `--trim`: whitespace taken off values before they are used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Trim {
    /// `n`: values as they are (the default without `--colsep`).
    #[default]
    None,
    /// `l`: off the left.
    Left,
    /// `r`: off the right.
    Right,
    /// `lr`/`rl`: off both sides (the default with `--colsep`).
    Both,
}

impl Trim {
    /// `n`, `l`, `r`, `lr` or `rl`.
    pub fn parse(s: &str) -> Option<Trim> {
        Some(match s {
            "n" => Trim::None,
            "l" => Trim::Left,
            "r" => Trim::Right,
            "lr" | "rl" => Trim::Both,
            _ => return None,
        })
    }

    /// `v` trimmed (perl's `\s`: space, tab, newline, CR, FF, VT).
    pub fn apply(self, v: &[u8]) -> &[u8] {
        let ws = |b: &u8| matches!(b, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c);
        let v = match self {
            Trim::Left | Trim::Both => &v[v.iter().take_while(|b| ws(b)).count()..],
            _ => v,
        };
        match self {
            Trim::Right | Trim::Both => {
                &v[..v.len() - v.iter().rev().take_while(|b| ws(b)).count()]
            }
            _ => v,
        }
    }
}

/// True when a replacement string comes before the first space, tab,
/// newline or `=` of the command.
fn in_first_word(tokens: &[Token]) -> bool {
    for t in tokens {
        match t {
            Token::Lit(b) if b.iter().any(|c| matches!(c, b' ' | b'\t' | b'\n' | b'=')) => {
                return false
            }
            Token::Lit(_) => {}
            _ => return true,
        }
    }
    false
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
                perl: perl::RunState::default(),
                trim: opts.trim,
                join: b" ",
            });
        }
        let mut tokens = Vec::new();
        if opts.quote_command {
            // -q quotes each word for itself.
            for (i, w) in words.iter().enumerate() {
                if i > 0 {
                    tokens.push(Token::Lit(b" ".to_vec()));
                }
                parse::parse_word(w.as_ref(), opts, &mut tokens)?;
            }
        } else {
            // As GNU parallel: the words are one command line, so a
            // `{= ... =}` may span several of them.
            let line: Vec<&[u8]> = words.iter().map(AsRef::as_ref).collect();
            parse::parse_word(&line.join(&b' '), opts, &mut tokens)?;
        }
        let has_repl = tokens.iter().any(|t| !matches!(t, Token::Lit(_)));
        if !has_repl && opts.append_missing {
            tokens.push(Token::Lit(b" ".to_vec()));
            tokens.push(Token::Arg {
                pos: Pos::All,
                modifier: Modifier::Whole,
            });
        }
        // As GNU parallel: when a replacement string is (part of) the
        // command's first word (`{}`, `my_{= s/_// =}`, `{2}`), values are
        // inserted unquoted, so an input such as `ls /bin` is a command line.
        let quote_values = opts.quote_command || !in_first_word(&tokens);
        Ok(Template {
            segments: parse::segments(tokens),
            quote_values,
            perl: perl::RunState::default(),
            trim: opts.trim,
            join: b" ",
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
            perl: perl::RunState::default(),
            trim: opts.trim,
            join: b" ",
        })
    }

    /// A `--tmpl` file's text: like [`Template::unquoted`], but the values
    /// `{}` stands for are run together, as GNU parallel writes them.
    pub fn file_text(text: &[u8], opts: &TemplateOptions) -> crate::Result<Self> {
        let opts = TemplateOptions {
            append_missing: false,
            ..opts.clone()
        };
        let mut t = Template::unquoted(text, &opts)?;
        t.join = b"";
        Ok(t)
    }

    /// The perl expressions in the template.
    fn perl_codes(&self) -> impl Iterator<Item = &[u8]> {
        self.segments
            .iter()
            .flat_map(|s| match s {
                Segment::Word(tokens) => tokens.as_slice(),
                Segment::Space(_) => &[],
            })
            .filter_map(|t| match t {
                Token::Perl { code, .. } => Some(code.as_slice()),
                _ => None,
            })
    }

    /// True when a job's line is the same in every slot: no `{%}` and no
    /// perl expression (one may ask for the slot, or give another answer
    /// each time it runs).
    pub fn same_in_every_slot(&self) -> bool {
        !self.has_perl()
            && self.segments.iter().all(|s| match s {
                Segment::Word(tokens) => !tokens.contains(&Token::Slot),
                Segment::Space(_) => true,
            })
    }

    /// True when the template has a `{= perl =}` expression.
    pub fn has_perl(&self) -> bool {
        self.perl_codes().next().is_some()
    }

    /// True when the expressions may be evaluated before the job has a
    /// slot (in the input thread, ahead of its start): none mentions it.
    fn evaluable_ahead(&self) -> bool {
        self.has_perl()
            && self.perl_codes().all(|c| {
                // Known only when the job starts.
                memchr::memmem::find(c, b"slot").is_none()
                    && memchr::memmem::find(c, b"total_completed").is_none()
            })
    }

    /// True when an expression asks for the number of jobs, which is then
    /// to be known before the first job starts (as GNU parallel reads all
    /// input first for `{##}`).
    pub fn needs_total(&self) -> bool {
        self.perl_codes()
            .any(|c| memchr::memmem::find(c, b"total_jobs").is_some())
    }

    /// Compiles the template's perl expressions (starting the perl
    /// coprocess), so that a bad expression or a missing perl stops the
    /// run before any job starts.
    pub fn prepare(&self) -> crate::Result<()> {
        for code in self.perl_codes() {
            perl::compile(code)?;
        }
        Ok(())
    }

    /// Tells the template the run's number of jobs (`total_jobs()`) and of
    /// slots (`{0%}`), when known.
    pub fn know_run(&self, total: Option<u64>, slots: usize) {
        self.perl.know_run(total, slots);
    }

    /// Counts `n` more ended jobs, for `$Global::total_completed` (the
    /// engine counts each job that ends; a resumed run starts from the
    /// jobs its log holds).
    pub fn add_completed(&self, n: u64) {
        self.perl.add_completed(n);
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
