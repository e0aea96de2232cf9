//! A run with `--broker`: the same jobs and sinks as a local run, with the
//! jobs run by workers through the broker instead of the local engine.

use anyhow::Result;
use fanout_core::joblog::SeqSet;
use fanout_core::{RunSummary, Sink, Timeout};
use fanout_nats::schema::{Bytes, WireTimeout, VERSION};
use fanout_nats::{CoordinatorOptions, RunSpec};

use crate::cli::{default_run_id, Config, Plan};
use crate::pipe::Jobs;

/// Publishes `jobs` to the broker and reports their results to `sink`.
pub fn run(
    config: &Config,
    jobs: Jobs,
    plan: &Plan,
    logged: SeqSet,
    sink: &mut dyn Sink,
) -> Result<RunSummary> {
    let d = config
        .distributed
        .as_ref()
        .expect("only called for a distributed run");
    let bytes = |v: &[Vec<u8>]| v.iter().cloned().map(Bytes).collect();
    let control = &config.run.control;
    let spec = RunSpec {
        v: VERSION,
        // Set by the coordinator.
        epoch: fanout_nats::schema::Epoch::default(),
        command: bytes(&config.command),
        replace: Bytes(config.template.replace.clone()),
        quote_command: config.template.quote_command,
        header: bytes(&config.template.header),
        append_missing: config.template.append_missing,
        context: config.context,
        retries: control.retries,
        timeout: control.timeout.map(|t| match t {
            Timeout::Fixed(d) => WireTimeout::Secs(d.as_secs_f64()),
            Timeout::Median(f) => WireTimeout::Median(f),
        }),
        max_deliveries: d.max_deliveries,
        ack_wait_ms: d.ack_wait.as_millis() as u64,
        env: crate::cli::record_env::selected(&config.env)
            .into_iter()
            .map(|(k, v)| (Bytes(k), Bytes(v)))
            .collect(),
    };
    let resume = config
        .joblog
        .as_ref()
        .is_some_and(|j| j.resume != crate::cli::Resume::No);
    let opts = CoordinatorOptions {
        broker: d.broker.clone(),
        run_id: d.run_id.clone().unwrap_or_else(default_run_id),
        resume,
        logged,
        ack_wait: d.ack_wait,
        max_deliveries: d.max_deliveries,
        replicas: d.replicas,
        halt: control.halt,
        total_jobs: config.run.total_jobs,
        handle_signals: true,
        window: 8192,
        spool_threshold: config.run.spool_threshold,
        sign: d.sign.clone(),
        trust: d.trust.clone(),
        warn: crate::distributed::warnings_to_stderr(),
    };
    Ok(fanout_nats::coordinate(
        jobs,
        &plan.commands,
        spec,
        sink,
        opts,
    )?)
}
