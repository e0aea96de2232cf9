//! `fanout --status` and `fanout --cancel`: request/reply to a run's
//! coordinator, with what the streams say when no coordinator answers.

use std::time::Duration;

use futures_util::TryStreamExt;

use crate::connect::{connect, BrokerOptions};
use crate::error::broker;
use crate::names::Names;
use crate::schema::{self, CtlOp, CtlReply, CtlRequest, HaltState, Status, StopMsg, VERSION};
use crate::{streams, Error, Result};

/// What `fanout --status` found of one run.
#[derive(Debug, Clone)]
pub enum RunStatus {
    /// Its coordinator answered with its counts.
    Coordinated(Status),
    /// No coordinator answered; the job stream still holds `queued` jobs.
    NoCoordinator {
        /// The run id.
        run: String,
        /// Jobs waiting in the job stream.
        queued: u64,
    },
}

/// Every run on the broker (or only run `run`): its state and counts, from
/// its coordinator, or from its streams when none answers. Blocks; see
/// [`status_async`].
pub fn status(broker_opts: &BrokerOptions, run: Option<&str>) -> Result<Vec<RunStatus>> {
    crate::runtime()?.block_on(status_async(broker_opts, run))
}

/// [`status`], to await inside the caller's tokio runtime.
pub async fn status_async(
    broker_opts: &BrokerOptions,
    run: Option<&str>,
) -> Result<Vec<RunStatus>> {
    let conn = connect(broker_opts, "status").await?;
    let runs = match run {
        Some(r) => vec![r.to_owned()],
        None => run_ids(&conn.js).await?,
    };
    let mut found = Vec::new();
    for run in runs {
        let n = Names::new(&run)?;
        match ask(&conn.client, &n, CtlOp::Status).await {
            Some(reply) => {
                let s: Status = schema::decode(&reply).map_err(Error::Broker)?;
                found.push(RunStatus::Coordinated(s));
            }
            None => match conn.js.get_stream(&n.jobs_stream).await {
                Ok(mut st) => {
                    let queued = st.info().await.map_err(broker)?.state.messages;
                    found.push(RunStatus::NoCoordinator { run, queued });
                }
                Err(_) => return Err(Error::NoRun(run)),
            },
        }
    }
    Ok(found)
}

/// Cancels run `run`: its coordinator stops it as on SIGTERM; with no
/// coordinator, workers are told to stop and the run's streams go.
/// Blocks; see [`cancel_async`].
pub fn cancel(broker_opts: &BrokerOptions, run: &str) -> Result<()> {
    crate::runtime()?.block_on(cancel_async(broker_opts, run))
}

/// [`cancel`], to await inside the caller's tokio runtime.
pub async fn cancel_async(broker_opts: &BrokerOptions, run: &str) -> Result<()> {
    let conn = connect(broker_opts, "cancel").await?;
    let n = Names::new(run)?;
    if let Some(reply) = ask(&conn.client, &n, CtlOp::Cancel).await {
        // A coordinator that did not take the request says why.
        let r: CtlReply = schema::decode(&reply).map_err(Error::Broker)?;
        return match r.ok {
            true => Ok(()),
            false => Err(Error::Broker(r.error.unwrap_or_default())),
        };
    }
    if conn.js.get_stream(&n.jobs_stream).await.is_err() {
        return Err(Error::NoRun(run.to_owned()));
    }
    conn.client
        .publish(n.stop.clone(), StopMsg::encode(HaltState::Now).into())
        .await
        .map_err(broker)?;
    conn.client.flush().await.map_err(broker)?;
    streams::delete(&conn.js, &n).await
}

async fn ask(client: &async_nats::Client, n: &Names, op: CtlOp) -> Option<Vec<u8>> {
    ask_within(client, n, op, Duration::from_secs(5)).await
}

/// Asks run `n`'s coordinator; `None` when none answers within `wait`.
pub(crate) async fn ask_within(
    client: &async_nats::Client,
    n: &Names,
    op: CtlOp,
    wait: Duration,
) -> Option<Vec<u8>> {
    let req = serde_json::to_vec(&CtlRequest { v: VERSION, op }).ok()?;
    let r = tokio::time::timeout(wait, client.request(n.ctl.clone(), req.into()))
        .await
        .ok()?
        .ok()?;
    Some(r.payload.to_vec())
}

/// The runs that have a job stream on the broker.
pub(crate) async fn run_ids(js: &async_nats::jetstream::Context) -> Result<Vec<String>> {
    let names: Vec<String> = js.stream_names().try_collect().await.map_err(broker)?;
    let mut runs: Vec<String> = names
        .iter()
        .filter_map(|s| Names::run_of_stream(s).map(str::to_owned))
        .collect();
    runs.sort();
    Ok(runs)
}
