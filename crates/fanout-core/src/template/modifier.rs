//! Path modifiers of replacement strings: `{.}` `{/}` `{//}` `{/.}`, with
//! GNU parallel's exact definitions (Perl regexes and `File::Basename`).

/// How a value is transformed before it is inserted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Modifier {
    /// The value as it is.
    Whole,
    /// `{.}`: without its extension (`s:\.[^/.]*$::`).
    NoExt,
    /// `{/}`: its basename (`s:^.*/::`).
    Base,
    /// `{//}`: its directory, as Perl's `dirname`.
    Dir,
    /// `{/.}`: its basename without extension.
    BaseNoExt,
}

impl Modifier {
    /// Parses the suffix of a replacement string: "", ".", "/", "//", "/.".
    pub(crate) fn from_suffix(s: &[u8]) -> Option<Modifier> {
        Some(match s {
            b"" => Modifier::Whole,
            b"." => Modifier::NoExt,
            b"/" => Modifier::Base,
            b"//" => Modifier::Dir,
            b"/." => Modifier::BaseNoExt,
            _ => return None,
        })
    }

    /// The same as a perl expression on `$_` (for a format, `{.:%10s}`).
    pub(crate) fn perl(self) -> &'static str {
        match self {
            Modifier::Whole => "",
            Modifier::NoExt => r"s:\.[^/.]*$::",
            Modifier::Base => r"s:.*/::",
            Modifier::Dir => r"require File::Basename; $_ = File::Basename::dirname($_)",
            Modifier::BaseNoExt => r"s:.*/::; s:\.[^/.]*$::",
        }
    }

    /// Applies the modifier; every result is a slice of the value.
    pub fn apply(self, v: &[u8]) -> &[u8] {
        match self {
            Modifier::Whole => v,
            Modifier::NoExt => no_ext(v),
            Modifier::Base => base(v),
            Modifier::Dir => dirname(v),
            Modifier::BaseNoExt => no_ext(base(v)),
        }
    }
}

fn no_ext(v: &[u8]) -> &[u8] {
    match memchr::memrchr2(b'.', b'/', v) {
        Some(i) if v[i] == b'.' => &v[..i],
        _ => v,
    }
}

fn base(v: &[u8]) -> &[u8] {
    match memchr::memrchr(b'/', v) {
        Some(i) => &v[i + 1..],
        None => v,
    }
}

/// Perl's `File::Basename::fileparse` for Unix: (directory with its
/// trailing slash, or "./"; basename).
fn fileparse(p: &[u8]) -> (&[u8], &[u8]) {
    match memchr::memrchr(b'/', p) {
        Some(i) => (&p[..=i], &p[i + 1..]),
        None => (b"./", p),
    }
}

/// `s{(.)/*\z}{$1}s`: drops trailing slashes but keeps the first byte.
fn trim_slashes(d: &[u8]) -> &[u8] {
    let mut end = d.len();
    while end > 1 && d[end - 1] == b'/' {
        end -= 1;
    }
    &d[..end]
}

fn dirname(p: &[u8]) -> &[u8] {
    let (dir, name) = fileparse(p);
    let mut dir = trim_slashes(dir);
    if name.is_empty() {
        dir = trim_slashes(fileparse(dir).0);
    }
    dir
}

#[cfg(test)]
mod tests {
    use super::Modifier::*;

    fn ap(m: super::Modifier, v: &str) -> String {
        String::from_utf8(m.apply(v.as_bytes()).to_vec()).unwrap()
    }

    #[test]
    fn matches_gnu_parallel_20221122() {
        // Columns: value, {.}, {/}, {//}, {/.} as printed by GNU parallel.
        let cases = [
            (
                "dir/file.tar.gz",
                "dir/file.tar",
                "file.tar.gz",
                "dir",
                "file.tar",
            ),
            (".bashrc", "", ".bashrc", ".", ""),
            ("a", "a", "a", ".", "a"),
            ("/a", "/a", "a", "/", "a"),
            ("a/b/", "a/b/", "", "a", ""),
            ("file.", "file", "file.", ".", "file"),
            ("dir.x/file", "dir.x/file", "file", "dir.x", "file"),
        ];
        for (v, noext, b, d, bne) in cases {
            assert_eq!(ap(NoExt, v), noext, "{{.}} of {v}");
            assert_eq!(ap(Base, v), b, "{{/}} of {v}");
            assert_eq!(ap(Dir, v), d, "{{//}} of {v}");
            assert_eq!(ap(BaseNoExt, v), bne, "{{/.}} of {v}");
        }
    }
}
