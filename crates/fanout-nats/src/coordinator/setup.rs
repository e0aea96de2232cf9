//! A coordinator's start: refuse a run id that is active, make (or, on
//! resume, keep) the run's streams and consumers, publish the spec, and
//! announce the run to workers.

use std::collections::{HashMap, HashSet};

use async_nats::jetstream::message::PublishMessage;
use futures_util::stream::FuturesUnordered;

use fanout_core::exec::Spool;
use fanout_core::joblog::SeqSet;
use fanout_core::Commands;

use super::{Coord, CoordinatorOptions};
use crate::connect::Conn;
use crate::error::broker;
use crate::names::{Names, ANNOUNCE};
use crate::schema::{
    self, CtlOp, CtlRequest, Epoch, HaltState, RunSpec, StopMsg, StreamSeq, VERSION,
};
use crate::trust::{with_signature, Kind};
use crate::{streams, Error, Result};

impl<'a> Coord<'a> {
    /// Sets the run up on the broker.
    pub(super) async fn start(
        conn: Conn,
        commands: &'a Commands,
        opts: CoordinatorOptions,
        spec: RunSpec,
    ) -> Result<Coord<'a>> {
        let n = Names::new(&opts.run_id)?;
        let status = CtlRequest {
            v: VERSION,
            op: CtlOp::Status,
        };
        let asked = conn
            .client
            .request(
                n.ctl.clone(),
                serde_json::to_vec(&status).map_err(broker)?.into(),
            )
            .await;
        if asked.is_ok() {
            return Err(Error::Active(n.run.clone()));
        }
        if !opts.resume {
            streams::delete(&conn.js, &n).await?;
        }
        let (jobs, results) = streams::create(&conn.js, &n, opts.replicas).await?;
        let epoch = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        let results_name = format!("coordinator-{epoch}");
        let mut spec = spec;
        // A resumed run keeps its incarnation, so the jobs already in the
        // stream are still its own.
        spec.epoch = match (opts.resume, last_spec(&results, &n).await) {
            (true, Some(old)) => old.epoch,
            _ => Epoch(epoch),
        };
        let run_epoch = spec.epoch;
        streams::workers_consumer(&jobs, run_epoch, opts.ack_wait).await?;
        let results = streams::results_consumer(&results, &n, &results_name).await?;
        let spec_bytes = serde_json::to_vec(&spec).map_err(broker)?;
        let sig = opts
            .sign
            .as_ref()
            .map(|k| k.sign(Kind::Spec, &n.run, &spec_bytes));
        let m = with_signature(PublishMessage::build(), sig.as_ref());
        conn.js
            .send_publish(n.spec.clone(), m.payload(spec_bytes.into()))
            .await
            .map_err(broker)?
            .await
            .map_err(broker)?;
        // A halt state left by an earlier coordinator of this run (one
        // killed while halting) no longer holds.
        let running = StopMsg::encode(HaltState::Running);
        let _ = conn
            .client
            .publish(n.stop.clone(), running.clone().into())
            .await;
        conn.js
            .publish(n.state.clone(), running.into())
            .await
            .map_err(broker)?
            .await
            .map_err(broker)?;
        let _ = conn.client.publish(ANNOUNCE, n.run.clone().into()).await;
        Ok(Coord {
            spool: Spool::new(opts.spool_threshold),
            recorded: SeqSet::default(),
            conn,
            n,
            commands,
            results,
            results_name,
            queued: HashSet::new(),
            early: HashMap::new(),
            chunks: HashMap::new(),
            acks: FuturesUnordered::new(),
            epoch,
            run_epoch,
            published: 0,
            done: 0,
            draining: false,
            pack: Default::default(),
            avg_runtime_ns: None,
            started_at: std::time::Instant::now(),
            taken: StreamSeq(0),
            deferred: Vec::new(),
            probe_end: None,
            quiet_news: Some(std::time::Instant::now() + std::time::Duration::from_secs(5)),
            inbox: None,
            warned: HashSet::new(),
            opts,
        })
    }
}

/// The spec a run already has on the broker.
async fn last_spec(results: &async_nats::jetstream::stream::Stream, n: &Names) -> Option<RunSpec> {
    let m = results
        .get_last_raw_message_by_subject(&n.spec)
        .await
        .ok()?;
    schema::decode(&m.payload).ok()
}
