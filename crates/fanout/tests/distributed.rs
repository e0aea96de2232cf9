//! `--broker`: the same invocation through a real nats-server and real
//! `fanout --worker` processes; output, job log and exit status as local,
//! and every job reported exactly once whatever is killed or restarted.

mod common;

use std::os::unix::ffi::OsStringExt;
use std::time::Duration;

use common::nats::{self, each_once, finished_ok, lines, start, wait_for, Nats, Worker};
use common::{fanout, Fanout};

/// The same invocation, through the broker.
fn via(nats: &Nats, args: &[&str]) -> Fanout {
    fanout(["--broker", &nats.url()])
        .args(nats::coordinator_keys())
        .args(args)
}

#[test]
fn output_joblog_and_exit_status_match_a_local_run() {
    let nats = Nats::start(&[]);
    let _w1 = Worker::start(&nats.url(), &["-j2"]);
    let _w2 = Worker::start(&nats.url(), &["-j2"]);
    let args = [
        "-k",
        "--tag",
        "echo {}; exit {#}",
        ":::",
        "0",
        "a b",
        "-n",
        "$HOME",
        "'q'",
    ];
    let local = fanout(args).run();
    let dist = via(&nats, &args).run();
    assert_eq!(dist.out(), local.out());
    assert_eq!(dist.code, local.code);
    assert_eq!(dist.code, Some(5));
    // Not UTF-8, byte for byte.
    let odd = std::ffi::OsString::from_vec(b"\xff\xfe-x".to_vec());
    let local = fanout(["-k", "echo"])
        .arg_os(":::".into())
        .arg_os(odd.clone())
        .run();
    let dist = via(&nats, &["-k", "echo"])
        .arg_os(":::".into())
        .arg_os(odd)
        .run();
    assert_eq!(dist.stdout, local.stdout);
    assert_eq!(dist.stdout, b"\xff\xfe-x\n");
}

#[test]
fn unordered_output_has_every_job_and_the_joblog_one_row_each() {
    let nats = Nats::start(&[]);
    let _w = Worker::start(&nats.url(), &["-j3"]);
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("log");
    let out = via(&nats, &["--joblog"])
        .arg_path(&log)
        .args(["echo", ":::"])
        .args((1..=200).map(|i| i.to_string()))
        .run()
        .code(0);
    each_once(
        &out.out().lines().map(str::to_owned).collect::<Vec<_>>(),
        200,
    );
    let rows = lines(&log);
    assert_eq!(rows[0].split('\t').next(), Some("Seq"));
    each_once(
        &rows[1..]
            .iter()
            .map(|r| r.split('\t').next().unwrap().to_owned())
            .collect::<Vec<_>>(),
        200,
    );
}

#[test]
fn many_short_jobs_packed_into_messages_keep_order_and_bytes() {
    let nats = Nats::start(&[]);
    let _w1 = Worker::start(&nats.url(), &["-j2"]);
    let _w2 = Worker::start(&nats.url(), &["-j1", "--prefetch", "1"]);
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in");
    let values: String = (1..=3000).map(|i| format!("v{i} '\"$x\n")).collect();
    std::fs::write(&input, values).unwrap();
    let args = [
        "-k",
        "--tag",
        "echo",
        "{#}",
        "::::",
        input.to_str().unwrap(),
    ];
    let local = fanout(args).run().code(0);
    let dist = via(&nats, &args).run().code(0);
    assert_eq!(dist.out().lines().count(), 3000);
    assert!(dist.stdout == local.stdout);
}

#[test]
fn big_outputs_arrive_whole_through_chunks() {
    let nats = Nats::start(&[]);
    let _w = Worker::start(&nats.url(), &["-j2"]);
    // 3 MiB of stdout and 200 KiB of stderr per job.
    let args = [
        "-k",
        "head -c 3145728 /dev/zero | tr '\\0' {}; head -c 204800 /dev/zero >&2",
        ":::",
        "a",
        "b",
    ];
    let local = fanout(args).run();
    let dist = via(&nats, &args).run().code(0);
    assert_eq!(dist.stdout.len(), 2 * 3_145_728);
    assert!(dist.stdout == local.stdout);
    assert_eq!(dist.stderr.len(), local.stderr.len());
}

