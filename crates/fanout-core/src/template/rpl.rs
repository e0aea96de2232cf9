//! User-defined replacement strings (`--rpl 'TAG perl'`) and the ones
//! `--plus` adds, each a perl expression. A tag in braces may carry a
//! regexp group (`{:(\d+)}`), whose captures the expression reads as
//! `$$1`, `$$2`; it may be positional (`{2..}`) and take a format
//! (`{..:%10s}`), as in GNU parallel.

use regex::bytes::Regex;

use crate::{Error, Result};

/// One `--rpl` definition, ready to match command text.
#[derive(Debug, Clone)]
pub struct Rpl {
    tag: Vec<u8>,
    code: Vec<u8>,
    /// For a tag in braces: `{`, a position, the tag's inside, a format, `}`.
    braced: Option<Regex>,
}

impl PartialEq for Rpl {
    fn eq(&self, other: &Self) -> bool {
        self.tag == other.tag && self.code == other.code
    }
}

impl Eq for Rpl {}

/// What a tag matched: how long it is, its position, and the perl code it
/// stands for (captures and format folded in).
pub(super) struct Matched {
    pub len: usize,
    pub code: Vec<u8>,
}

impl Rpl {
    /// `--rpl 'TAG perl-expression'`: the tag ends at the first whitespace.
    pub fn parse(def: &[u8]) -> Result<Rpl> {
        let split = def.iter().position(u8::is_ascii_whitespace);
        let (tag, code) = match split {
            Some(i) => (&def[..i], &def[i + 1..]),
            None => (def, &b""[..]),
        };
        Rpl::new(tag, code)
    }

    /// A definition of `tag` as `code`.
    pub fn new(tag: &[u8], code: &[u8]) -> Result<Rpl> {
        if tag.is_empty() {
            return Err(Error::Perl(
                "--rpl needs a tag before its expression".into(),
            ));
        }
        let braced = match (tag.first(), tag.last()) {
            (Some(b'{'), Some(b'}')) if tag.len() >= 2 => {
                Some(brace_regex(&tag[1..tag.len() - 1])?)
            }
            _ => None,
        };
        Ok(Rpl {
            tag: tag.to_vec(),
            code: code.to_vec(),
            braced,
        })
    }

    /// The tag's length, longest tags being tried first.
    pub(super) fn tag_len(&self) -> usize {
        self.tag.len()
    }

    /// Matches the tag at the start of `s`.
    pub(super) fn matches(&self, s: &[u8]) -> Option<Matched> {
        let Some(re) = &self.braced else {
            return s.starts_with(&self.tag).then(|| Matched {
                len: self.tag.len(),
                code: self.code.clone(),
            });
        };
        let caps = re.captures(s)?;
        let mut code = Vec::new();
        if let Some(pos) = caps.name("pos") {
            code.extend_from_slice(pos.as_bytes());
            code.push(b' ');
        }
        // The captures are set as perl strings before the expression, whose
        // `$$N` names them.
        let groups = caps.len().saturating_sub(3);
        for g in 1..=groups {
            let v = caps
                .name(&format!("g{g}"))
                .map_or(&b""[..], |m| m.as_bytes());
            code.extend_from_slice(format!("$fanout_g{g} = \"").as_bytes());
            perl_quote_into(v, &mut code);
            code.extend_from_slice(b"\";");
        }
        code.extend_from_slice(&dollar_groups(&self.code));
        if let Some(f) = caps.name("fmt") {
            sprintf_into(&f.as_bytes()[1..], &mut code);
        }
        Some(Matched {
            len: caps.get(0).map_or(0, |m| m.end()),
            code,
        })
    }
}

/// The regexp of a braced tag's inside: `{`, an optional position, the
/// prefix, the tag's own groups (renamed `g1`, `g2`, ...), the postfix, an
/// optional `:%format`, `}`.
fn brace_regex(inner: &[u8]) -> Result<Regex> {
    let inner = String::from_utf8_lossy(inner);
    let (prefix, group, postfix) = match (inner.find('('), inner.rfind(')')) {
        (Some(a), Some(b)) if a < b => (&inner[..a], &inner[a..=b], &inner[b + 1..]),
        _ => (&inner[..], "", ""),
    };
    let group = name_groups(group);
    let re = format!(
        r"^\{{(?P<pos>-?\d+)?\s*{}{group}{}(?P<fmt>:%[^}}]*?)?\}}",
        regex::escape(prefix),
        regex::escape(postfix)
    );
    Regex::new(&re).map_err(|e| Error::Perl(format!("--rpl tag {{{inner}}}: {e}")))
}

