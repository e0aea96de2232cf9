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

impl Seps {
    /// Reads `--arg-sep` and `--arg-file-sep` from the options, before the
    /// real parse, because they decide where the options end.
    /// Also returns the index of the first argument that may be a
    /// separator: the values of these two options are not.
    fn scan(argv: &[OsString]) -> (Seps, usize) {
        let mut seps = Seps {
            args: b":::".to_vec(),
            files: b"::::".to_vec(),
        };
        let mut from = 0;
        for (i, a) in argv.iter().map(|a| a.as_bytes()).enumerate() {
            for (name, slot) in [
                (&b"--arg-sep"[..], &mut seps.args),
                (b"--arg-file-sep", &mut seps.files),
            ] {
                if a == name {
                    if let Some(v) = argv.get(i + 1) {
                        *slot = v.as_bytes().to_vec();
                        from = i + 2;
                    }
                } else if let Some(v) = a.strip_prefix(name).and_then(|r| r.strip_prefix(b"=")) {
                    *slot = v.to_vec();
                }
            }
        }
        (seps, from)
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

/// Splits argv (without the program name) at the first separator: the
/// options and command, and the sources that follow.
pub fn split_sources(argv: Vec<OsString>) -> (Vec<OsString>, Vec<SourceSpec>) {
    let (seps, from) = Seps::scan(&argv);
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
    let mut files_mode = false;
    for arg in tail {
        if let Some((files, linked)) = seps.kind(arg.as_bytes()) {
            files_mode = files;
            if !files {
                sources.push(SourceSpec {
                    source: Source::Args(Vec::new()),
                    linked,
                });
            } else if linked {
                // `::::+ f` links the next file to the previous source.
                sources.push(SourceSpec {
                    source: Source::File(PathBuf::new()),
                    linked: true,
                });
            }
            continue;
        }
        push_value(&mut sources, files_mode, &arg);
    }
    // A `::::+` with no file after it names nothing.
    sources.retain(|s| !matches!(&s.source, Source::File(p) if p.as_os_str().is_empty()));
    (head, sources)
}

fn push_value(sources: &mut Vec<SourceSpec>, files_mode: bool, arg: &OsStr) {
    if !files_mode {
        if let Some(SourceSpec {
            source: Source::Args(v),
            ..
        }) = sources.last_mut()
        {
            v.push(arg.as_bytes().to_vec());
        }
        return;
    }
    if let Some(SourceSpec {
        source: Source::File(p),
        ..
    }) = sources.last_mut()
    {
        if p.as_os_str().is_empty() {
            *p = PathBuf::from(arg);
            return;
        }
    }
    sources.push(SourceSpec {
        source: Source::File(PathBuf::from(arg)),
        linked: false,
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn os(v: &[&str]) -> Vec<OsString> {
        v.iter().map(OsString::from).collect()
    }

    #[test]
    fn splits_groups_and_links() {
        let (head, src) = split_sources(os(&[
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
        let (head, src) = split_sources(os(&["--arg-sep", ",,", "echo", ":::", ",,", "x"]));
        assert_eq!(head, os(&["--arg-sep", ",,", "echo", ":::"]));
        assert_eq!(src.len(), 1);
    }
}

#[cfg(test)]
mod props {
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
            let (head, sources) = split_sources(argv.clone());
            prop_assert_eq!(&argv[..head.len()], &head[..]);
            if head.len() == argv.len() {
                prop_assert!(sources.is_empty());
            }
        }
    }
}
