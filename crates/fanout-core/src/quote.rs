//! Shell quoting as GNU parallel does it, and the reverse: deciding whether
//! a composed command line needs a shell at all, and splitting it into argv
//! when it does not.
//!
//! Values are quoted with single quotes (`'it'"'"'s'`), which any Bourne
//! shell reads back byte for byte, so a line that holds nothing but plain
//! words and such quotes can be executed directly with the same result.

use crate::job::Records;

/// True for bytes GNU parallel leaves unquoted: `[-_.+a-zA-Z0-9/]`.
fn is_plain(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'+' | b'/')
}

/// Appends `value` to `out`, shell-quoted exactly as GNU parallel 20221122
/// quotes for Bourne shells: plain values unchanged, the empty value as
/// `''`, anything else in single quotes with each `'` written as `'"'"'`.
pub fn quote_into(value: &[u8], out: &mut Vec<u8>) {
    if value.is_empty() {
        out.extend_from_slice(b"''");
        return;
    }
    if value.iter().all(|&b| is_plain(b)) {
        out.extend_from_slice(value);
        return;
    }
    // Quote runs between single quotes; a run of quotes becomes "'''" so
    // the result matches GNU's `s/'+/'"$&"'/g` then trimming of empty ''.
    let mut rest = value;
    while !rest.is_empty() {
        let n = rest.iter().take_while(|&&b| b != b'\'').count();
        if n > 0 {
            out.push(b'\'');
            out.extend_from_slice(&rest[..n]);
            out.push(b'\'');
        }
        rest = &rest[n..];
        let q = rest.iter().take_while(|&&b| b == b'\'').count();
        if q > 0 {
            out.push(b'"');
            out.extend_from_slice(&rest[..q]);
            out.push(b'"');
            rest = &rest[q..];
        }
    }
}

/// Returns `value` shell-quoted; see [`quote_into`].
pub fn quote(value: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(value.len() + 2);
    quote_into(value, &mut out);
    out
}

/// Words that mean something only to a shell: keywords, and builtins that
/// have no external twin or whose twin behaves differently (`echo`,
/// `kill`). A line starting with one of them goes to the shell.
const SHELL_ONLY: &[&[u8]] = &[
    b"!",
    b".",
    b":",
    b"[[",
    b"alias",
    b"bg",
    b"break",
    b"builtin",
    b"case",
    b"cd",
    b"command",
    b"continue",
    b"declare",
    b"do",
    b"done",
    b"elif",
    b"else",
    b"esac",
    b"eval",
    b"exec",
    b"exit",
    b"export",
    b"fc",
    b"fg",
    b"fi",
    b"for",
    b"function",
    b"getopts",
    b"hash",
    b"if",
    b"jobs",
    b"kill",
    b"let",
    b"local",
    b"read",
    b"readonly",
    b"return",
    b"select",
    b"set",
    b"shift",
    b"source",
    b"then",
    b"time",
    b"times",
    b"trap",
    b"type",
    b"typeset",
    b"ulimit",
    b"umask",
    b"unalias",
    b"unset",
    b"until",
    b"wait",
    b"while",
];

/// Splits a composed command line into argv when a shell would read it as
/// plain words, or returns `None` when it needs a shell.
///
/// Accepted: unquoted bytes that no shell treats specially, single-quoted
/// strings, and double-quoted strings without `$`, `` ` ``, `\` or `!`;
/// words separated by spaces or tabs. Anything else (redirections, pipes,
/// globs, variables, `~`, assignments, keywords) returns `None`.
pub fn split_simple(line: &[u8]) -> Option<Vec<Vec<u8>>> {
    split_words(line).map(|w| w.values().map(<[u8]>::to_vec).collect())
}

/// [`split_simple`], the words packed one per record: a `-X` line splits
/// into tens of thousands of words, which as vectors would cost ~56
/// bytes each besides their own (held while the job is spawned).
pub(crate) fn split_words(line: &[u8]) -> Option<Records> {
    let mut words = Records::new();
    // The word being read (`in_word`: even if still empty, as `''`).
    let mut word = Vec::new();
    let mut in_word = false;
    let mut i = 0;
    while i < line.len() {
        let b = line[i];
        match b {
            b' ' | b'\t' => {
                if std::mem::take(&mut in_word) {
                    words.push_values([word.as_slice()]);
                    word.clear();
                }
                i += 1;
                continue;
            }
            b'\'' => {
                let end = memchr::memchr(b'\'', &line[i + 1..])? + i + 1;
                word.extend_from_slice(&line[i + 1..end]);
                i = end + 1;
            }
            b'"' => {
                let end = memchr::memchr(b'"', &line[i + 1..])? + i + 1;
                let inner = &line[i + 1..end];
                if inner
                    .iter()
                    .any(|c| matches!(c, b'$' | b'`' | b'\\' | b'!'))
                {
                    return None;
                }
                word.extend_from_slice(inner);
                i = end + 1;
            }
            _ if is_unquoted_safe(b) => {
                word.push(b);
                i += 1;
            }
            _ => return None,
        }
        in_word = true;
    }
    if in_word {
        words.push_values([word.as_slice()]);
    }
    let first = words.value(0)?;
    if first.is_empty() || first.contains(&b'=') || SHELL_ONLY.contains(&first) {
        return None;
    }
    if first == b"echo" && echo_differs(words.values().skip(1)) {
        return None;
    }
    Some(words)
}

/// Bytes a shell reads as themselves outside quotes (bytes of UTF-8 and
/// other 8-bit text included).
fn is_unquoted_safe(b: u8) -> bool {
    is_plain(b) || b >= 0x80 || matches!(b, b',' | b':' | b'@' | b'%' | b'^' | b'=')
}

/// The shells' builtin `echo` and `/bin/echo` agree only without options
/// and backslashes, so only then may `echo` skip the shell.
fn echo_differs<'a>(mut args: impl Iterator<Item = &'a [u8]>) -> bool {
    let Some(first) = args.next() else {
        return false;
    };
    first.starts_with(b"-") || first.contains(&b'\\') || args.any(|a| a.contains(&b'\\'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_like_gnu_parallel() {
        assert_eq!(quote(b"plain-1.txt"), b"plain-1.txt");
        assert_eq!(quote(b""), b"''");
        assert_eq!(quote(b"a b"), b"'a b'");
        assert_eq!(quote(b"it's"), b"'it'\"'\"'s'");
        assert_eq!(quote(b"'"), b"\"'\"");
        assert_eq!(quote(b"''x"), b"\"''\"'x'");
        assert_eq!(quote(b"x$y"), b"'x$y'");
    }

    #[test]
    fn splits_plain_lines_and_refuses_shell_syntax() {
        let w = split_simple(b"echo 'a b' c\"d\" 'it'\"'\"'s'").unwrap();
        assert_eq!(
            w,
            vec![
                b"echo".to_vec(),
                b"a b".to_vec(),
                b"cd".to_vec(),
                b"it's".to_vec()
            ]
        );
        for line in [
            &b"echo a | wc"[..],
            b"echo $HOME",
            b"FOO=1 env",
            b"cd /",
            b"ls *.rs",
            b"echo -n x",
            b"echo ~",
            b"a;b",
        ] {
            assert_eq!(
                split_simple(line),
                None,
                "{}",
                String::from_utf8_lossy(line)
            );
        }
        assert_eq!(
            split_simple(b"echo ''").unwrap(),
            vec![b"echo".to_vec(), vec![]]
        );
    }
}