/// Names a tag's capturing groups `g1`, `g2`, ... in order, so that they
/// are told from the position and format groups.
fn name_groups(re: &str) -> String {
    let mut out = String::new();
    let (mut n, mut escaped) = (0, false);
    let bytes: Vec<char> = re.chars().collect();
    for (i, &c) in bytes.iter().enumerate() {
        out.push(c);
        if escaped {
            escaped = false;
            continue;
        }
        match c {
            '\\' => escaped = true,
            '(' if bytes.get(i + 1) != Some(&'?') => {
                n += 1;
                out.push_str(&format!("?P<g{n}>"));
            }
            _ => {}
        }
    }
    out
}

/// `$$N` in an expression names the tag's N-th capture.
fn dollar_groups(code: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(code.len());
    let mut i = 0;
    while i < code.len() {
        if code[i..].starts_with(b"$$") && code.get(i + 2).is_some_and(u8::is_ascii_digit) {
            let d = code[i + 2..]
                .iter()
                .take_while(|b| b.is_ascii_digit())
                .count();
            out.extend_from_slice(b"${fanout_g");
            out.extend_from_slice(&code[i + 2..i + 2 + d]);
            out.push(b'}');
            i += 2 + d;
        } else {
            out.push(code[i]);
            i += 1;
        }
    }
    out
}

/// `;$_ = sprintf('FORMAT', $_);` for a `:%...` format.
pub(super) fn sprintf_into(format: &[u8], code: &mut Vec<u8>) {
    code.extend_from_slice(b";$_ = sprintf(\"");
    perl_quote_into(format, code);
    code.extend_from_slice(b"\", $_);");
}

/// Bytes as the inside of a perl double-quoted string.
fn perl_quote_into(v: &[u8], out: &mut Vec<u8>) {
    for &b in v {
        match b {
            b'\\' | b'"' | b'$' | b'@' => {
                out.push(b'\\');
                out.push(b);
            }
            b'\n' => out.extend_from_slice(b"\\n"),
            _ => out.push(b),
        }
    }
}

