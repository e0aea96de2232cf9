//! The worker's gate, fuzzed: arbitrary bytes and well-formed but hostile
//! JSON never panic, never pass a worker that trusts a key, and what
//! passes an open worker is in range.

use proptest::prelude::*;
use serde_json::json;

use super::*;
use crate::trust::{keygen, SecretKey, KEY_HEADER, SIG_HEADER};

fn keys() -> (SecretKey, TrustedKeys) {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("k");
    keygen(&p).unwrap();
    (
        SecretKey::load(&p).unwrap(),
        TrustedKeys::load(&[dir.path().join("k.pub")]).unwrap(),
    )
}

fn headers(key: &str, sig: &str) -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert(KEY_HEADER, key);
    h.insert(SIG_HEADER, sig);
    h
}

/// Numbers as a hostile client would send them.
fn number() -> impl Strategy<Value = serde_json::Value> {
    prop_oneof![
        any::<i64>().prop_map(|n| json!(n)),
        any::<u64>().prop_map(|n| json!(n)),
        prop::num::f64::NORMAL.prop_map(|f| json!(f)),
        Just(json!(1e300)),
        Just(json!(-1e300)),
        Just(json!(0)),
        Just(json!(-1)),
        Just(json!(u64::MAX)),
        Just(json!(null)),
        Just(json!("7")),
    ]
}

fn text() -> impl Strategy<Value = serde_json::Value> {
    prop_oneof![
        "[{}#%/.a-z ;$`()=-]{0,12}".prop_map(|s| json!(s)),
        Just(json!({"b64": "!!"})),
        Just(json!({"b64": "aGk="})),
        Just(json!(5)),
    ]
}

fn hostile_spec() -> impl Strategy<Value = serde_json::Value> {
    (
        prop::collection::vec(text(), 0..4),
        text(),
        (number(), number(), number(), number()),
        prop_oneof![
            number().prop_map(|n| json!({ "secs": n })),
            number().prop_map(|n| json!({ "median": n })),
            Just(json!(null)),
            Just(json!("forever")),
        ],
        any::<bool>(),
    )
        .prop_map(
            |(command, replace, (epoch, retries, max_deliveries, ack), timeout, flag)| {
                json!({
                    "v": schema::VERSION, "epoch": epoch, "command": command, "replace": replace,
                    "quote_command": flag, "header": [], "append_missing": !flag, "context": flag,
                    "retries": retries, "timeout": timeout, "max_deliveries": max_deliveries,
                    "ack_wait_ms": ack,
                })
            },
        )
}

fn hostile_jobs() -> impl Strategy<Value = serde_json::Value> {
    let job = (
        prop_oneof![0u64..4, Just(u64::MAX)],
        prop::collection::vec(prop::collection::vec(text(), 0..3), 0..3),
    )
        .prop_map(|(seq, records)| json!({"seq": seq, "records": records}));
    (prop::collection::vec(job, 0..6), number())
        .prop_map(|(jobs, epoch)| json!({"v": schema::VERSION, "epoch": epoch, "jobs": jobs}))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic_and_never_pass_a_trusting_worker(
        payload in prop::collection::vec(any::<u8>(), 0..300),
        key in "[A-Za-z0-9+/=]{0,50}",
        sig in "[A-Za-z0-9+/=]{0,90}",
    ) {
        let (_, trusted) = keys();
        let h = headers(&key, &sig);
        prop_assert!(spec(&trusted, "r", Some(&h), &payload).is_err());
        prop_assert!(jobs(&trusted, "r", Epoch(1), Some(&h), &payload).is_err());
        let open = TrustedKeys::default();
        let _ = spec(&open, "r", None, &payload);
        let _ = jobs(&open, "r", Epoch(1), None, &payload);
    }

    #[test]
    fn a_hostile_spec_is_refused_or_safe_to_run(v in hostile_spec(), record in "[a-z{}]{0,5}") {
        let payload = serde_json::to_vec(&v).unwrap();
        let open = TrustedKeys::default();
        if let Ok((s, _)) = spec(&open, "r", None, &payload) {
            // What a worker then does with it must not panic either.
            if let Some(t) = s.timeout {
                prop_assert!(crate::check::timeout(t).is_ok());
            }
            let c = commands(&s).unwrap();
            let args = fanout_core::JobArgs {
                seq: fanout_core::JobSeq(1),
                records: vec![vec![record.into_bytes()]].into(),
                stdin: None,
            };
            let _ = c.render(&args, fanout_core::SlotId(1));
        }
        // Unsigned, it never passes a worker that trusts a key.
        let (_, trusted) = keys();
        prop_assert!(spec(&trusted, "r", None, &payload).is_err());
    }

    #[test]
    fn a_hostile_job_message_never_names_a_job_twice(v in hostile_jobs()) {
        let payload = serde_json::to_vec(&v).unwrap();
        let epoch = v["epoch"].as_u64().unwrap_or(0);
        let open = TrustedKeys::default();
        if let Ok(m) = jobs(&open, "r", Epoch(epoch), None, &payload) {
            let mut seqs: Vec<u64> = m.jobs.iter().map(|j| j.seq).collect();
            prop_assert!(seqs.iter().all(|s| *s >= 1));
            let n = seqs.len();
            seqs.sort_unstable();
            seqs.dedup();
            prop_assert_eq!(seqs.len(), n);
            prop_assert!(n >= 1);
        }
    }

    #[test]
    fn a_hostile_result_is_refused_or_in_range(
        slot in number(), attempt in number(), code in number(),
        exit_kind in 0..5usize, ns in number(),
    ) {
        let exit = match exit_kind {
            0 => json!(code),
            4 => json!({"code": code}),
            1 => json!({"signal": code}),
            2 => json!({"spawn_failed": code}),
            _ => json!("skipped"),
        };
        let v = json!({"v": schema::VERSION, "epoch": 1, "worker": "w", "results": [
            [1, "t", slot, attempt, exit, ns, ns, ns, ns, {"out": "x"}],
        ]});
        let payload = serde_json::to_vec(&v).unwrap();
        if let Ok(b) = schema::decode::<schema::ResultBatch>(&payload) {
            for r in &b.results {
                if crate::check::result(r).is_ok() {
                    prop_assert!(r.slot >= 1);
                }
            }
        }
    }
}

