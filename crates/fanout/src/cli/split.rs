//! Separating `fanout [OPTIONS] COMMAND... ::: ARGS :::: FILES` into the
//! part clap parses and the input sources. clap cannot express `:::` groups,
//! so this small splitter runs first.

use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;

use fanout_core::{Source, SourceSpec};

/// The separators, which `--arg-sep` and `--arg-file-sep` may rename.
struct Seps {
    args: Vec<u8>,
    files: Vec<u8>,
}

/// Which options take a value, so that the scan can step over values.
#[derive(Debug, Default, Clone)]
pub struct ValueOptions {
    /// Long names (without `--`) of options that take a value.
    pub long: Vec<String>,
    /// Short names of options that take a value.
    pub short: Vec<u8>,
}

impl Seps {
    /// Walks fanout's own options (stepping over their values) to read
    /// `--arg-sep` and `--arg-file-sep`, which decide where the sources
    /// begin. Returns the separators and the index of the first argument
    /// that is not an option: the command, or a separator.
    fn scan(argv: &[OsString], opts: &ValueOptions) -> (Seps, usize) {
        let (seps, end, _) = Seps::scan_values(argv, opts);
        (seps, end)
    }

    /// [`Seps::scan`], and the indices of the arguments that are option
    /// values.
    fn scan_values(argv: &[OsString], opts: &ValueOptions) -> (Seps, usize, Vec<usize>) {
        let mut values = Vec::new();
        let mut seps = Seps {
            args: b":::".to_vec(),
            files: b"::::".to_vec(),
        };
        let mut i = 0;
        while let Some(a) = argv.get(i).map(|a| a.as_bytes()) {
            if a == b"--" {
                return (seps, i + 1, values);
            }
            if let Some(long) = a.strip_prefix(b"--") {
                let (name, inline) = match long.iter().position(|&b| b == b'=') {
                    Some(eq) => (&long[..eq], Some(&long[eq + 1..])),
                    None => (long, None),
                };
                let takes = opts.long.iter().any(|l| l.as_bytes() == name);
                let value = match inline {
                    Some(v) => Some(v),
                    None if takes => {
                        i += 1;
                        values.push(i);
                        argv.get(i).map(|v| v.as_bytes())
                    }
                    None => None,
                };
                match (name, value) {
                    (b"arg-sep", Some(v)) => seps.args = v.to_vec(),
                    (b"arg-file-sep", Some(v)) => seps.files = v.to_vec(),
                    _ => {}
                }
            } else if a.len() > 1 && a[0] == b'-' {
                // A cluster such as `-kj2` or `-j 2`: the first short option
                // that takes a value takes the rest, or the next argument.
                let pos = a[1..].iter().position(|c| opts.short.contains(c));
                if pos.is_some_and(|p| p + 2 == a.len()) {
                    i += 1;
                    values.push(i);
                }
            } else {
                return (seps, i, values);
            }
            i += 1;
        }
        (seps, i, values)
    }

    /// What kind of separator `arg` is: (is a file separator, is linked).
    fn kind(&self, arg: &[u8]) -> Option<(bool, bool)> {
        let linked =
            |sep: &[u8]| arg.len() == sep.len() + 1 && arg.starts_with(sep) && arg.ends_with(b"+");
        if arg == self.files.as_slice() {
            Some((true, false))
        } else if arg == self.args.as_slice() {
            Some((false, false))
        } else if linked(&self.files) {
            Some((true, true))
        } else if linked(&self.args) {
            Some((false, true))
        } else {
            None
        }
    }
}

/// The index of the first argument that is not one of fanout's own
/// options (or their values): the command, or a separator; and the
/// indices of the options' values before it.
pub fn options_end(argv: &[OsString], opts: &ValueOptions) -> (usize, Vec<usize>) {
    let (_, end, values) = Seps::scan_values(argv, opts);
    (end, values)
}

