//! What a worker lets through, decided without I/O: a run spec or a job
//! message is used only when it is signed by a trusted key (if the worker
//! trusts any), speaks this protocol version, and has every field in
//! range. A message that fails is refused, never half used; these are the
//! functions the fuzz tests drive.

use async_nats::HeaderMap;

use crate::check;
use crate::schema::{self, Epoch, JobMsg, RefusalKind, RunSpec};
use crate::trust::{self, Kind, TrustedKeys};

/// Why a job message is not run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum JobRefusal {
    /// It belongs to another incarnation of the run id.
    OtherEpoch,
    /// Not signed by a trusted key: not run, not reported (a forger must
    /// not be able to report a real job failed either).
    Untrusted(String),
    /// Unreadable or out of range: its jobs are reported failed when
    /// their numbers can be read.
    Invalid(String),
}

/// The run spec, if it may be served, with the keys its job messages
/// must be signed with: the spec's own signer (none when this worker
/// trusts no key), so one trusted key cannot add jobs to another's run.
pub(crate) fn spec(
    trusted: &TrustedKeys,
    run: &str,
    headers: Option<&HeaderMap>,
    payload: &[u8],
) -> Result<(RunSpec, TrustedKeys), (RefusalKind, String)> {
    let mut signer = TrustedKeys::default();
    if !trusted.is_empty() {
        let key = trust::verify_msg(trusted, Kind::Spec, run, headers, payload)
            .map_err(|e| (RefusalKind::Untrusted, format!("run spec {e}")))?;
        signer = trusted.only(&key);
    }
    let spec: RunSpec = schema::decode(payload).map_err(|e| (RefusalKind::Invalid, e))?;
    check::spec(&spec).map_err(|e| (RefusalKind::Invalid, format!("run spec: {e}")))?;
    // The template must build, or no job of the run can be rendered.
    commands(&spec).map_err(|e| (RefusalKind::Invalid, format!("run spec: {e}")))?;
    Ok((spec, signer))
}

/// The command template of a checked spec.
pub(crate) fn commands(spec: &RunSpec) -> fanout_core::Result<fanout_core::Commands> {
    let template = fanout_core::Template::from_command(
        &spec.command.iter().map(|b| b.0.clone()).collect::<Vec<_>>(),
        &fanout_core::TemplateOptions {
            replace: spec.replace.0.clone(),
            quote_command: spec.quote_command,
            header: spec.header.iter().map(|b| b.0.clone()).collect(),
            append_missing: spec.append_missing,
            ..Default::default()
        },
    )?;
    Ok(fanout_core::Commands::Template {
        template: std::sync::Arc::new(template),
        context: spec.context,
    })
}

/// A job message of run `run`, incarnation `epoch`, if it may be run:
/// signed by one of `trusted` (the spec's signer), when not empty.
pub(crate) fn jobs(
    trusted: &TrustedKeys,
    run: &str,
    epoch: Epoch,
    headers: Option<&HeaderMap>,
    payload: &[u8],
) -> Result<JobMsg, JobRefusal> {
    if !trusted.is_empty() {
        trust::verify_msg(trusted, Kind::Jobs, run, headers, payload)
            .map_err(|e| JobRefusal::Untrusted(e.to_string()))?;
    }
    let m: JobMsg = schema::decode(payload).map_err(JobRefusal::Invalid)?;
    if m.epoch != epoch {
        return Err(JobRefusal::OtherEpoch);
    }
    check::jobs(&m).map_err(|e| JobRefusal::Invalid(e.to_string()))?;
    Ok(m)
}

/// Whether a command line passes the `--allow` rules: it must match one
/// pattern as a whole and, unless `metachars`, hold no newline, backtick
/// or `$(`, with which a shell runs a second command that a pattern
/// written for one command line does not expect.
pub(crate) fn allowed(allow: &[regex::bytes::Regex], metachars: bool, command: &[u8]) -> bool {
    if allow.is_empty() {
        return true;
    }
    let smuggles = command.contains(&b'\n')
        || command.contains(&b'`')
        || command.windows(2).any(|w| w == b"$(");
    if smuggles && !metachars {
        return false;
    }
    allow.iter().any(|re| {
        re.find(command)
            .is_some_and(|m| m.start() == 0 && m.end() == command.len())
    })
}

#[cfg(test)]
mod tests;
