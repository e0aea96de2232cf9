//! Hostile broker clients against real workers and coordinators: each
//! test does what one reproduction of a finding did, as any client with
//! access to the broker could, and checks that nothing runs, nothing
//! crashes and nothing forged ends up in a job log.

mod common;

use async_nats::jetstream::{self, consumer, stream};
use serde_json::{json, Value};

use common::nats::{self, lines, wait_for, Nats, Worker};
use common::{fanout, Fanout};

/// The protocol version the messages made up here speak.
const V: u32 = fanout_nats::schema::VERSION;

/// A job's result as a worker sends it: a row (see `schema/row.rs`),
/// with `rare` (output, kills) as its last member when not null.
fn result_row(seq: u64, exit: i64, rare: Value) -> Value {
    let mut row = json!([seq, "t", 1, 0, exit, 0, 1, 0, 0]);
    if !rare.is_null() {
        row.as_array_mut().unwrap().push(rare);
    }
    row
}

/// A raw NATS client speaking fanout's schema.
struct Client {
    rt: tokio::runtime::Runtime,
    nc: async_nats::Client,
    js: jetstream::Context,
}

impl Client {
    fn new(url: &str) -> Client {
        Client::connect(url, async_nats::ConnectOptions::new())
    }

    fn connect(url: &str, opts: async_nats::ConnectOptions) -> Client {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let nc = rt.block_on(opts.connect(url)).unwrap();
        let js = rt.block_on(async { jetstream::new(nc.clone()) });
        Client { rt, nc, js }
    }

    /// Creates run `run` as a coordinator would, with this spec (its
    /// `epoch` set) and these job messages; returns the epoch.
    fn create_run(&self, run: &str, mut spec: Value, jobs: &[Value]) -> u64 {
        let epoch = 1_000 + u64::from(std::process::id());
        spec["epoch"] = json!(epoch);
        self.rt.block_on(async {
            let jobs_stream = self
                .js
                .create_stream(stream::Config {
                    name: format!("FANOUT_{run}_JOBS"),
                    subjects: vec![format!("fanout.{run}.jobs")],
                    retention: stream::RetentionPolicy::WorkQueue,
                    ..Default::default()
                })
                .await
                .unwrap();
            self.js
                .create_stream(stream::Config {
                    name: format!("FANOUT_{run}_RESULTS"),
                    subjects: vec![
                        format!("fanout.{run}.r.>"),
                        format!("fanout.{run}.spec"),
                        format!("fanout.{run}.state"),
                    ],
                    ..Default::default()
                })
                .await
                .unwrap();
            jobs_stream
                .create_consumer(consumer::pull::Config {
                    durable_name: Some(format!("workers-{epoch}")),
                    ack_policy: consumer::AckPolicy::Explicit,
                    ..Default::default()
                })
                .await
                .unwrap();
        });
        self.publish(&format!("fanout.{run}.spec"), &spec);
        for j in jobs {
            let mut j = j.clone();
            j["epoch"] = json!(epoch);
            self.publish(&format!("fanout.{run}.jobs"), &j);
        }
        self.rt
            .block_on(self.nc.publish("fanout.announce", run.to_owned().into()))
            .unwrap();
        epoch
    }

    /// Publishes to a stream and waits for it to be stored.
    fn publish(&self, subject: &str, v: &Value) {
        self.rt.block_on(async {
            let payload = serde_json::to_vec(v).unwrap();
            let ack = self.js.publish(subject.to_owned(), payload.into()).await;
            ack.unwrap().await.unwrap();
        });
    }

    /// The run's spec once its coordinator has published it.
    fn spec_of(&self, run: &str) -> Value {
        let mut found = None;
        wait_for("the run's spec", || {
            found = self.rt.block_on(async {
                let s = self
                    .js
                    .get_stream(format!("FANOUT_{run}_RESULTS"))
                    .await
                    .ok()?;
                let subject = format!("fanout.{run}.spec");
                let m = s.get_last_raw_message_by_subject(&subject).await.ok()?;
                Some(m.payload.to_vec())
            });
            found.is_some()
        });
        serde_json::from_slice(&found.unwrap()).unwrap()
    }