/// Splits argv (without the program name) at the first separator after
/// fanout's own options: the options and command, and the sources.
pub fn split_sources(argv: Vec<OsString>, opts: &ValueOptions) -> (Vec<OsString>, Vec<SourceSpec>) {
    let (seps, from) = Seps::scan(&argv, opts);
    let found = argv
        .iter()
        .skip(from)
        .position(|a| seps.kind(a.as_bytes()).is_some());
    let Some(first) = found.map(|i| i + from) else {
        return (argv, Vec::new());
    };
    let mut head = argv;
    let tail = head.split_off(first);
    let mut sources: Vec<SourceSpec> = Vec::new();
    // As GNU: every file after `::::+` is linked to the source before it,
    // every file after `::::` is crossed with it.
    let mut mode = (false, false);
    for arg in tail {
        if let Some((files, linked)) = seps.kind(arg.as_bytes()) {
            mode = (files, linked);
            if !files {
                sources.push(SourceSpec {
                    source: Source::Args(Vec::new()),
                    linked,
                });
            }
            continue;
        }
        push_value(&mut sources, mode, &arg);
    }
    (head, sources)
}

fn push_value(sources: &mut Vec<SourceSpec>, (files, linked): (bool, bool), arg: &OsStr) {
    if files {
        sources.push(SourceSpec {
            source: Source::File(PathBuf::from(arg)),
            linked,
        });
    } else if let Some(SourceSpec {
        source: Source::Args(v),
        ..
    }) = sources.last_mut()
    {
        v.push(arg.as_bytes().to_vec());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn os(v: &[&str]) -> Vec<OsString> {
        v.iter().map(OsString::from).collect()
    }

    pub(super) fn test_opts() -> ValueOptions {
        ValueOptions {
            long: ["jobs", "arg-sep", "arg-file-sep", "tagstring"]
                .map(String::from)
                .to_vec(),
            short: b"jn".to_vec(),
        }
    }

    fn split_sources_t(argv: Vec<OsString>) -> (Vec<OsString>, Vec<SourceSpec>) {
        split_sources(argv, &test_opts())
    }

    #[test]
    fn separator_words_in_the_command_or_values_are_not_options() {
        let (head, src) = split_sources_t(os(&["echo", ":::", "a", "--arg-sep", "b"]));
        assert_eq!(head, os(&["echo"]));
        assert_eq!(src.len(), 1);
        let (head, src) =
            split_sources_t(os(&["--tagstring", ":::", "-j", "2", "echo", ":::", "x"]));
        assert_eq!(head, os(&["--tagstring", ":::", "-j", "2", "echo"]));
        assert_eq!(src.len(), 1);
    }

    #[test]
    fn splits_groups_and_links() {
        let (head, src) = split_sources_t(os(&[
            "-j2", "echo", ":::", "a", "b", ":::+", "1", "::::", "f", "g",
        ]));
        assert_eq!(head, os(&["-j2", "echo"]));
        let args = |v: &[&str]| Source::Args(v.iter().map(|s| s.as_bytes().to_vec()).collect());
        assert_eq!(
            src[0],
            SourceSpec {
                source: args(&["a", "b"]),
                linked: false
            }
        );
        assert_eq!(
            src[1],
            SourceSpec {
                source: args(&["1"]),
                linked: true
            }
        );
        assert_eq!(src[2].source, Source::File("f".into()));
        assert_eq!(src[3].source, Source::File("g".into()));
        assert_eq!(src.len(), 4);
    }

    #[test]
    fn honours_renamed_separators() {
        let (head, src) = split_sources_t(os(&["--arg-sep", ",,", "echo", ":::", ",,", "x"]));
        assert_eq!(head, os(&["--arg-sep", ",,", "echo", ":::"]));
        assert_eq!(src.len(), 1);
    }
}

#[cfg(test)]
mod props {
    use super::tests::test_opts;
    use super::*;
    use proptest::prelude::*;

    fn token() -> impl Strategy<Value = String> {
        prop_oneof![
            Just(":::".to_string()),
            Just("::::".to_string()),
            Just(":::+".to_string()),
            Just("::::+".to_string()),
            Just("--arg-sep".to_string()),
            Just("-j".to_string()),
            "[a-z:+]{0,5}",
        ]
    }

    proptest! {
        /// Splitting never panics, the option part is a prefix of argv,
        /// and every value after the first separator lands in a source.
        #[test]
        fn split_keeps_every_argument(args in proptest::collection::vec(token(), 0..12)) {
            let argv: Vec<OsString> = args.iter().map(OsString::from).collect();
            let (head, sources) = split_sources(argv.clone(), &test_opts());
            prop_assert_eq!(&argv[..head.len()], &head[..]);
            if head.len() == argv.len() {
                prop_assert!(sources.is_empty());
            }
        }
    }
}
