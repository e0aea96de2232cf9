//! Creating, finding and deleting a run's streams and consumers, using
//! only fields nats-server 2.9 understands (it drops newer ones silently).

use std::time::Duration;

use async_nats::jetstream::consumer::{pull, AckPolicy, DeliverPolicy, PullConsumer};
use async_nats::jetstream::context::{
    ConsumerInfoError, ConsumerInfoErrorKind, GetStreamError, GetStreamErrorKind,
};
use async_nats::jetstream::stream::{Config, DiscardPolicy, RetentionPolicy, Stream};
use async_nats::jetstream::{Context, ErrorCode};

use crate::error::broker;
use crate::names::{workers, Names};
use crate::Result;

/// The largest job or result message fanout sends (below the server's
/// `max_payload` when that is smaller).
pub(crate) const MAX_MESSAGE: usize = 1 << 20;

/// Creates the run's streams (or finds them), each kept on `replicas`
/// servers of a cluster.
pub(crate) async fn create(js: &Context, n: &Names, replicas: usize) -> Result<(Stream, Stream)> {
    let jobs = js
        .get_or_create_stream(Config {
            name: n.jobs_stream.clone(),
            subjects: vec![n.jobs.clone()],
            retention: RetentionPolicy::WorkQueue,
            discard: DiscardPolicy::Old,
            max_message_size: MAX_MESSAGE as i32,
            // Publishes retried after a broker restart are dropped as
            // duplicates by their message id.
            duplicate_window: Duration::from_secs(120),
            num_replicas: replicas,
            ..Default::default()
        })
        .await
        .map_err(broker)?;
    let results = js
        .get_or_create_stream(Config {
            name: n.results_stream.clone(),
            subjects: vec![n.results_all.clone(), n.spec.clone(), n.state.clone()],
            retention: RetentionPolicy::Limits,
            discard: DiscardPolicy::Old,
            max_message_size: MAX_MESSAGE as i32,
            duplicate_window: Duration::from_secs(120),
            num_replicas: replicas,
            ..Default::default()
        })
        .await
        .map_err(broker)?;
    Ok((jobs, results))
}

/// Creates the workers' consumer of incarnation `epoch` (or finds it).
pub(crate) async fn workers_consumer(
    jobs: &Stream,
    epoch: crate::schema::Epoch,
    ack_wait: Duration,
) -> Result<PullConsumer> {
    let name = workers(epoch);
    jobs.get_or_create_consumer(
        &name,
        pull::Config {
            durable_name: Some(name.clone()),
            ack_policy: AckPolicy::Explicit,
            ack_wait,
            // Workers count deliveries themselves and report a job
            // lost past the limit, so it never sits in the stream.
            max_deliver: -1,
            // 2.9's default of 1000 would stall big pulls.
            max_ack_pending: -1,
            deliver_policy: DeliverPolicy::All,
            ..Default::default()
        },
    )
    .await
    .map_err(broker)
}

/// A consumer of every result and output chunk from the start, for one
/// coordinator process (a resumed coordinator replays all of them).
pub(crate) async fn results_consumer(
    results: &Stream,
    n: &Names,
    name: &str,
) -> Result<PullConsumer> {
    results
        .create_consumer(pull::Config {
            durable_name: Some(name.into()),
            // Each message acked on its own: an ack that covered earlier
            // ones could cover one lost on the way (a broker restart).
            // Workers send results in batches, so acks are few.
            ack_policy: AckPolicy::Explicit,
            ack_wait: Duration::from_secs(10),
            max_ack_pending: -1,
            deliver_policy: DeliverPolicy::All,
            filter_subject: n.results_all.clone(),
            // A coordinator that dies leaves its consumer behind; the
            // server removes it once idle this long.
            inactive_threshold: Duration::from_secs(3600),
            ..Default::default()
        })
        .await
        .map_err(broker)
}

/// Deletes a run's streams (and with them its consumers); a stream that is
/// already gone is not an error.
pub(crate) async fn delete(js: &Context, n: &Names) -> Result<()> {
    for s in [&n.jobs_stream, &n.results_stream] {
        if let Err(e) = js.delete_stream(s).await {
            match e.kind() {
                GetStreamErrorKind::JetStream(j) if is_missing(&j) => {}
                _ => return Err(broker(e)),
            }
        }
    }
    Ok(())
}

/// Whether the server says the stream or consumer does not exist (by its
/// error code, never by the message text).
pub(crate) fn is_missing(e: &async_nats::jetstream::Error) -> bool {
    matches!(
        e.error_code(),
        ErrorCode::STREAM_NOT_FOUND | ErrorCode::CONSUMER_NOT_FOUND
    )
}

/// Whether an answer to a stream lookup says the stream does not exist
/// (a request that failed says nothing).
pub(crate) fn stream_missing(e: &GetStreamError) -> bool {
    matches!(e.kind(), GetStreamErrorKind::JetStream(j) if is_missing(&j))
}

/// Whether an answer to a consumer lookup says it (or its stream) does not
/// exist.
pub(crate) fn consumer_missing(e: &ConsumerInfoError) -> bool {
    match e.kind() {
        ConsumerInfoErrorKind::NotFound | ConsumerInfoErrorKind::StreamNotFound => true,
        ConsumerInfoErrorKind::JetStream(j) => is_missing(&j),
        _ => false,
    }
}