    /// Messages left in the run's job stream.
    fn jobs_left(&self, run: &str) -> u64 {
        self.rt.block_on(async {
            let mut s = self
                .js
                .get_stream(format!("FANOUT_{run}_JOBS"))
                .await
                .unwrap();
            s.info().await.unwrap().state.messages
        })
    }
}

fn spec(command: &str) -> Value {
    json!({"v": V, "epoch": 0, "command": [command], "replace": "{}", "quote_command": false,
           "header": [], "append_missing": true, "context": false, "retries": 0,
           "timeout": null, "max_deliveries": 5, "ack_wait_ms": 30000})
}

fn jobs(list: &[(u64, &str)]) -> Value {
    let jobs: Vec<Value> = list
        .iter()
        .map(|(seq, v)| json!({"seq": seq, "records": [[v]]}))
        .collect();
    json!({"v": V, "epoch": 0, "jobs": jobs})
}

/// An unsigned coordinator, for workers started with `--insecure`.
fn unsigned(nats: &Nats, args: &[&str]) -> Fanout {
    fanout(["--broker", &nats.url()]).args(args)
}

fn alive(w: &mut Worker) -> bool {
    w.child.try_wait().unwrap().is_none()
}

#[test]
fn a_spec_with_a_timeout_of_1e300_does_not_crash_workers() {
    let nats = Nats::start(&[]);
    let mut w = Worker::start_with(&nats.url(), &["-j2", "--insecure"]);
    let c = Client::new(&nats.url());
    let mut poison = spec("echo");
    poison["timeout"] = json!({"secs": 1e300});
    c.create_run("poison", poison, &[jobs(&[(1, "x")])]);
    wait_for("the refusal", || w.stderr().contains("refusing run poison"));
    assert!(alive(&mut w), "{}", w.stderr());
    // The poisoned run stays on the broker; other runs are still served.
    unsigned(&nats, &["echo", ":::", "still serving"])
        .run()
        .code(0)
        .stdout_is("still serving\n");
    assert!(alive(&mut w));
}

#[test]
fn a_spec_with_a_bad_env_name_is_refused() {
    let nats = Nats::start(&[]);
    let mut w = Worker::start_with(&nats.url(), &["-j2", "--insecure"]);
    let c = Client::new(&nats.url());
    let mut poison = spec("echo");
    poison["env"] = json!([["LD_PRELOAD=/x", "y"]]);
    c.create_run("badenv", poison, &[jobs(&[(1, "x")])]);
    wait_for("the refusal", || w.stderr().contains("refusing run badenv"));
    assert!(w.stderr().contains("env out of range"), "{}", w.stderr());
    assert!(alive(&mut w), "{}", w.stderr());
}