#[test]
fn a_worker_killed_mid_job_loses_nothing_and_duplicates_nothing() {
    let nats = Nats::start(&[]);
    let dir = tempfile::tempdir().unwrap();
    let started = dir.path().join("started");
    let mut doomed = Worker::start(&nats.url(), &["-j2"]);
    let job = format!("echo {{}} >> {}; sleep 1; echo {{}}", started.display());
    let child =
        start(via(&nats, &["--ack-wait", "2s", &job, ":::"]).args((1..=10).map(|i| i.to_string())));
    wait_for("jobs to start", || lines(&started).len() >= 2);
    doomed.kill_hard();
    let _rescue = Worker::start(&nats.url(), &["-j3"]);
    each_once(&finished_ok(child), 10);
}

#[test]
fn a_killed_coordinator_resumes_without_running_finished_jobs_again() {
    let nats = Nats::start(&[]);
    let _w = Worker::start(&nats.url(), &["-j2"]);
    let dir = tempfile::tempdir().unwrap();
    let started = dir.path().join("started");
    let log = dir.path().join("log");
    let job = format!("echo {{}} >> {}; sleep 0.3; echo {{}}", started.display());
    let args: Vec<String> = [
        "--joblog",
        log.to_str().unwrap(),
        "--run-id",
        "resumed",
        &job,
        ":::",
    ]
    .iter()
    .map(|s| s.to_string())
    .chain((1..=12).map(|i| i.to_string()))
    .collect();
    let mut first = via(&nats, &[]).args(&args).command();
    first.stdout(std::process::Stdio::null());
    let mut first = first.spawn().unwrap();
    wait_for("three jobs logged", || lines(&log).len() > 3);
    unsafe { libc::kill(first.id() as i32, libc::SIGKILL) };
    first.wait().unwrap();
    // Jobs go on while no coordinator runs; their results wait.
    std::thread::sleep(Duration::from_millis(800));
    let logged_before = lines(&log).len() - 1;
    let again = via(&nats, &["--resume"]).args(&args).run().code(0);
    let printed = again.out().lines().count();
    assert_eq!(
        printed,
        12 - logged_before,
        "only the jobs not logged are printed"
    );
    each_once(&lines(&started), 12);
    each_once(
        &lines(&log)[1..]
            .iter()
            .map(|r| r.split('\t').next().unwrap().to_owned())
            .collect::<Vec<_>>(),
        12,
    );
}

#[test]
fn a_broker_restart_mid_run_loses_and_duplicates_nothing() {
    let mut nats = Nats::start(&[]);
    let _w1 = Worker::start(&nats.url(), &["-j2"]);
    let _w2 = Worker::start(&nats.url(), &["-j2"]);
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("log");
    let child = start(
        via(
            &nats,
            &[
                "--joblog",
                log.to_str().unwrap(),
                "sleep 0.2; echo {}",
                ":::",
            ],
        )
        .args((1..=30).map(|i| i.to_string())),
    );
    wait_for("some jobs done", || lines(&log).len() > 5);
    nats.restart_after(Duration::from_millis(500));
    each_once(&finished_ok(child), 30);
    each_once(
        &lines(&log)[1..]
            .iter()
            .map(|r| r.split('\t').next().unwrap().to_owned())
            .collect::<Vec<_>>(),
        30,
    );
}

#[test]
fn a_job_longer_than_the_ack_wait_runs_once() {
    let nats = Nats::start(&[]);
    let _w1 = Worker::start(&nats.url(), &["-j1"]);
    let _w2 = Worker::start(&nats.url(), &["-j1"]);
    let dir = tempfile::tempdir().unwrap();
    let started = dir.path().join("started");
    let job = format!(
        "echo {{}} >> {}; sleep 3.5; echo done {{}}",
        started.display()
    );
    via(&nats, &["--ack-wait", "1s", &job, ":::", "1"])
        .run()
        .code(0)
        .stdout_is("done 1\n");
    assert_eq!(lines(&started), ["1"]);
}

#[test]
fn retries_and_timeouts_mean_what_they_mean_locally() {
    let nats = Nats::start(&[]);
    let _w = Worker::start(&nats.url(), &["-j2"]);
    let dir = tempfile::tempdir().unwrap();
    let tries = dir.path().join("tries");
    let job = format!(
        "echo x >> {0}; test $(wc -l < {0}) -ge 3 && echo ok",
        tries.display()
    );
    via(&nats, &["--retries", "3", &job, ":::", "1"])
        .run()
        .code(0)
        .stdout_is("ok 1\n");
    assert_eq!(lines(&tries).len(), 3);
    let local = fanout(["--timeout", "1", "sleep", ":::", "0.1", "30"]).run();
    let dist = via(&nats, &["--timeout", "1", "sleep", ":::", "0.1", "30"]).run();
    assert_eq!(dist.code, local.code);
    assert_eq!(dist.code, Some(1));
    assert!(
        dist.err().contains("killed because it timed out"),
        "{}",
        dist.err()
    );
}

