//! The messages of the protocol, as JSON with a version field `v`.
//! Byte strings (arguments, commands, output) travel as a JSON string when
//! they are UTF-8 and as `{"b64": "..."}` otherwise, so they stay
//! byte-exact.

use base64::Engine as _;
use fanout_core::{ExitKind, KillReason, Records};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

mod row;

/// The protocol version this build speaks; messages with another are
/// refused.
pub const VERSION: u32 = 3;

/// A run's incarnation: the start time (ns) of the coordinator that
/// published its spec. Every job, result and answer names the incarnation
/// it belongs to, so nothing of an earlier one is taken for this one.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Epoch(pub u64);

impl std::fmt::Display for Epoch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// A message's sequence number in its JetStream stream (not a job's
/// number: a message may carry several jobs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct StreamSeq(pub u64);

impl std::fmt::Display for StreamSeq {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// Header of an output chunk: the job it belongs to.
pub const SEQ_HEADER: &str = "Fanout-Seq";
/// Header of an output chunk: the delivery that produced it.
pub const TOKEN_HEADER: &str = "Fanout-Token";
/// Header of an output chunk: `out` or `err`.
pub const STREAM_HEADER: &str = "Fanout-Stream";

/// Bytes that serialize as a string when they are UTF-8.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Bytes(pub Vec<u8>);

/// The form of bytes that are not UTF-8.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Binary {
    b64: String,
}

impl Serialize for Bytes {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        BytesRef(&self.0).serialize(s)
    }
}

/// Borrowed bytes, serialized as [`Bytes`] are.
struct BytesRef<'a>(&'a [u8]);

impl Serialize for BytesRef<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match std::str::from_utf8(self.0) {
            Ok(t) => s.serialize_str(t),
            Err(_) => Binary {
                b64: base64::engine::general_purpose::STANDARD.encode(self.0),
            }
            .serialize(s),
        }
    }
}

impl<'de> Deserialize<'de> for Bytes {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(BytesVisitor)
    }
}

/// Reads either form without buffering it first, as `#[serde(untagged)]`
/// would: every argument of every job goes through here.
struct BytesVisitor;

impl<'de> serde::de::Visitor<'de> for BytesVisitor {
    type Value = Bytes;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str(r#"a string or {"b64": "..."}"#)
    }

    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Bytes, E> {
        Ok(Bytes(v.as_bytes().to_vec()))
    }

    fn visit_string<E: serde::de::Error>(self, v: String) -> Result<Bytes, E> {
        Ok(Bytes(v.into_bytes()))
    }

    fn visit_map<M: serde::de::MapAccess<'de>>(self, map: M) -> Result<Bytes, M::Error> {
        let Binary { b64 } =
            Binary::deserialize(serde::de::value::MapAccessDeserializer::new(map))?;
        base64::engine::general_purpose::STANDARD
            .decode(b64)
            .map(Bytes)
            .map_err(serde::de::Error::custom)
    }
}

/// How workers build and control a run's jobs; published once per run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunSpec {
    /// Protocol version.
    pub v: u32,
    /// Which incarnation of the run id this is (set by the coordinator
    /// that created the run, kept by `--resume`): a worker never runs a
    /// job of one incarnation with the spec of another.
    #[serde(default)]
    pub epoch: Epoch,
    /// The command words (empty: each input line is a command).
    pub command: Vec<Bytes>,
    /// The replacement string (`{}` or `-I`'s).
    pub replace: Bytes,
    /// `-q`.
    pub quote_command: bool,
    /// `--header` column names.
    pub header: Vec<Bytes>,
    /// Append ` {}` when the command has no replacement string.
    pub append_missing: bool,
    /// `-X`.
    pub context: bool,
    /// `--retries`: runs per job at most (0 and 1 both mean once).
    pub retries: u32,
    /// `--timeout` in seconds, or `N%` as a factor of the median runtime.
    pub timeout: Option<WireTimeout>,
    /// Deliveries of one job at most before it is reported lost.
    pub max_deliveries: u32,
    /// The consumer's ack wait, in milliseconds (workers heartbeat at a
    /// third of it).
    pub ack_wait_ms: u64,
    /// `--env`: variables (name, value) the coordinator's environment
    /// gives every job, on top of the worker's own.
    #[serde(default)]
    pub env: Vec<(Bytes, Bytes)>,
}

