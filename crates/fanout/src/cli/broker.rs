//! The distributed options: which role this process plays (coordinator,
//! worker, status or cancel), the broker's address and credentials, and
//! the run id.

use std::time::Duration;

use anyhow::{bail, Context, Result};
use fanout_core::units::parse_duration;
use fanout_nats::{BrokerOptions, SecretKey, TrustedKeys};

use super::Cli;

/// What a process with `--broker` does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Role {
    /// Publish the jobs and gather their results.
    Coordinator,
    /// Run other runs' jobs.
    Worker,
    /// Print runs' state.
    Status,
    /// Cancel a run.
    Cancel,
    /// Serve the dashboard of every run and worker on the broker
    /// (`--dashboard` with `--broker` and no command or input).
    Watch,
}

/// The distributed settings.
#[derive(Debug, Clone)]
pub struct Distributed {
    /// This process's role.
    pub role: Role,
    /// The broker and credentials.
    pub broker: BrokerOptions,
    /// `--run-id`, if given.
    pub run_id: Option<String>,
    /// `--ack-wait`.
    pub ack_wait: Duration,
    /// `--max-deliveries`.
    pub max_deliveries: u32,
    /// `--replicas`: copies of the run's streams.
    pub replicas: usize,
    /// Worker `--allow` patterns, anchored.
    pub allow: Vec<regex::bytes::Regex>,
    /// Worker `--prefetch`.
    pub prefetch: Option<usize>,
    /// Worker `--noop-jobs`.
    pub noop: bool,
    /// Worker `--allow-metachars`.
    pub allow_metachars: bool,
    /// `--sign-key`: the coordinator signs its run, a worker its results.
    pub sign: Option<SecretKey>,
    /// `--trust`: a worker's coordinator keys, a coordinator's worker keys.
    pub trust: TrustedKeys,
}