#[test]
fn halt_stops_the_run_with_the_local_exit_status() {
    let nats = Nats::start(&[]);
    let _w = Worker::start(&nats.url(), &["-j1", "--prefetch", "0"]);
    let args = [
        "-k",
        "--halt",
        "now,fail=1",
        "sleep 0.{}; echo {}; exit {}",
        ":::",
        "0",
        "3",
        "0",
        "0",
        "0",
    ];
    let local = fanout(args).run();
    let dist = via(&nats, &args).run();
    assert_eq!(local.code, Some(3));
    assert_eq!(dist.code, Some(3));
    assert!(dist.out().starts_with("0\n3\n"), "{}", dist.out());
    assert!(
        !dist.out().contains("0\n3\n0\n0\n0"),
        "halted before the end"
    );
    let soon = via(
        &nats,
        &[
            "--halt",
            "soon,fail=1",
            "exit {}",
            ":::",
            "0",
            "4",
            "0",
            "0",
        ],
    )
    .run();
    assert_eq!(soon.code, Some(4));
}

#[test]
fn status_shows_a_running_run_and_cancel_stops_it() {
    let nats = Nats::start(&[]);
    fanout(["--status", "--broker", &nats.url()])
        .run()
        .code(0)
        .stdout_is("no runs\n");
    let w = Worker::start(&nats.url(), &["-j2"]);
    let dir = tempfile::tempdir().unwrap();
    let started = dir.path().join("started");
    let job = format!("echo {{}} >> {}; sleep 60", started.display());
    let mut run = via(&nats, &["--run-id", "long1", &job, ":::", "1", "2", "3"]).command();
    run.stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    let mut child = run.spawn().unwrap();
    wait_for("jobs to start", || lines(&started).len() >= 2);
    let status = fanout(["--status", "--broker", &nats.url()]).run().code(0);
    assert!(
        status.out().starts_with("long1 running published=3 done=0"),
        "{}",
        status.out()
    );
    let t = std::time::Instant::now();
    fanout(["--cancel", "--broker", &nats.url(), "--run-id", "long1"])
        .run()
        .code(0)
        .stdout_is("long1 cancelled\n");
    let code = child.wait().unwrap().code();
    assert_eq!(code, Some(255));
    assert!(t.elapsed() < Duration::from_secs(10));
    wait_for("the jobs to be killed", || {
        common::nats::children_of(w.child.id() as i32)
            .iter()
            .all(|p| !common::alive(*p))
    });
    fanout(["--status", "--broker", &nats.url(), "--run-id", "long1"])
        .run()
        .code(255)
        .fanout_error("no run `long1`");
}

#[test]
fn wrong_credentials_are_a_clear_error() {
    let nats = Nats::start(&["--user", "u", "--pass", "secret"]);
    via(
        &nats,
        &[
            "--broker-user",
            "u",
            "--broker-password",
            "wrong",
            "echo",
            ":::",
            "1",
        ],
    )
    .run()
    .code(255)
    .fanout_error("authorization violation");
    let _w = Worker::start(
        &nats.url(),
        &["-j1", "--broker-user", "u", "--broker-password", "secret"],
    );
    via(&nats, &["--broker-user", "u", "echo", ":::", "1"])
        .env("FANOUT_BROKER_PASSWORD", "secret")
        .run()
        .code(0)
        .stdout_is("1\n");
    let tok = Nats::start(&["--auth", "tok123"]);
    via(&tok, &["--broker-token", "nope", "echo", ":::", "1"])
        .run()
        .code(255)
        .fanout_error("authorization violation");
}

#[test]
fn a_worker_refuses_commands_outside_its_allow_list() {
    let nats = Nats::start(&[]);
    let _w = Worker::start(&nats.url(), &["-j2", "--allow", "echo [a-z]+"]);
    let dir = tempfile::tempdir().unwrap();
    let touched = dir.path().join("touched");
    // No command: each input is a command line.
    let out = via(&nats, &["-k", ":::", "echo ok"])
        .arg_os(format!("touch {}", touched.display()).into())
        .run()
        .code(1);
    assert_eq!(out.out(), "ok\n");
    assert!(
        out.err().contains("matches no --allow pattern"),
        "{}",
        out.err()
    );
    assert!(!touched.exists());
}