#[test]
fn a_spec_no_worker_can_serve_ends_the_run_with_a_clear_error() {
    let nats = Nats::start(&[]);
    let run = nats::start(unsigned(&nats, &["--run-id", "victim", "echo", ":::", "1"]));
    let c = Client::new(&nats.url());
    let mut bad = c.spec_of("victim");
    bad["ack_wait_ms"] = json!(0);
    c.publish("fanout.victim.spec", &bad);
    let _w = Worker::start_with(&nats.url(), &["-j1", "--insecure"]);
    let out = run.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(255), "{err}");
    assert!(err.contains("refused run `victim`"), "{err}");
    assert!(err.contains("ack_wait_ms out of range"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
}

#[test]
fn two_jobs_with_one_seq_do_not_abort_a_worker_or_mix() {
    let nats = Nats::start(&[]);
    let mut w = Worker::start_with(&nats.url(), &["-j2", "--insecure"]);
    let dir = tempfile::tempdir().unwrap();
    let ran = dir.path().join("ran");
    let c = Client::new(&nats.url());
    let command = format!("echo {{}} >> {}; sleep 1", ran.display());
    // One message naming job 1 twice, and job 2 in two messages.
    let msgs = [
        jobs(&[(1, "a"), (1, "b")]),
        jobs(&[(2, "c")]),
        jobs(&[(2, "d")]),
    ];
    c.create_run("dup", spec(&command), &msgs);
    wait_for("every job message answered", || c.jobs_left("dup") == 0);
    assert!(alive(&mut w), "{}", w.stderr());
    let ran = lines(&ran);
    assert_eq!(ran.len(), 1, "{ran:?}");
    assert!(ran[0] == "c" || ran[0] == "d", "{ran:?}");
    assert!(w.stderr().contains("appears twice"), "{}", w.stderr());
}

#[test]
fn a_forged_result_never_becomes_a_command() {
    let nats = Nats::start(&[]);
    let _w = Worker::start_with(&nats.url(), &["-j1", "--insecure"]);
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("log");
    let run = nats::start(
        unsigned(
            &nats,
            &["--run-id", "forged", "--joblog", log.to_str().unwrap()],
        )
        .args(["sleep 2; false", ":::", "1"])
        .dir(dir.path()),
    );
    let c = Client::new(&nats.url());
    let epoch = c.spec_of("forged")["epoch"].as_u64().unwrap();
    let forged = json!({"v": V, "epoch": epoch, "worker": "evil", "results": [
        result_row(1, 1, json!({"command": "touch PWNED", "out": "x\n"}))]});
    c.publish("fanout.forged.r.res", &forged);
    let out = run.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let logged = std::fs::read_to_string(&log).unwrap();
    assert!(!logged.contains("PWNED"), "{logged}");
    assert!(logged.contains("sleep 2; false 1"), "{logged}");
    fanout(["--joblog", log.to_str().unwrap(), "--retry-failed"])
        .dir(dir.path())
        .run();
    assert!(!dir.path().join("PWNED").exists());
}

#[test]
fn a_coordinator_that_trusts_worker_keys_ignores_forged_results() {
    let nats = Nats::start(&[]);
    let _w = Worker::start(&nats.url(), &["-j1"]);
    let run = nats::start(
        fanout(["--broker", &nats.url(), "--run-id", "guarded"])
            .args(nats::coordinator_keys())
            .args(["sleep 2; echo real", ":::", "1"]),
    );
    let c = Client::new(&nats.url());
    let epoch = c.spec_of("guarded")["epoch"].as_u64().unwrap();
    let forged = json!({"v": V, "epoch": epoch, "worker": "evil", "results": [
        result_row(1, 0, json!({"out": "forged\n"}))]});
    c.publish("fanout.guarded.r.res", &forged);
    let out = run.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "real 1\n");
    assert!(err.contains("ignoring a message"), "{err}");
}

#[test]
fn a_worker_on_an_open_broker_refuses_to_start_without_trust_allow_or_insecure() {
    let nats = Nats::start(&[]);
    fanout(["--worker", "--broker", &nats.url(), "-j1"])
        .run()
        .code(255)
        .fanout_error("--insecure");
}

#[test]
fn a_worker_that_trusts_a_key_runs_no_unsigned_run_or_job() {
    let nats = Nats::start(&[]);
    let w = Worker::start(&nats.url(), &["-j2"]);
    let dir = tempfile::tempdir().unwrap();
    let c = Client::new(&nats.url());
    let pwned = dir.path().join("PWNED1");
    c.create_run(
        "evil",
        spec(&format!("touch {}", pwned.display())),
        &[jobs(&[(1, "x")])],
    );
    wait_for("the refusal", || w.stderr().contains("refusing run evil"));
    assert!(w.stderr().contains("not signed"), "{}", w.stderr());
    // A signed run whose job stream gets a job message from elsewhere.
    let run = nats::start(
        fanout(["--broker", &nats.url(), "--run-id", "legit"])
            .args(nats::coordinator_keys())
            .args([":::", "sleep 2; echo ok"]),
    );
    let epoch = c.spec_of("legit")["epoch"].as_u64().unwrap();
    let pwned2 = dir.path().join("PWNED2");
    let mut injected = jobs(&[(2, &format!("touch {}", pwned2.display()))]);
    injected["epoch"] = json!(epoch);
    c.publish("fanout.legit.jobs", &injected);
    wait_for("the dropped job", || {
        w.stderr().contains("dropping a job message")
    });
    let out = run.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "ok\n");
    assert!(!pwned.exists() && !pwned2.exists());
}