/// `--timeout` on the wire.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WireTimeout {
    /// Seconds.
    Secs(f64),
    /// A factor of the median runtime of succeeded jobs (`200%` is 2.0).
    Median(f64),
}

/// One message of the job stream: one job, or several consecutive short
/// ones (the coordinator packs jobs when they take little time, so the
/// broker's work per job stays small; see `docs/DISTRIBUTED.md`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct JobMsg {
    /// Protocol version.
    pub v: u32,
    /// The run's [`RunSpec::epoch`].
    pub epoch: Epoch,
    /// The jobs.
    pub jobs: Vec<WireJob>,
}

/// One job.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WireJob {
    /// Its sequence number (`{#}`).
    pub seq: u64,
    /// Its records: values per input column.
    pub records: Vec<Vec<Bytes>>,
}

/// A batch of results from one worker.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ResultBatch {
    /// Protocol version.
    pub v: u32,
    /// The run's [`RunSpec::epoch`]: results of an earlier incarnation of
    /// the run id are dropped.
    pub epoch: Epoch,
    /// The worker's id.
    pub worker: String,
    /// The results.
    pub results: Vec<WireResult>,
}

/// How a job ended, on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WireExit {
    /// Exit status.
    Code(i32),
    /// Killed by this signal.
    Signal(i32),
    /// Not started: this OS error.
    SpawnFailed(i32),
    /// Not run: the run is halting (not reported).
    Skipped,
}

impl From<ExitKind> for WireExit {
    fn from(e: ExitKind) -> Self {
        match e {
            ExitKind::Code(c) => WireExit::Code(c),
            ExitKind::Signal(s) => WireExit::Signal(s),
            ExitKind::SpawnFailed(e) => WireExit::SpawnFailed(e),
        }
    }
}

/// A job that was not run ([`WireExit::Skipped`]) has no exit.
impl TryFrom<WireExit> for ExitKind {
    type Error = WireExit;

    fn try_from(w: WireExit) -> Result<Self, WireExit> {
        match w {
            WireExit::Code(c) => Ok(ExitKind::Code(c)),
            WireExit::Signal(s) => Ok(ExitKind::Signal(s)),
            // An OS error of 0 would read as success to some callers.
            WireExit::SpawnFailed(0) => Ok(ExitKind::SpawnFailed(libc::EPERM)),
            WireExit::SpawnFailed(e) => Ok(ExitKind::SpawnFailed(e)),
            WireExit::Skipped => Err(w),
        }
    }
}

/// Why fanout killed a job, on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WireKill {
    /// `--timeout`.
    Timeout,
    /// `--memfree`.
    Memory,
}

/// A kill reason this protocol version has no name for is sent as
/// `timed_out` alone.
impl TryFrom<KillReason> for WireKill {
    type Error = KillReason;

    fn try_from(k: KillReason) -> Result<Self, KillReason> {
        match k {
            KillReason::Timeout => Ok(WireKill::Timeout),
            KillReason::Memory => Ok(WireKill::Memory),
            other => Err(other),
        }
    }
}

impl From<WireKill> for KillReason {
    fn from(k: WireKill) -> Self {
        match k {
            WireKill::Timeout => KillReason::Timeout,
            WireKill::Memory => KillReason::Memory,
        }
    }
}

/// One job's result. On the wire a row, not an object (see [`row`]).
#[derive(Debug, Clone)]
pub struct WireResult {
    /// The job.
    pub seq: u64,
    /// Which delivery of which worker ran it; output chunks carry the same
    /// token.
    pub token: String,
    /// The worker's slot (`{%}`).
    pub slot: u32,
    /// Failed runs before this one (`--retries`).
    pub attempt: u32,
    /// How it ended.
    pub exit: WireExit,
    /// Killed by fanout (set alongside `killed`, for peers that know
    /// only this field).
    pub timed_out: bool,
    /// Why fanout killed it.
    pub killed: Option<WireKill>,
    /// Start, in nanoseconds since the Unix epoch.
    pub start_ns: u64,
    /// Wall-clock run time in nanoseconds.
    pub runtime_ns: u64,
    /// CPU time in nanoseconds.
    pub cpu_ns: u64,
    /// Peak RSS in KiB.
    pub max_rss_kib: u64,
    /// Standard output, when small enough to travel inline.
    pub out: Option<Bytes>,
    /// Standard error, likewise.
    pub err: Option<Bytes>,
    /// Output too big to travel inline came before this result as chunks.
    pub chunked: bool,
}