#[test]
fn a_signed_spec_passes_and_one_changed_byte_does_not() {
    let (key, trusted) = keys();
    let spec_json = br#"{"v":3,"epoch":1,"command":["echo"],"replace":"{}","quote_command":false,"header":[],"append_missing":true,"context":false,"retries":0,"timeout":null,"max_deliveries":5,"ack_wait_ms":30000}"#;
    let (k, s) = key.sign(Kind::Spec, "r", spec_json);
    let h = headers(&k, &s);
    assert!(spec(&trusted, "r", Some(&h), spec_json).is_ok());
    assert!(spec(&trusted, "other", Some(&h), spec_json).is_err());
    let mut changed = spec_json.to_vec();
    changed[40] ^= 1;
    assert!(spec(&trusted, "r", Some(&h), &changed).is_err());
    // A spec signature does not make a job message.
    let jobs_json = br#"{"v":3,"epoch":1,"jobs":[{"seq":1,"records":[["a"]]}]}"#;
    let (k, s) = key.sign(Kind::Spec, "r", jobs_json);
    let h = headers(&k, &s);
    assert!(matches!(
        jobs(&trusted, "r", Epoch(1), Some(&h), jobs_json),
        Err(JobRefusal::Untrusted(_))
    ));
}

#[test]
fn allow_refuses_newlines_backticks_and_dollar_paren() {
    let allow = [regex::bytes::Regex::new("^(?:gzip [^;|&]*)$").unwrap()];
    assert!(allowed(&allow, false, b"gzip -9 a.log"));
    for smuggled in [
        &b"gzip -h\ntouch X"[..],
        b"gzip `touch X`",
        b"gzip $(touch X)",
    ] {
        assert!(!allowed(&allow, false, smuggled));
        assert!(allowed(&allow, true, smuggled));
    }
    assert!(allowed(&[], false, b"anything\n"));
}

#[test]
fn jobs_must_be_signed_by_the_key_that_signed_the_spec() {
    let dir = tempfile::tempdir().unwrap();
    for name in ["a", "b"] {
        keygen(&dir.path().join(name)).unwrap();
    }
    let a = SecretKey::load(&dir.path().join("a")).unwrap();
    let b = SecretKey::load(&dir.path().join("b")).unwrap();
    let both = TrustedKeys::load(&[dir.path().join("a.pub"), dir.path().join("b.pub")]).unwrap();
    let spec_json = br#"{"v":3,"epoch":1,"command":["echo"],"replace":"{}","quote_command":false,"header":[],"append_missing":true,"context":false,"retries":0,"timeout":null,"max_deliveries":5,"ack_wait_ms":30000}"#;
    let (k, s) = a.sign(Kind::Spec, "r", spec_json);
    let (_, signer) = spec(&both, "r", Some(&headers(&k, &s)), spec_json).unwrap();
    let jobs_json = br#"{"v":3,"epoch":1,"jobs":[{"seq":1,"records":[["a"]]}]}"#;
    let (k, s) = b.sign(Kind::Jobs, "r", jobs_json);
    assert!(matches!(
        jobs(&signer, "r", Epoch(1), Some(&headers(&k, &s)), jobs_json),
        Err(JobRefusal::Untrusted(_))
    ));
    let (k, s) = a.sign(Kind::Jobs, "r", jobs_json);
    assert!(jobs(&signer, "r", Epoch(1), Some(&headers(&k, &s)), jobs_json).is_ok());
}