#[test]
fn the_shipped_nats_config_keeps_workers_from_publishing_jobs() {
    let conf = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/nats-server.conf");
    let nats = Nats::start(&["-c", conf]);
    let url = |who: &str, pw: &str| {
        nats.url()
            .replace("nats://", &format!("nats://{who}:{pw}@"))
    };
    let worker_url = url("worker", "worker-change-me");
    let _w = Worker::start(&worker_url, &["-j2"]);
    fanout(["--broker", &url("coordinator", "coordinator-change-me")])
        .args(nats::coordinator_keys())
        .args(["-k", "--run-id", "perm", "echo", ":::", "a", "b"])
        .run()
        .code(0)
        .stdout_is("a\nb\n");
    // The worker user may not make runs or jobs.
    let as_worker = async_nats::ConnectOptions::with_user_and_password(
        "worker".into(),
        "worker-change-me".into(),
    );
    let mut c = Client::connect(&nats.url(), as_worker);
    // A denied request is never answered: fail fast.
    c.js.set_timeout(std::time::Duration::from_secs(1));
    c.rt.block_on(async {
        let made =
            c.js.create_stream(stream::Config {
                name: "FANOUT_x_JOBS".into(),
                subjects: vec!["fanout.x.jobs".into()],
                ..Default::default()
            })
            .await;
        assert!(made.is_err(), "a worker user created a stream");
        let job = c.js.publish("fanout.perm.jobs", "{}".into()).await;
        let stored = match job {
            Ok(ack) => ack.await.is_ok(),
            Err(_) => false,
        };
        assert!(!stored, "a worker user published a job");
    });
}

/// The first server-sent event of the dashboard at `url` for which
/// `check` holds (20 s at most), as JSON.
fn dashboard_event(url: &str, check: impl Fn(&Value) -> bool) -> Value {
    use std::io::{BufRead, BufReader, Write};
    let addr = url.trim_start_matches("http://").trim_end_matches('/');
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    write!(s, "GET /events HTTP/1.1\r\nHost: {addr}\r\n\r\n").unwrap();
    s.set_read_timeout(Some(std::time::Duration::from_secs(20)))
        .unwrap();
    let mut last = Value::Null;
    for line in BufReader::new(s).lines() {
        let Ok(line) = line else { break };
        if let Some(json) = line.strip_prefix("data: ") {
            last = serde_json::from_str(json).unwrap();
            if check(&last) {
                return last;
            }
        }
    }
    panic!("no dashboard event matched; the last: {last}");
}

/// A GET on the dashboard: its status line.
fn dashboard_get(url: &str, path: &str) -> String {
    use std::io::{Read, Write};
    let addr = url.trim_start_matches("http://").trim_end_matches('/');
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out.lines().next().unwrap_or_default().to_owned()
}