#[test]
fn bad_broker_input_is_one_line_and_exit_255() {
    fanout(["--broker", "nats://127.0.0.1:1", "echo", ":::", "1"])
        .run()
        .code(255)
        .fanout_error("broker nats://127.0.0.1:1");
    fanout(["--worker", "echo"])
        .run()
        .code(255)
        .fanout_error("need --broker");
    fanout(["--broker", "nats://x:1", "--run-id", "a.b", "echo"])
        .run()
        .code(255)
        .fanout_error("invalid run id");
    // A server that takes messages of 32 KiB at most: a job of 50 KB
    // (within the local command-line limit of 63,664) cannot be sent.
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("small.conf");
    std::fs::write(&conf, "max_payload: 32768\n").unwrap();
    let nats = Nats::start(&["-c", conf.to_str().unwrap()]);
    let input = dir.path().join("big");
    std::fs::write(&input, format!("{}\n", "x".repeat(50_000))).unwrap();
    via(&nats, &["echo", "::::"])
        .arg_path(&input)
        .run()
        .code(255)
        .fanout_error("over the limit");
}

#[test]
fn a_stopped_worker_gives_its_jobs_back_at_once() {
    let nats = Nats::start(&[]);
    let dir = tempfile::tempdir().unwrap();
    let started = dir.path().join("started");
    // It holds its running job and four prefetched ones.
    let mut leaving = Worker::start(&nats.url(), &["-j1", "--prefetch", "4"]);
    let job = format!("echo {{}} >> {}; sleep 0.5; echo {{}}", started.display());
    let child = start(via(
        &nats,
        &["--ack-wait", "1h", &job, ":::", "1", "2", "3", "4", "5"],
    ));
    wait_for("a job to start", || !lines(&started).is_empty());
    assert!(leaving.stop().success());
    // With an ack wait of an hour, the run ends only if the jobs were
    // given back rather than left to expire.
    let _staying = Worker::start(&nats.url(), &["-j2"]);
    each_once(&finished_ok(child), 5);
}

#[test]
fn a_job_out_of_deliveries_is_reported_failed_not_left_stuck() {
    let nats = Nats::start(&[]);
    let dir = tempfile::tempdir().unwrap();
    let started = dir.path().join("started");
    let mut doomed = Worker::start(&nats.url(), &["-j1"]);
    let job = format!("echo {{}} >> {}; sleep 30", started.display());
    let mut run = via(
        &nats,
        &[
            "--ack-wait",
            "1s",
            "--max-deliveries",
            "1",
            &job,
            ":::",
            "1",
        ],
    )
    .command();
    run.stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let child = run.spawn().unwrap();
    wait_for("the job to start", || !lines(&started).is_empty());
    doomed.kill_hard();
    let _next = Worker::start(&nats.url(), &["-j1"]);
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("fanout: job 1 lost: delivered 2 times"),
        "{err}"
    );
    assert_eq!(lines(&started), ["1"], "not run a second time");
}

#[test]
fn tls_with_the_brokers_ca_works_and_without_it_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (ca, cert, key) = (d.join("ca.pem"), d.join("cert.pem"), d.join("key.pem"));
    std::fs::write(d.join("san"), "subjectAltName=IP:127.0.0.1,DNS:localhost\n").unwrap();
    let openssl = |args: &str| {
        let ok = std::process::Command::new("openssl")
            .args(args.split(' '))
            .current_dir(d)
            .stderr(std::process::Stdio::null())
            .status()
            .expect("openssl makes the test certificates");
        assert!(ok.success(), "openssl {args}");
    };
    let ec = "-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes";
    openssl(&format!(
        "req -x509 {ec} -days 1 -subj /CN=test-ca -keyout ca.key -out ca.pem"
    ));
    openssl(&format!(
        "req {ec} -subj /CN=localhost -keyout key.pem -out req.csr"
    ));
    openssl("x509 -req -in req.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 1 -extfile san -out cert.pem");
    let c = ca.to_str().unwrap();
    let (crt, k) = (cert.to_str().unwrap(), key.to_str().unwrap());
    let nats = Nats::start(&["--tls", "--tlscert", crt, "--tlskey", k]);
    via(&nats, &["echo", ":::", "1"])
        .run()
        .code(255)
        .fanout_error("broker");
    let _w = Worker::start(&nats.url(), &["-j1", "--broker-tls-ca", c]);
    via(&nats, &["--broker-tls-ca", c, "echo", ":::", "over tls"])
        .run()
        .code(0)
        .stdout_is("over tls\n");
}

