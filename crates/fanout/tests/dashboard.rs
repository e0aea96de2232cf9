//! `--dashboard` and `--report` in a real browser: Debian's chromium,
//! driven through chromedriver by fantoccini. The page loads and its counts
//! rise while the run goes, a failed job's stderr shows when it is clicked,
//! the job table pages through 200,000 jobs, and the report opens from a
//! file and lists the failed jobs.

mod common;

use std::io::Write;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};

/// A headless chromium under its own chromedriver, killed on drop.
struct Browser {
    driver: Child,
    client: Option<Client>,
    rt: tokio::runtime::Runtime,
}

impl Browser {
    fn start() -> Browser {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let driver = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver (apt-get install chromium chromium-driver)");
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let mut caps = serde_json::Map::new();
        caps.insert(
            "goog:chromeOptions".into(),
            serde_json::json!({"args": ["--headless=new", "--no-sandbox", "--disable-gpu",
                "--disable-dev-shm-usage", "--window-size=1400,1000"]}),
        );
        let client = rt.block_on(async {
            let deadline = Instant::now() + Duration::from_secs(20);
            loop {
                let connector = hyper_util::client::legacy::connect::HttpConnector::new();
                match ClientBuilder::new(connector)
                    .capabilities(caps.clone())
                    .connect(&format!("http://127.0.0.1:{port}"))
                    .await
                {
                    Ok(c) => break c,
                    Err(e) if Instant::now() > deadline => panic!("chromedriver: {e}"),
                    Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
                }
            }
        });
        Browser {
            driver,
            client: Some(client),
            rt,
        }
    }

    fn c(&self) -> &Client {
        self.client.as_ref().unwrap()
    }

    fn goto(&self, url: &str) {
        self.rt.block_on(self.c().goto(url)).unwrap();
    }

    /// The text of the element `css`, or "" while there is none.
    fn text(&self, css: &str) -> String {
        self.rt.block_on(async {
            match self.c().find(Locator::Css(css)).await {
                Ok(e) => e.text().await.unwrap_or_default(),
                Err(_) => String::new(),
            }
        })
    }

