//! What fanout says about an option it does not know: GNU parallel's
//! options that fanout does not have get a line of their own naming where
//! COMPATIBILITY.md explains it; anything else gets the closest known
//! option, as clap finds it, and a pointer to `--help`.

use clap::error::{ContextKind, ContextValue, ErrorKind};

/// GNU parallel's options (long names, without `--`) that fanout does not
/// have, and the part of docs/COMPATIBILITY.md that says why.
const GNU_ONLY: &[(&str, &str)] = &[
    ("sshlogin", "remote execution is over NATS (--broker)"),
    ("sshloginfile", "remote execution is over NATS (--broker)"),
    ("slf", "remote execution is over NATS (--broker)"),
    ("transferfile", "remote execution is over NATS (--broker)"),
    ("transfer", "remote execution is over NATS (--broker)"),
    ("tf", "remote execution is over NATS (--broker)"),
    ("return", "remote execution is over NATS (--broker)"),
    ("trc", "remote execution is over NATS (--broker)"),
    ("basefile", "remote execution is over NATS (--broker)"),
    ("bf", "remote execution is over NATS (--broker)"),
    ("controlmaster", "remote execution is over NATS (--broker)"),
    ("ssh", "remote execution is over NATS (--broker)"),
    ("sshdelay", "remote execution is over NATS (--broker)"),
    ("filter-hosts", "remote execution is over NATS (--broker)"),
    ("sqlmaster", "the SQL queue is not built"),
    ("sqlworker", "the SQL queue is not built"),
    ("sqlandworker", "the SQL queue is not built"),
    ("memsuspend", "--memsuspend is not built"),
    ("limit", "--limit is not built"),
    ("_parset", "parset (env_parallel) is not built"),
];

/// One line for a clap error, or `None` to keep clap's own.
pub fn explain(e: &clap::Error) -> Option<String> {
    if e.kind() != ErrorKind::UnknownArgument {
        return None;
    }
    let Some(ContextValue::String(arg)) = e.get(ContextKind::InvalidArg) else {
        return None;
    };
    let name = arg.trim_start_matches('-');
    let name = name.split('=').next().unwrap_or(name);
    if arg.starts_with("--") {
        if let Some((_, why)) = GNU_ONLY.iter().find(|(o, _)| *o == name) {
            return Some(format!(
                "`--{name}` is a GNU parallel option fanout does not have: {why} (docs/COMPATIBILITY.md, \"Known gaps\")"
            ));
        }
    }
    let hint = match e.get(ContextKind::SuggestedArg) {
        Some(ContextValue::String(s)) => format!("; did you mean `{s}`?"),
        _ => String::new(),
    };
    Some(format!("unknown option `{arg}`{hint} (see fanout --help)"))
}