#[test]
fn a_run_id_started_afresh_never_runs_or_reports_the_old_runs_jobs() {
    let nats = Nats::start(&[]);
    let _w = Worker::start(&nats.url(), &["-j2"]);
    let dir = tempfile::tempdir().unwrap();
    let started = dir.path().join("started");
    let old = format!("echo {{}} >> {}; sleep 1; echo old {{}}", started.display());
    let mut first = via(
        &nats,
        &["--run-id", "again", &old, ":::", "1", "2", "3", "4"],
    )
    .command();
    first.stdout(std::process::Stdio::null());
    let mut first = first.spawn().unwrap();
    wait_for("old jobs to start", || !lines(&started).is_empty());
    unsafe { libc::kill(first.id() as i32, libc::SIGKILL) };
    first.wait().unwrap();
    // The same id without --resume: a new run, whatever the worker still
    // holds of the old one.
    via(
        &nats,
        &[
            "--run-id",
            "again",
            "-k",
            "echo new {}",
            ":::",
            "1",
            "2",
            "3",
            "4",
        ],
    )
    .run()
    .code(0)
    .stdout_is("new 1\nnew 2\nnew 3\nnew 4\n");
}

#[test]
fn env_variables_and_exported_functions_travel_with_the_run_to_workers() {
    let nats = Nats::start(&[]);
    let _w = Worker::start(&nats.url(), &["-j2"]);
    via(&nats, &["-k", "--env", "GREETING", "--env", "shout"])
        .args(["echo $GREETING {}; bash -c 'shout {}'", ":::", "a", "b"])
        .env("GREETING", "hello")
        .env("BASH_FUNC_shout%%", "() { echo \"$1!\"; }")
        .run()
        .stdout_is("hello a\na!\nhello b\nb!\n");
}

#[test]
fn a_worker_with_an_allow_list_refuses_a_run_that_sets_variables() {
    let nats = Nats::start(&[]);
    let _w = Worker::start(&nats.url(), &["-j2", "--allow", "echo [a-z]+"]);
    let out = via(&nats, &["--env", "PATH", "echo", ":::", "ok"])
        .run()
        .code(255);
    assert!(out.err().contains("refused run"), "{}", out.err());
    assert!(out.err().contains("--env"), "{}", out.err());
}

#[test]
fn env_underscore_sends_what_record_env_did_not_see() {
    let nats = Nats::start(&[]);
    let _w = Worker::start(&nats.url(), &["-j1"]);
    let home = tempfile::tempdir().unwrap();
    fanout(["--record-env"])
        .env("HOME", home.path().as_os_str())
        .env("OLD_ONE", "recorded")
        .run()
        .code(0);
    let names = std::fs::read_to_string(home.path().join(".parallel/ignored_vars")).unwrap();
    assert!(names.lines().any(|l| l == "OLD_ONE"), "{names}");
    via(
        &nats,
        &["--env", "_", "echo \"[$OLD_ONE] [$NEW_ONE]\"", ":::", "x"],
    )
    .env("HOME", home.path().as_os_str())
    .env("OLD_ONE", "recorded")
    .env("NEW_ONE", "sent")
    .run()
    .stdout_is("[] [sent] x\n");
}

#[test]
fn a_worker_on_a_terminal_says_it_is_connected_and_what_it_serves() {
    let nats = Nats::start(&[]);
    let url = nats.url();
    // `script` gives the worker a terminal; it is stopped after 3 s.
    let worker = common::on_a_terminal(&format!(
        "timeout -s INT 3 {} --worker --broker {url} --insecure -j1",
        common::bin().display()
    ))
    .spawn()
    .unwrap();
    std::thread::sleep(Duration::from_millis(500));
    fanout(["--broker", &url, "--run-id", "shown", "echo", ":::", "a"])
        .run()
        .code(0);
    let out = worker.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let host = url.rsplit('/').next().unwrap();
    assert!(
        text.contains(&format!("fanout: worker: connected to nats://{host}")),
        "{text}"
    );
    assert!(text.contains("fanout: worker: serving run shown"), "{text}");
    assert!(!text.contains("warning: worker: serving"), "{text}");
}

#[test]
fn a_coordinator_on_a_terminal_says_when_no_worker_has_answered() {
    let nats = Nats::start(&[]);
    // No worker: after 5 s the coordinator says so; it is stopped at 7.
    let out = common::on_a_terminal(&format!(
        "timeout -s INT 7 {} --broker {} --run-id lonely echo ::: a",
        common::bin().display(),
        nats.url()
    ))
    .output()
    .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains(
            "fanout: coordinator: waiting for workers: none has answered run lonely in 5 s"
        ),
        "{text}"
    );
}