    /// Clicks `css`, again if the live page replaced it in between.
    fn accept_alert(&self) {
        self.rt.block_on(async {
            for _ in 0..50 {
                if self.c().accept_alert().await.is_ok() {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            panic!("no alert to accept");
        });
    }

    fn exists(&self, css: &str) -> bool {
        self.rt.block_on(self.c().find(Locator::Css(css))).is_ok()
    }

    fn click(&self, css: &str) {
        self.rt.block_on(async {
            for _ in 0..20 {
                let found = self.c().find(Locator::Css(css)).await;
                match found {
                    Ok(e) if e.click().await.is_ok() => return,
                    _ => tokio::time::sleep(Duration::from_millis(100)).await,
                }
            }
            panic!("could not click `{css}`");
        });
    }

    /// Waits (up to a minute) until `check` holds for the text of `css`.
    fn wait_for(&self, css: &str, what: &str, check: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let t = self.text(css);
            if check(&t) {
                return t;
            }
            assert!(
                Instant::now() < deadline,
                "`{css}` never {what}: last `{t}`"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// With FANOUT_SCREENSHOTS=DIR, saves the page as DIR/NAME.png (how
    /// docs/'s pictures are made).
    fn screenshot(&self, name: &str) {
        if let Some(dir) = std::env::var_os("FANOUT_SCREENSHOTS") {
            let png = self.rt.block_on(self.c().screenshot()).unwrap();
            std::fs::write(std::path::Path::new(&dir).join(format!("{name}.png")), png).unwrap();
        }
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if let Some(c) = self.client.take() {
            let _ = self.rt.block_on(c.close());
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

/// A fanout run with a dashboard, killed on drop; its URL from stderr.
struct Watched {
    child: Child,
    url: String,
}

impl Watched {
    fn start(args: &[&str], stdin: Stdio) -> Watched {
        let (child, url) = common::with_dashboard(args, stdin);
        Watched { child, url }
    }
}

impl Drop for Watched {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn number(s: &str) -> u64 {
    s.trim().parse().unwrap_or(0)
}

#[test]
fn counts_rise_live_and_a_failed_jobs_stderr_shows_when_clicked() {
    let script = "sleep 0.3; if [ {} = 3 ]; then echo 'disk on fire' >&2; exit 7; fi; \
                  if [ {} = 40 ]; then sleep 600; fi";
    let inputs: Vec<String> = (1..=40).map(|i| i.to_string()).collect();
    let mut args = vec!["--dashboard", "-j2", script, ":::"];
    args.extend(inputs.iter().map(String::as_str));
    let run = Watched::start(&args, Stdio::null());
    let b = Browser::start();
    b.goto(&run.url);
    let first = number(&b.wait_for("#done", "counted a job", |t| number(t) > 0));
    b.wait_for("#done", "rose", |t| number(t) > first);
    assert_eq!(b.text("#state"), "running");
    b.wait_for("#failed", "counted the failure", |t| number(t) == 1);
    b.wait_for("#failures tbody", "listed the failure", |t| {
        t.contains("disk on fire")
    });
    b.wait_for("#jobs tbody", "listed job 3", |t| t.contains("exit 7"));
    b.screenshot("dashboard");
    b.click("#jobs tbody tr[data-seq='3']");
    b.wait_for("#d-stderr", "showed job 3's stderr", |t| {
        t.contains("disk on fire")
    });
    assert_eq!(b.text("#d-seq"), "3");
    b.screenshot("dashboard-job");
}

#[test]
fn a_page_open_when_the_run_ends_shows_it_finished_with_every_job() {
    // The jobs come from stdin, so the page is open before they start.
    let mut run = Watched::start(&["--dashboard", "-j2", "echo"], Stdio::piped());
    let b = Browser::start();
    b.goto(&run.url);
    b.wait_for("#state", "showed the run", |t| t == "running");
    let mut stdin = run.child.stdin.take().unwrap();
    let lines: String = (1..=300).map(|i| format!("{i}\n")).collect();
    stdin.write_all(lines.as_bytes()).unwrap();
    drop(stdin);
    let status = run.child.wait().unwrap();
    assert!(status.success());
    // fanout has exited: what the page shows came before it did.
    assert_eq!(b.text("#state"), "finished");
    assert_eq!(b.text("#done"), "300");
}

#[test]
fn the_job_table_pages_through_a_200000_job_run() {
    let mut run = Watched::start(
        &["--dashboard", "--dry-run", "-j2", "true", "{}"],
        Stdio::piped(),
    );
    let mut stdin = run.child.stdin.take().unwrap();
    let lines: String = (1..=200_000).map(|i| format!("{i}\n")).collect();
    stdin.write_all(lines.as_bytes()).unwrap();
    // stdin stays open: the run (and its dashboard) goes on.
    let b = Browser::start();
    b.goto(&run.url);
    b.wait_for("#done", "reached 200000", |t| number(t) == 200_000);
    b.wait_for("#pageinfo", "showed the first page", |t| {
        t == "1–50 of 200000"
    });
    b.click("#next");
    b.wait_for("#pageinfo", "turned the page", |t| t == "51–100 of 200000");
    b.wait_for(
        "#jobs tbody tr:first-child td:first-child",
        "started at 51",
        |t| t == "51",
    );
    b.click("th[data-sort='seq']");
    b.wait_for(
        "#jobs tbody tr:first-child td:first-child",
        "sorted down",
        |t| t == "200000",
    );
    drop(stdin);
}

#[test]
fn the_report_opens_offline_and_lists_the_failed_jobs() {
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("run.html");
    common::fanout([
        "--report",
        report.to_str().unwrap(),
        "-j2",
        "if [ {} = 2 ]; then echo 'no such case' >&2; exit 4; fi",
        ":::",
        "1",
        "2",
        "3",
    ])
    .run()
    .code(1);
    let html = std::fs::read_to_string(&report).unwrap();
    assert!(
        !html.contains("http://") && !html.contains("https://"),
        "the report fetches nothing"
    );
    let b = Browser::start();
    b.goto(&format!("file://{}", report.display()));
    assert_eq!(b.text("#total-jobs"), "3");
    assert_eq!(b.text("#total-failed"), "1");
    let failed = b.text("#failed");
    assert!(failed.contains("no such case"), "{failed}");
    assert!(failed.contains("= 2 ]"), "{failed}");
    b.screenshot("report");
}

#[test]
fn a_report_of_a_run_on_the_broker_draws_a_lane_per_worker_and_slot() {
    let nats = common::nats::Nats::start(&[]);
    let url = nats.url();
    let a = common::nats::Worker::start(&url, &["-j1"]);
    let b = common::nats::Worker::start(&url, &["-j1"]);
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("run.html");
    // Each worker holds one job at a time, so both of them run some.
    let out = Command::new(common::bin())
        .args([
            "--broker",
            &url,
            "--report",
            report.to_str().unwrap(),
            "-j2",
        ])
        .args(common::nats::coordinator_keys())
        .args(["sleep 0.2", ":::"])
        .args((1..=12).map(|i| i.to_string()))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let html = std::fs::read_to_string(&report).unwrap();
    assert!(
        html.contains("one lane per slot of each of 2 workers"),
        "{html}"
    );
    let host = host_name();
    for w in [&a, &b] {
        let name = format!("{host}-{}", w.child.id());
        assert!(html.contains(&name), "no lane of worker {name}");
    }
}

#[test]
fn memory_stays_flat_from_20000_to_200000_watched_jobs() {
    let dir = tempfile::tempdir().unwrap();
    let rss = |n: u64| {
        let input = dir.path().join(format!("in-{n}"));
        let lines: String = (1..=n).map(|i| format!("{i}\n")).collect();
        std::fs::write(&input, lines).unwrap();
        let mut c = Command::new(common::bin());
        c.args(["--dashboard", "--dry-run", "-j2", "true", "{}", "::::"])
            .arg(&input)
            .stderr(Stdio::null());
        let (status, _, lines, rss_kib) = common::run_measuring_rss(c);
        assert!(status.success());
        assert_eq!(lines, n);
        rss_kib
    };
    let small = rss(20_000);
    let big = rss(200_000);
    // Ten times the jobs: the store is on disk, the live state bounded.
    assert!(
        big < small + small / 4,
        "peak RSS {small} KiB at 20,000 jobs, {big} KiB at 200,000"
    );
}

/// A run on the broker at `url` through a coordinator of its own: 40 jobs
/// at -j2 of 0.4 s, job 3 fails with "boom" on stderr, job 40 runs for
/// ten minutes (so the run is still going when the test looks, however
/// slow the machine).
fn broker_run(url: &str, id: &str) -> Child {
    let script = "sleep 0.4; if [ {} = 3 ]; then echo boom >&2; exit 2; fi; \
                  if [ {} = 40 ]; then sleep 600; fi";
    Command::new(common::bin())
        .args(["--broker", url, "--run-id", id, "-j2"])
        .args(common::nats::coordinator_keys())
        .arg(script)
        .arg(":::")
        .args((1..=40).map(|i| i.to_string()))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

fn host_name() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: a buffer of its stated length.
    unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    let end = buf.iter().position(|&b| b == 0).unwrap();
    String::from_utf8_lossy(&buf[..end]).into_owned()
}

#[test]
fn a_brokers_dashboard_shows_runs_and_workers_and_keeps_a_dead_coordinators_history() {
    let nats = common::nats::Nats::start(&[]);
    let url = nats.url();
    let _worker = common::nats::Worker::start(&url, &["-j2"]);
    // The page is up before the run starts: it must see the count rise,
    // and a browser slow to start could otherwise find every short job
    // done already (regression: "#done never rose: last 38" under load).
    let dash = Watched::start(&["--dashboard", "--broker", &url], Stdio::null());
    let b = Browser::start();
    b.goto(&dash.url);
    let mut coordinator = broker_run(&url, "watched");
    b.wait_for("#runs tbody", "listed the run", |t| {
        t.contains("watched") && t.contains("running")
    });
    let host = host_name();
    b.wait_for("#workers tbody", "listed the worker", |t| {
        t.contains(&host) && t.contains("s ago")
    });
    let first = number(&b.wait_for("#done", "counted a job", |t| number(t) > 0));
    b.wait_for("#done", "rose", |t| number(t) > first);
    assert!(
        !b.exists("button.cancel"),
        "no cancel button without --dashboard-control"
    );
    b.screenshot("dashboard-broker");
    // The coordinator dies: the results stream is the run's history.
    coordinator.kill().unwrap();
    coordinator.wait().unwrap();
    b.wait_for("#runs tbody", "saw the coordinator gone", |t| {
        t.contains("no coordinator")
    });
    b.wait_for("#failed", "counted the failure", |t| number(t) == 1);
    b.wait_for("#jobs tbody", "listed job 3", |t| !t.is_empty());
    b.click("#filter option[value='failed']");
    b.wait_for("#pageinfo", "filtered the failure", |t| t == "1–1 of 1");
    b.click("#jobs tbody tr[data-seq='3']");
    b.wait_for("#d-stderr", "showed job 3's stderr", |t| t.contains("boom"));
}

#[test]
fn dashboard_control_cancels_a_run_from_the_page() {
    let nats = common::nats::Nats::start(&[]);
    let url = nats.url();
    let _worker = common::nats::Worker::start(&url, &["-j2"]);
    let mut coordinator = broker_run(&url, "doomed");
    let dash = Watched::start(
        &["--dashboard", "--dashboard-control", "--broker", &url],
        Stdio::null(),
    );
    let b = Browser::start();
    b.goto(&dash.url);
    b.wait_for("#runs tbody", "listed the run", |t| {
        t.contains("doomed") && t.contains("running")
    });
    b.click("button.cancel");
    b.accept_alert();
    // The coordinator stops as on SIGTERM.
    let deadline = Instant::now() + Duration::from_secs(60);
    while coordinator.try_wait().unwrap().is_none() {
        assert!(Instant::now() < deadline, "the coordinator never stopped");
        std::thread::sleep(Duration::from_millis(100));
    }
    b.wait_for("#runs tbody", "showed the run ended", |t| {
        t.contains("ended")
    });
}
