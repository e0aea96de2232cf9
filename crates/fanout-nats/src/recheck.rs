//! Asking the coordinator which jobs are already done before running them.
//!
//! A broker SIGKILLed and restarted can deliver again job messages that
//! workers had acked long before (nats-server 2.9 does not persist every
//! removal from a work-queue stream, nor every consumer ack: after a kill
//! the stream and its consumer go back to an older state), so jobs whose
//! results the coordinator already has would run again. A worker that has
//! lost its connection once therefore asks the coordinator, one request
//! for all the messages a pull has ready (`fanout.<run>.done`,
//! request/reply), which of their jobs it has recorded, and acks those
//! without running them. No answer (no coordinator, a slow one) means
//! running them all: at least once, as without the question.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::connect::Conn;
use crate::names::Names;
use crate::schema::{self, Epoch, Versioned, VERSION};
use crate::trust::{self, Kind, TrustedKeys};

/// How long a worker waits for the coordinator's answer.
const ASK_TIMEOUT: Duration = Duration::from_secs(2);

/// How long the coordinator may wait to take in stored results before it
/// answers (within the worker's wait).
pub(crate) const ANSWER_WITHIN: Duration = Duration::from_millis(1500);

/// Worker to coordinator: which of these jobs are done?
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DoneQuery {
    /// Protocol version.
    pub v: u32,
    /// The run's incarnation the jobs belong to.
    pub epoch: Epoch,
    /// Job numbers.
    pub seqs: Vec<u64>,
}

/// Coordinator to worker: those of the asked jobs whose results it has.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DoneReply {
    /// Protocol version.
    pub v: u32,
    /// The incarnation the answer is about.
    pub epoch: Epoch,
    /// Of the asked jobs, those already recorded.
    pub done: Vec<u64>,
}

impl Versioned for DoneQuery {
    fn version(&self) -> u32 {
        self.v
    }
}

impl Versioned for DoneReply {
    fn version(&self) -> u32 {
        self.v
    }
}

/// Worker side: the jobs of `seqs` the coordinator has recorded; none
/// when it does not answer in time, or (with `trusted` keys) when the
/// answer is not signed by one of them: a forged answer could otherwise
/// make a worker drop jobs that never ran.
pub(crate) async fn ask(
    conn: &Conn,
    n: &Names,
    trusted: &TrustedKeys,
    epoch: Epoch,
    seqs: Vec<u64>,
) -> Vec<u64> {
    if seqs.is_empty() {
        return Vec::new();
    }
    let Ok(query) = serde_json::to_vec(&DoneQuery {
        v: VERSION,
        epoch,
        seqs,
    }) else {
        return Vec::new();
    };
    let asked = conn.client.request(n.done.clone(), query.into());
    match tokio::time::timeout(ASK_TIMEOUT, asked).await {
        Ok(Ok(m)) => {
            let signed = trusted.is_empty()
                || trust::verify_msg(trusted, Kind::Done, &n.run, m.headers.as_ref(), &m.payload)
                    .is_ok();
            match schema::decode::<DoneReply>(&m.payload) {
                Ok(r) if signed && r.epoch == epoch => r.done,
                _ => Vec::new(),
            }
        }
        _ => Vec::new(),
    }
}

/// Coordinator side: the answer to a query (none for one it cannot read).
/// Jobs of another incarnation of the run are not this one's to call done.
pub(crate) fn answer(
    payload: &[u8],
    run_epoch: Epoch,
    done: impl Fn(u64) -> bool,
) -> Option<Vec<u8>> {
    let q = schema::decode::<DoneQuery>(payload).ok()?;
    let done = match q.epoch == run_epoch {
        true => q.seqs.into_iter().filter(|&s| done(s)).collect(),
        false => Vec::new(),
    };
    serde_json::to_vec(&DoneReply {
        v: VERSION,
        epoch: run_epoch,
        done,
    })
    .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_answer_names_only_done_jobs_of_the_same_incarnation() {
        let q = serde_json::to_vec(&DoneQuery {
            v: VERSION,
            epoch: Epoch(7),
            seqs: vec![1, 2, 3],
        })
        .unwrap();
        let a = answer(&q, Epoch(7), |s| s != 2).unwrap();
        let r: DoneReply = schema::decode(&a).unwrap();
        assert_eq!(r.done, [1, 3]);
        let a = answer(&q, Epoch(8), |_| true).unwrap();
        assert!(schema::decode::<DoneReply>(&a).unwrap().done.is_empty());
        assert!(answer(b"{}", Epoch(7), |_| true).is_none());
    }
}
