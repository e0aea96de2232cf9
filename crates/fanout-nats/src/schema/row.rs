//! A job's result on the wire: an array of the numbers every result has,
//! then, only when one is set, an object of the rare fields (output,
//! kills, chunks). Results are most of what a run sends through the
//! broker, one per job: as an object with names, the result of a job that
//! printed nothing took about 210 bytes; as this row, about 70. The broker,
//! the signatures and the coordinator's parser all cost by the byte.
//!
//! `[seq, token, slot, attempt, exit, start_ns, runtime_ns, cpu_ns,
//! max_rss_kib, {timed_out?, killed?, out?, err?, chunked?}?]`, where
//! `exit` is the exit status as a number, or `{"signal": N}`,
//! `{"spawn_failed": E}`, `"skipped"`.

use std::fmt;

use serde::de::{self, IntoDeserializer, MapAccess, SeqAccess, Visitor};
use serde::ser::SerializeTuple;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::{Bytes, WireExit, WireKill, WireResult};

/// The numbered members of a row; the rare fields' object may follow.
const MEMBERS: usize = 9;

/// The rare fields, as sent (borrowed).
#[derive(Serialize)]
struct RareRef<'a> {
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    timed_out: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    killed: Option<WireKill>,
    #[serde(skip_serializing_if = "Option::is_none")]
    out: Option<&'a Bytes>,
    #[serde(skip_serializing_if = "Option::is_none")]
    err: Option<&'a Bytes>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    chunked: bool,
}

/// The rare fields, as read; any may be missing.
#[derive(Deserialize)]
struct Rare {
    #[serde(default)]
    timed_out: bool,
    #[serde(default)]
    killed: Option<WireKill>,
    #[serde(default)]
    out: Option<Bytes>,
    #[serde(default)]
    err: Option<Bytes>,
    #[serde(default)]
    chunked: bool,
}

impl<'a> RareRef<'a> {
    /// The rare fields of `r`, or `None` when none is set.
    fn of(r: &'a WireResult) -> Option<Self> {
        let rare = r.timed_out || r.killed.is_some() || r.out.is_some() || r.err.is_some();
        (rare || r.chunked).then_some(RareRef {
            timed_out: r.timed_out,
            killed: r.killed,
            out: r.out.as_ref(),
            err: r.err.as_ref(),
            chunked: r.chunked,
        })
    }
}

impl Serialize for WireResult {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let rare = RareRef::of(self);
        let mut t = s.serialize_tuple(MEMBERS + usize::from(rare.is_some()))?;
        t.serialize_element(&self.seq)?;
        t.serialize_element(&self.token)?;
        t.serialize_element(&self.slot)?;
        t.serialize_element(&self.attempt)?;
        t.serialize_element(&Exit(self.exit))?;
        t.serialize_element(&self.start_ns)?;
        t.serialize_element(&self.runtime_ns)?;
        t.serialize_element(&self.cpu_ns)?;
        t.serialize_element(&self.max_rss_kib)?;
        if let Some(rare) = rare {
            t.serialize_element(&rare)?;
        }
        t.end()
    }
}

impl<'de> Deserialize<'de> for WireResult {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_seq(RowVisitor)
    }
}

struct RowVisitor;

impl<'de> Visitor<'de> for RowVisitor {
    type Value = WireResult;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "a result row of {MEMBERS} or {} members", MEMBERS + 1)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<WireResult, A::Error> {
        let mut r = WireResult {
            seq: next_of(&mut seq, 0, &self)?,
            token: next_of(&mut seq, 1, &self)?,
            slot: next_of(&mut seq, 2, &self)?,
            attempt: next_of(&mut seq, 3, &self)?,
            exit: next_of::<_, Exit>(&mut seq, 4, &self)?.0,
            start_ns: next_of(&mut seq, 5, &self)?,
            runtime_ns: next_of(&mut seq, 6, &self)?,
            cpu_ns: next_of(&mut seq, 7, &self)?,
            max_rss_kib: next_of(&mut seq, 8, &self)?,
            timed_out: false,
            killed: None,
            out: None,
            err: None,
            chunked: false,
        };
        if let Some(rare) = seq.next_element::<Rare>()? {
            r.timed_out = rare.timed_out;
            r.killed = rare.killed;
            r.out = rare.out;
            r.err = rare.err;
            r.chunked = rare.chunked;
        }
        if seq.next_element::<de::IgnoredAny>()?.is_some() {
            return Err(de::Error::invalid_length(MEMBERS + 2, &self));
        }
        Ok(r)
    }
}

/// Member `at` of a row, which must be there.
fn next_of<'de, A: SeqAccess<'de>, T: Deserialize<'de>>(
    seq: &mut A,
    at: usize,
    row: &RowVisitor,
) -> Result<T, A::Error> {
    seq.next_element()?
        .ok_or_else(|| de::Error::invalid_length(at, row))
}

/// An exit on the wire: a status as a bare number (nearly every result),
/// anything else as [`WireExit`] says.
struct Exit(WireExit);