#[test]
fn a_brokers_dashboard_drops_garbage_results_and_heartbeats() {
    let nats = Nats::start(&[]);
    let url = nats.url();
    let c = Client::new(&url);
    let epoch = c.create_run("spied", spec("true"), &[]);
    let result = |seq: u64, exit: i64, err: &str| result_row(seq, exit, json!({"err": err}));
    let subject = "fanout.spied.r.res";
    c.publish(subject, &json!("not a result batch"));
    c.publish(
        subject,
        &json!({"v": 99, "epoch": epoch, "worker": "w", "results": []}),
    );
    c.publish(
        subject,
        &json!({"v": V, "epoch": epoch + 1, "worker": "old", "results": [result(7, 0, "")]}),
    );
    let long_name = "w".repeat(5000);
    let batch = json!({"v": V, "epoch": epoch, "worker": long_name,
                       "results": [result(1, 0, ""), result(2, 3, &"e".repeat(200_000))]});
    c.publish(subject, &batch);
    // The same job again (a redelivery): counted once.
    c.publish(
        subject,
        &json!({"v": V, "epoch": epoch, "worker": "w2", "results": [result(1, 0, "")]}),
    );

    let (mut dash, web) = common::with_dashboard(
        &["--dashboard", "--broker", &url],
        std::process::Stdio::null(),
    );

    // Heartbeats: garbage, another version, an oversized one, then far
    // more workers than the board keeps.
    c.rt.block_on(async {
        let nc = &c.nc;
        nc.publish("fanout.workers", "garbage".into()).await.unwrap();
        nc.publish("fanout.workers", r#"{"v":99,"worker":"x"}"#.into()).await.unwrap();
        let big = json!({"v": V, "worker": "big", "host": "h".repeat(10_000), "slots": 1, "run": null, "load": 0.0});
        nc.publish("fanout.workers", serde_json::to_vec(&big).unwrap().into()).await.unwrap();
        for i in 0..1500 {
            let b = json!({"v": V, "worker": format!("w{i}-{}", "n".repeat(300)), "host": "h",
                           "slots": 2, "run": null, "load": 0.5});
            nc.publish("fanout.workers", serde_json::to_vec(&b).unwrap().into()).await.unwrap();
        }
        nc.flush().await.unwrap();
    });
    let board = dashboard_event(&web, |e| {
        e["runs"]
            .as_array()
            .is_some_and(|r| r.iter().any(|r| r["run"] == "spied" && r["done"] == 1))
            && e["workers"].as_array().is_some_and(|w| w.len() >= 1000)
    });
    let run = board["runs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["run"] == "spied")
        .unwrap();
    assert_eq!(run["failed"], 1, "{run}");
    let workers = board["workers"].as_array().unwrap();
    assert_eq!(workers.len(), 1000, "the board keeps at most 1,000 workers");
    for w in workers {
        assert!(w["worker"].as_str().unwrap().chars().count() <= 120);
        assert!(w["host"].as_str().unwrap().chars().count() <= 120);
    }
    assert!(
        !workers.iter().any(|w| w["worker"] == "big"),
        "a 10 KB heartbeat is dropped"
    );
    // Only runs on the board have stores; nothing else is opened.
    assert!(dashboard_get(&web, "/api/jobs?run=..%2F..%2Fetc").contains("404"));
    assert!(dashboard_get(&web, "/api/jobs?run=spied").contains("200"));
    assert!(dashboard_get(&web, "/api/runs/spied/cancel").contains("405"));
    unsafe { libc::kill(dash.id() as i32, libc::SIGTERM) };
    assert!(dash.wait().unwrap().success());
}

#[test]
fn a_dashboard_off_localhost_needs_its_token() {
    let (mut dash, url) = common::with_dashboard(
        &["--dashboard=0.0.0.0:0", "sleep 30", ":::", "1"],
        std::process::Stdio::null(),
    );
    let (base, token) = url.split_once("/?token=").expect("a token in the URL");
    assert_eq!(token.len(), 32, "{url}");
    let port = base.rsplit(':').next().unwrap();
    let web = format!("http://127.0.0.1:{port}/");
    assert!(dashboard_get(&web, "/").contains("403"));
    assert!(dashboard_get(&web, "/events").contains("403"));
    assert!(dashboard_get(&web, "/?token=0123").contains("403"));
    assert!(dashboard_get(&web, &format!("/?token={token}")).contains("200"));
    assert!(dashboard_get(&web, &format!("/api/jobs?token={token}")).contains("404"));
    unsafe { libc::kill(dash.id() as i32, libc::SIGTERM) };
    let status = dash.wait().unwrap();
    assert!(
        !status.success(),
        "a run stopped by SIGTERM does not succeed"
    );
}