/// A request to a coordinator (`fanout.<run>.ctl`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CtlRequest {
    /// Protocol version.
    pub v: u32,
    /// What is asked.
    pub op: CtlOp,
}

/// What a coordinator can be asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CtlOp {
    /// Its counts ([`Status`]).
    Status,
    /// To stop the run as on SIGTERM ([`CtlReply`]).
    Cancel,
}

/// A coordinator's answer to `cancel`, or to a request it cannot read.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CtlReply {
    /// Protocol version.
    pub v: u32,
    /// The request was taken.
    #[serde(default)]
    pub ok: bool,
    /// Why it was not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// A run's state, as its coordinator reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RunState {
    /// Publishing jobs and taking in results.
    #[default]
    Running,
    /// `--halt` decided to stop; running jobs finish.
    Halting,
}

/// A coordinator's answer to `status`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Status {
    /// Protocol version.
    pub v: u32,
    /// The run id.
    pub run: String,
    /// Running or halting.
    pub state: RunState,
    /// Jobs published.
    pub published: u64,
    /// Jobs with a recorded result.
    pub done: u64,
    /// Of those, failed.
    pub failed: u64,
    /// Published, no result yet.
    pub in_flight: u64,
    /// Whether all input was read.
    pub input_done: bool,
}

/// Broadcast to a run's workers (`fanout.<run>.stop`) and stored as the
/// run's state (`fanout.<run>.state`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StopMsg {
    /// Protocol version.
    pub v: u32,
    /// What workers are to do.
    pub halt: HaltState,
}

/// The halt state of a run, as workers are told it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HaltState {
    /// Run jobs (a coordinator started or resumed the run).
    Running,
    /// `--halt soon`: start nothing new, report what runs.
    Soon,
    /// `--halt now`, a cancel or a signal: kill running jobs, leave.
    Now,
    /// Every job has its result: leave.
    Done,
}

impl HaltState {
    /// True when a worker leaves the run.
    pub fn ends(self) -> bool {
        matches!(self, HaltState::Now | HaltState::Done)
    }
}

impl From<fanout_core::HaltWhen> for HaltState {
    fn from(w: fanout_core::HaltWhen) -> Self {
        match w {
            fanout_core::HaltWhen::Soon => HaltState::Soon,
            fanout_core::HaltWhen::Now => HaltState::Now,
        }
    }
}

impl StopMsg {
    /// The message for `halt`, encoded.
    pub fn encode(halt: HaltState) -> Vec<u8> {
        serde_json::to_vec(&StopMsg { v: VERSION, halt }).expect("a StopMsg encodes")
    }
}

/// A worker's word that it will not serve a run (`fanout.<run>.r.refused`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Refusal {
    /// Protocol version.
    pub v: u32,
    /// The run's [`RunSpec::epoch`] as the worker read it (0 if unreadable).
    pub epoch: Epoch,
    /// The worker's id.
    pub worker: String,
    /// Why.
    pub why: RefusalKind,
    /// The reason, for people.
    pub reason: String,
}

/// Why a worker refused a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RefusalKind {
    /// The spec is malformed, of another version, or out of range: no
    /// worker can serve it, so the run ends.
    Invalid,
    /// The spec is not signed by a key this worker trusts.
    Untrusted,
}

/// A worker saying it is alive, every [`BEAT`] on
/// [`crate::names::WORKERS`] (core NATS, not stored): what the dashboard
/// shows of each worker.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WorkerBeat {
    /// Protocol version.
    pub v: u32,
    /// The worker's id, as in its results.
    pub worker: String,
    /// Its host's name.
    pub host: String,
    /// Its job slots (`-j`).
    pub slots: u32,
    /// The run it serves now, if any.
    pub run: Option<String>,
    /// Its host's one-minute load average.
    pub load: f64,
}

/// How often a worker sends a [`WorkerBeat`].
pub const BEAT: std::time::Duration = std::time::Duration::from_secs(2);

/// Decodes a message, checking its version.
pub fn decode<'a, T: Deserialize<'a> + Versioned>(payload: &'a [u8]) -> Result<T, String> {
    let t: T = serde_json::from_slice(payload).map_err(|e| format!("malformed message: {e}"))?;
    match t.version() {
        VERSION => Ok(t),
        v => Err(format!(
            "message of protocol version {v}, this fanout speaks {VERSION}"
        )),
    }
}