/// The replacement strings `--plus` adds, as GNU parallel defines them
/// (each a perl expression; `1 ` evaluates it once, on the first value).
pub fn plus() -> Vec<Rpl> {
    const PLUS: &[(&str, &str)] = &[
        // {} = {+/}/{/} = {.}.{+.} = {..}.{+..} = {...}.{+...}
        ("{+/}", r"s:/[^/]*$:: || s:.*$::"),
        ("{+.}", r"s:.*\.:: || s:.*$::"),
        ("{+..}", r"s:.*\.([^/.]*\.[^/.]*)$:$1: || s:.*$::"),
        ("{+...}", r"s:.*\.([^/.]*\.[^/.]*\.[^/.]*)$:$1: || s:.*$::"),
        ("{..}", r"s:\.[^/.]*\.[^/.]*$::"),
        ("{...}", r"s:\.[^/.]*\.[^/.]*\.[^/.]*$::"),
        ("{/..}", r"s:.*/::; s:\.[^/.]*\.[^/.]*$::"),
        ("{/...}", r"s:.*/::; s:\.[^/.]*\.[^/.]*\.[^/.]*$::"),
        (
            "{choose_k}",
            r"for $t (2..$#arg) { if ($arg[$t-1] ge $arg[$t]) { skip() } }",
        ),
        ("{uniq}", r"if (uniq(@arg[1..$#arg]) != $#arg) { skip() }"),
        ("{##}", r"1 $_ = total_jobs()"),
        (
            "{0#}",
            r#"1 $f = 1 + int(log(total_jobs() || 1) / log(10)); $_ = sprintf("%0${f}d", seq())"#,
        ),
        (
            "{0%}",
            r#"1 $f = 1 + int(log($fanout_slots || 1) / log(10)); $_ = sprintf("%0${f}d", slot())"#,
        ),
        ("{seq(.*?)}", r"$_ = eval(seq() . qq{$$1})"),
        ("{slot(.*?)}", r"$_ = eval(slot() . qq{$$1})"),
        // Bash's ${a:-x} ${a:2} ${a:2:3} ${a#x} ${a##x} ${a%x} ${a%%x}
        // ${a/x/y} ${a/#x/y} ${a/%x/y} ${a//x/y} ${a^x} ${a^^x} ${a,x} ${a,,x}
        ("{:-([^}]+?)}", r"$_ ||= $$1"),
        (r"{:(\d+?)}", r#"substr($_, 0, $$1) = """#),
        (r"{:(\d+?):(\d+?)}", r"$_ = substr($_, $$1, $$2);"),
        (
            "{#((?:[^#}:]|:[^%])[^}]*?)}",
            r"$ng = make_regexp_ungreedy($$1); s/^$ng(.*)/$1/;",
        ),
        ("{##([^#}][^}]*?)}", r"s/^$$1//;"),
        (
            "{%([^}]+?)}",
            r"$ng = make_regexp_ungreedy($$1); s/(.*)$ng$/$1/;",
        ),
        ("{%%([^}]+?)}", r"s/$$1$//;"),
        ("{/([^#%}/]+?)/([^}]*?)}", r"s/$$1/$$2/;"),
        ("{/#([^}]+?)/([^}]*?)}", r"s/^$$1/$$2/g;"),
        ("{/%([^}]+?)/([^}]*?)}", r"s/$$1$/$$2/g;"),
        ("{//([^}]+?)/([^}]*?)}", r"s/$$1/$$2/g;"),
        ("{^([^}]+?)}", r"s/^($$1)/uc($1)/e;"),
        ("{^^([^}]+?)}", r"s/($$1)/uc($1)/eg;"),
        ("{,([^}]+?)}", r"s/^($$1)/lc($1)/e;"),
        ("{,,([^}]+?)}", r"s/($$1)/lc($1)/eg;"),
        // The job's slot and host, as the shell expands them.
        ("{slot}", r#"1 $_ = "\${PARALLEL_JOBSLOT}"; uq()"#),
        ("{host}", r#"1 $_ = "\${PARALLEL_SSHHOST}"; uq()"#),
        ("{sshlogin}", r#"1 $_ = "\${PARALLEL_SSHLOGIN}"; uq()"#),
        ("{hgrp}", r#"1 $_ = "\${PARALLEL_HOSTGROUPS}"; uq()"#),
        ("{agrp}", r#"1 $_ = "\${PARALLEL_ARGHOSTGROUPS}"; uq()"#),
    ];
    PLUS.iter()
        .map(|(tag, code)| Rpl::new(tag.as_bytes(), code.as_bytes()).expect("valid --plus tag"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_grouped_tag_sets_its_captures_before_the_expression() {
        let r = Rpl::parse(br"{:(\d+?):(\d+?)} $_ = substr($_, $$1, $$2);").unwrap();
        let m = r.matches(b"{:2:3} rest").unwrap();
        assert_eq!(m.len, 6);
        assert_eq!(
            String::from_utf8(m.code).unwrap(),
            r#"$fanout_g1 = "2";$fanout_g2 = "3";$_ = substr($_, ${fanout_g1}, ${fanout_g2});"#
        );
    }

    #[test]
    fn a_braced_tag_is_positional_and_takes_a_format() {
        let r = Rpl::parse(br"{..} s:\.[^/.]*\.[^/.]*$::").unwrap();
        let m = r.matches(b"{2..:%10s}").unwrap();
        assert_eq!(m.len, 10);
        let code = String::from_utf8(m.code).unwrap();
        assert!(code.starts_with("2 s:"), "{code}");
        assert!(code.ends_with(r#";$_ = sprintf("%10s", $_);"#), "{code}");
        assert!(r.matches(b"{.}").is_none());
    }

    #[test]
    fn every_plus_tag_compiles_as_a_regexp() {
        assert!(plus().len() > 30);
    }
}