/// The distributed settings, or `None` for a local run.
pub fn distributed(cli: &Cli, has_sources: bool) -> Result<Option<Distributed>> {
    let role = match (cli.worker, cli.status, cli.cancel) {
        (false, false, false) => Role::Coordinator,
        (true, false, false) => Role::Worker,
        (false, true, false) => Role::Status,
        (false, false, true) => Role::Cancel,
        _ => bail!("--worker, --status and --cancel exclude each other"),
    };
    // `fanout --dashboard --broker URL` alone watches the broker.
    let watching = role == Role::Coordinator
        && cli.dashboard.is_some()
        && cli.command.is_empty()
        && cli.arg_file.is_empty()
        && !has_sources;
    let role = match (watching, cli.broker.is_some()) {
        (true, true) => Role::Watch,
        _ => role,
    };
    if cli.dashboard_control && role != Role::Watch {
        bail!("--dashboard-control works with --dashboard --broker URL and no command (watching a broker)");
    }
    let Some(url) = cli.broker.clone() else {
        if role != Role::Coordinator {
            bail!("--worker, --status and --cancel need --broker URL");
        }
        for (set, name) in [
            (cli.run_id.is_some(), "--run-id"),
            (!cli.allow.is_empty(), "--allow"),
            (cli.noop_jobs, "--noop-jobs"),
            (cli.sign_key.is_some(), "--sign-key"),
            (!cli.trust.is_empty(), "--trust"),
            (cli.insecure, "--insecure"),
            (cli.allow_metachars, "--allow-metachars"),
            (cli.replicas.is_some(), "--replicas"),
        ] {
            if set {
                bail!("{name} needs --broker URL");
            }
        }
        return Ok(None);
    };
    if !matches!(role, Role::Coordinator | Role::Watch)
        && (!cli.command.is_empty() || !cli.arg_file.is_empty())
    {
        bail!("--worker, --status and --cancel take no command or input");
    }
    if role == Role::Cancel && cli.run_id.is_none() {
        bail!("--cancel needs --run-id ID (see --status for the ids)");
    }
    if role != Role::Worker
        && (!cli.allow.is_empty()
            || cli.noop_jobs
            || cli.prefetch.is_some()
            || cli.insecure
            || cli.allow_metachars)
    {
        bail!("--allow, --allow-metachars, --insecure, --prefetch and --noop-jobs are worker options (with --worker)");
    }
    if cli.allow_metachars && cli.allow.is_empty() {
        bail!("--allow-metachars needs --allow REGEX");
    }
    if role != Role::Coordinator && cli.replicas.is_some() {
        bail!("--replicas is a coordinator option (it creates the run's streams)");
    }
    let replicas = match cli.replicas {
        // JetStream allows at most 5 replicas of a stream.
        Some(r) if !(1..=5).contains(&r) => {
            bail!("invalid --replicas `{r}`: 1 to 5 copies of the run's streams")
        }
        Some(r) => r as usize,
        None => 1,
    };
    let ack_wait = match &cli.ack_wait {
        Some(s) => parse_duration(s)
            .filter(|d| *d >= Duration::from_secs(1))
            .with_context(|| format!("invalid --ack-wait `{s}`: a duration of at least 1s"))?,
        None => Duration::from_secs(30),
    };
    let allow: Vec<regex::bytes::Regex> = cli
        .allow
        .iter()
        .map(|p| {
            regex::bytes::Regex::new(&format!("^(?:{p})$"))
                .with_context(|| format!("invalid --allow pattern `{p}`"))
        })
        .collect::<Result<_>>()?;
    if let Some(id) = &cli.run_id {
        fanout_nats::names::check_run_id(id)?;
    }
    let sign = cli.sign_key.as_deref().map(SecretKey::load).transpose()?;
    let trust = TrustedKeys::load(&cli.trust)?;
    let broker = BrokerOptions {
        url,
        user: cli.broker_user.clone(),
        password: cli.broker_password.clone(),
        token: cli.broker_token.clone(),
        creds: cli.broker_creds.clone(),
        tls_ca: cli.broker_tls_ca.clone(),
        tls_cert: cli.broker_tls_cert.clone().zip(cli.broker_tls_key.clone()),
        require_tls: cli.broker_require_tls,
    };
    if role == Role::Worker
        && trust.is_empty()
        && allow.is_empty()
        && !cli.insecure
        && !authenticated(&broker)
    {
        bail!(
            "a worker on a broker connection without authentication runs any command any client of the broker publishes; \
             give --trust KEY.pub (run only signed runs), --allow REGEX, broker credentials, or --insecure \
             (see Security model in docs/DISTRIBUTED.md)"
        );
    }
    Ok(Some(Distributed {
        role,
        broker,
        run_id: cli.run_id.clone(),
        ack_wait,
        max_deliveries: cli.max_deliveries.unwrap_or(5).max(1),
        replicas,
        allow,
        prefetch: cli.prefetch,
        noop: cli.noop_jobs,
        allow_metachars: cli.allow_metachars,
        sign,
        trust,
    }))
}

/// Whether the connection authenticates: credentials given as options or
/// in the URL (`user:pass@` or `token@`).
fn authenticated(b: &BrokerOptions) -> bool {
    b.user.is_some()
        || b.token.is_some()
        || b.creds.is_some()
        || b.url.split(',').any(|u| u.contains('@'))
}

/// A run id from the working directory and the command line without the
/// resume options, so running the same command again with `--resume`
/// finds the run (FNV-1a, 64 bits, as hex).
pub fn default_run_id() -> String {
    const RESUME: [&str; 3] = ["--resume", "--resume-failed", "--retry-failed"];
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut eat = |bytes: &[u8]| {
        for b in bytes.iter().chain([&0u8]) {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    };
    use std::os::unix::ffi::OsStrExt;
    if let Ok(cwd) = std::env::current_dir() {
        eat(cwd.as_os_str().as_bytes());
    }
    for a in std::env::args_os().skip(1) {
        if !RESUME.contains(&a.to_str().unwrap_or("")) {
            eat(a.as_bytes());
        }
    }
    format!("{h:016x}")
}