/// Messages with a version field.
pub trait Versioned {
    /// The `v` field.
    fn version(&self) -> u32;
}

macro_rules! versioned {
    ($($t:ty),*) => {$(impl Versioned for $t { fn version(&self) -> u32 { self.v } })*};
}
versioned!(
    WorkerBeat,
    RunSpec,
    JobMsg,
    ResultBatch,
    CtlRequest,
    CtlReply,
    Status,
    StopMsg,
    Refusal
);

/// Bytes of each record value, as the engine wants them.
pub fn to_records(records: Vec<Vec<Bytes>>) -> Records {
    let mut out = Records::new();
    for r in &records {
        out.push_values(r.iter().map(|b| b.0.as_slice()));
    }
    out
}

/// A job to publish, borrowing its records: the JSON of a [`WireJob`]
/// without a copy of every value first (the coordinator writes each job
/// straight into the message that carries it).
#[derive(Serialize)]
pub struct WireJobRef<'a> {
    /// Its sequence number.
    pub seq: u64,
    /// Its records.
    pub records: RecordsRef<'a>,
}

/// Records serialized as [`WireJob::records`] are.
pub struct RecordsRef<'a>(pub &'a Records);

impl Serialize for RecordsRef<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.0.iter().map(ValuesRef))
    }
}

/// One record's values.
struct ValuesRef<'a>(fanout_core::Values<'a>);

impl Serialize for ValuesRef<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.0.clone().map(BytesRef))
    }
}

/// Record values as wire bytes.
pub fn from_records(records: &Records) -> Vec<Vec<Bytes>> {
    records
        .iter()
        .map(|r| r.map(|b| Bytes(b.to_vec())).collect())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_round_trip_text_and_binary() {
        for b in [
            &b"plain"[..],
            b"",
            b"\xff\xfe not utf8 \n",
            "é$'\"".as_bytes(),
        ] {
            let json = serde_json::to_string(&Bytes(b.to_vec())).unwrap();
            let back: Bytes = serde_json::from_str(&json).unwrap();
            assert_eq!(back.0, b);
        }
        assert_eq!(
            serde_json::to_string(&Bytes(b"a".to_vec())).unwrap(),
            "\"a\""
        );
        assert!(serde_json::to_string(&Bytes(vec![0xff]))
            .unwrap()
            .contains("b64"));
    }

    #[test]
    fn exits_and_kill_reasons_survive_the_round_trip() {
        for e in [
            ExitKind::Code(3),
            ExitKind::Signal(9),
            ExitKind::SpawnFailed(2),
        ] {
            assert_eq!(ExitKind::try_from(WireExit::from(e)), Ok(e));
        }
        assert_eq!(
            ExitKind::try_from(WireExit::Skipped),
            Err(WireExit::Skipped)
        );
        for k in [KillReason::Timeout, KillReason::Memory] {
            assert_eq!(KillReason::from(WireKill::try_from(k).unwrap()), k);
        }
    }

    #[test]
    fn protocol_states_keep_their_wire_names_and_unknown_ones_are_refused() {
        let stop = StopMsg::encode(HaltState::Soon);
        assert_eq!(stop, br#"{"v":3,"halt":"soon"}"#);
        assert_eq!(decode::<StopMsg>(&stop).unwrap().halt, HaltState::Soon);
        assert!(decode::<StopMsg>(br#"{"v":3,"halt":"later"}"#).is_err());
        let op = decode::<CtlRequest>(br#"{"v":3,"op":"cancel"}"#)
            .unwrap()
            .op;
        assert_eq!(op, CtlOp::Cancel);
        assert!(decode::<CtlRequest>(br#"{"v":3,"op":"reboot"}"#).is_err());
        assert_eq!(HaltState::from(fanout_core::HaltWhen::Now), HaltState::Now);
        assert!(HaltState::Done.ends() && !HaltState::Soon.ends());
    }

    #[test]
    fn other_versions_are_refused() {
        let ok = br#"{"v":3,"epoch":5,"jobs":[{"seq":3,"records":[["a"]]}]}"#;
        assert_eq!(decode::<JobMsg>(ok).unwrap().jobs[0].seq, 3);
        let old = br#"{"v":2,"epoch":5,"jobs":[]}"#;
        assert!(decode::<JobMsg>(old).unwrap_err().contains("version 2"));
        assert!(decode::<JobMsg>(b"{").is_err());
    }
}