impl Serialize for Exit {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            WireExit::Code(c) => s.serialize_i32(c),
            other => other.serialize(s),
        }
    }
}

impl<'de> Deserialize<'de> for Exit {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ExitVisitor)
    }
}

struct ExitVisitor;

impl<'de> Visitor<'de> for ExitVisitor {
    type Value = Exit;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an exit status or a way a job ended")
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Exit, E> {
        status(v)
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Exit, E> {
        status(v)
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Exit, E> {
        WireExit::deserialize(v.into_deserializer()).map(Exit)
    }

    fn visit_map<M: MapAccess<'de>>(self, map: M) -> Result<Exit, M::Error> {
        WireExit::deserialize(de::value::MapAccessDeserializer::new(map)).map(Exit)
    }
}

/// An exit status read as a number, which must fit an `i32`.
fn status<E: de::Error, N: TryInto<i32> + fmt::Display + Copy>(v: N) -> Result<Exit, E> {
    let c = v
        .try_into()
        .map_err(|_| E::custom(format!("exit status {v} out of range")))?;
    Ok(Exit(WireExit::Code(c)))
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn exit() -> impl Strategy<Value = WireExit> {
        prop_oneof![
            any::<i32>().prop_map(WireExit::Code),
            any::<i32>().prop_map(WireExit::Signal),
            any::<i32>().prop_map(WireExit::SpawnFailed),
            Just(WireExit::Skipped),
        ]
    }

    fn bytes() -> impl Strategy<Value = Option<Bytes>> {
        proptest::option::of(proptest::collection::vec(any::<u8>(), 0..20).prop_map(Bytes))
    }

    proptest! {
        /// Whatever a result holds, its row reads back as the same result.
        #[test]
        fn every_result_reads_back_from_its_row(
            seq in any::<u64>(), token in ".{0,20}", slot in any::<u32>(),
            attempt in any::<u32>(), exit in exit(), timed_out in any::<bool>(),
            killed in proptest::option::of(prop_oneof![Just(WireKill::Timeout), Just(WireKill::Memory)]),
            ns in any::<[u64; 4]>(), out in bytes(), err in bytes(), chunked in any::<bool>(),
        ) {
            let r = WireResult {
                seq, token, slot, attempt, exit, timed_out, killed,
                start_ns: ns[0], runtime_ns: ns[1], cpu_ns: ns[2], max_rss_kib: ns[3],
                out, err, chunked,
            };
            let row = serde_json::to_vec(&r).unwrap();
            let back: WireResult = serde_json::from_slice(&row).unwrap();
            prop_assert_eq!(format!("{back:?}"), format!("{r:?}"));
        }
    }

    fn plain() -> WireResult {
        WireResult {
            seq: 123_456,
            token: "host-4242.7812.1".into(),
            slot: 12,
            attempt: 0,
            exit: WireExit::Code(0),
            timed_out: false,
            killed: None,
            start_ns: 1_764_800_000_123_456_789,
            runtime_ns: 48_213,
            cpu_ns: 0,
            max_rss_kib: 0,
            out: None,
            err: None,
            chunked: false,
        }
    }

    #[test]
    fn a_job_that_printed_nothing_is_a_short_row_of_numbers() {
        let row = serde_json::to_string(&plain()).unwrap();
        assert_eq!(
            row,
            r#"[123456,"host-4242.7812.1",12,0,0,1764800000123456789,48213,0,0]"#
        );
    }

    #[test]
    fn output_and_kills_follow_the_numbers_as_one_object() {
        let mut r = plain();
        r.exit = WireExit::Signal(9);
        r.timed_out = true;
        r.killed = Some(WireKill::Timeout);
        r.out = Some(Bytes(b"hi\n".to_vec()));
        let row = serde_json::to_string(&r).unwrap();
        assert!(
            row.ends_with(r#",{"timed_out":true,"killed":"timeout","out":"hi\n"}]"#),
            "{row}"
        );
        assert!(row.contains(r#",{"signal":9},"#), "{row}");
    }

    #[test]
    fn a_row_too_short_too_long_or_out_of_range_is_refused() {
        let bad = [
            r#"[1,"t",1,0,0,0,0,0]"#,
            r#"[1,"t",1,0,0,0,0,0,0,{},5]"#,
            r#"[1,"t",1,0,4294967296,0,0,0,0]"#,
            r#"[1,"t",1,0,"exploded",0,0,0,0]"#,
            r#"{"seq":1,"token":"t","slot":1,"attempt":0,"exit":{"code":0},"start_ns":0,"runtime_ns":0,"cpu_ns":0,"max_rss_kib":0}"#,
        ];
        for row in bad {
            assert!(serde_json::from_str::<WireResult>(row).is_err(), "{row}");
        }
        let ok: WireResult = serde_json::from_str(r#"[1,"t",1,0,{"code":3},0,0,0,0,{}]"#).unwrap();
        assert_eq!(ok.exit, WireExit::Code(3));
    }
}
