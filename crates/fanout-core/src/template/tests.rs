//! Template parsing and rendering against GNU parallel's output.

use super::*;
use crate::job::{JobSeq, Record, Records, SlotId};
use proptest::prelude::*;

fn render(cmd: &[&str], recs: &[&[&str]], context: bool) -> String {
    let t = Template::from_command(cmd, &TemplateOptions::default()).unwrap();
    let records: Records = recs
        .iter()
        .map(|r| r.iter().map(|v| v.as_bytes().to_vec()).collect::<Vec<_>>())
        .collect();
    let ctx = RenderCtx {
        records: &records,
        seq: JobSeq(7),
        slot: SlotId(2),
        context,
    };
    String::from_utf8(t.render_vec(&ctx)).unwrap()
}

#[test]
fn appends_all_values_when_the_command_has_no_replacement_string() {
    assert_eq!(render(&["echo"], &[&["a b"]], false), "echo 'a b'");
    assert_eq!(render(&["echo", "{#}"], &[&["a"]], false), "echo 7");
}

#[test]
fn positional_and_modifiers() {
    assert_eq!(
        render(&["echo {2} {1.} {-1/}"], &[&["x/a.b", "y/c.d"]], false),
        "echo y/c.d x/a c.d"
    );
    assert_eq!(
        render(&["echo", "{3}-{%}"], &[&["a"], &["b"]], false),
        "echo -2"
    );
}

#[test]
fn context_replace_repeats_the_word() {
    assert_eq!(
        render(&["echo", "pre{}post"], &[&["a"], &["b"]], true),
        "echo preapost prebpost"
    );
    assert_eq!(
        render(&["echo", "pre{}post"], &[&["a"], &["b"]], false),
        "echo prea bpost"
    );
}

#[test]
fn whitespace_after_a_position_is_gnu_parallels_positional_string() {
    assert_eq!(
        render(&["echo {1\n } {2 .}"], &[&["O", "K.txt"]], false),
        "echo O K"
    );
}

#[test]
fn unbalanced_replacement_string_is_an_error() {
    let e = Template::from_command(&["echo", "{1"], &TemplateOptions::default());
    assert!(matches!(e, Err(crate::Error::UnbalancedReplacement(_))));
    // Shell and awk braces are not replacement strings.
    for ok in ["{ echo; }", "awk '{print $1}'", "${#x}", "${x:-y}"] {
        assert!(
            Template::from_command(&[ok], &TemplateOptions::default()).is_ok(),
            "{ok}"
        );
    }
}

#[test]
fn custom_replace_string_and_quoted_command() {
    let opts = TemplateOptions {
        replace: b",,".to_vec(),
        ..Default::default()
    };
    let t = Template::from_command(&["echo", ",,", "{}"], &opts).unwrap();
    let recs = Records::from(vec![vec![b"a".to_vec()]]);
    let ctx = RenderCtx {
        records: &recs,
        seq: JobSeq(1),
        slot: SlotId(1),
        context: false,
    };
    assert_eq!(t.render_vec(&ctx), b"echo a {}");
    let q = TemplateOptions {
        quote_command: true,
        ..Default::default()
    };
    let t = Template::from_command(&["echo", "a b", "{}"], &q).unwrap();
    assert_eq!(t.render_vec(&ctx), b"echo 'a b' a");
}

proptest! {
    /// Any value survives quoting and the direct-exec splitter byte for byte.
    #[test]
    fn quoted_values_round_trip(vals in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..12), 1..4)) {
        let t = Template::from_command(&["cat"], &TemplateOptions::default()).unwrap();
        let recs = Records::from(vec![Record::from(vals.clone())]);
        let ctx = RenderCtx { records: &recs, seq: JobSeq(1), slot: SlotId(1), context: false };
        let line = t.render_vec(&ctx);
        let words = crate::quote::split_simple(&line).expect("quoted values never need a shell");
        prop_assert_eq!(&words[1..], &vals[..]);
    }

    /// Parsing never panics, whatever the command text.
    #[test]
    fn parsing_arbitrary_commands_never_panics(cmd in proptest::collection::vec(any::<u8>(), 0..40)) {
        let _ = Template::from_command(std::slice::from_ref(&cmd), &TemplateOptions::default());
        let _ = Template::unquoted(&cmd, &TemplateOptions::default());
    }
}
