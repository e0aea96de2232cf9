//! The dashboard's web server (axum; a local run's on the engine's own
//! runtime, a broker's on a thread of its own): the page and its
//! script, a server-sent event stream of the live state (sent when it
//! changed, at most once a second), the job table and job records
//! from the store, and — for a broker's dashboard with
//! `--dashboard-control` only — cancelling a run. Bound to localhost
//! unless told otherwise; any other address needs the token printed in
//! the URL.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use anyhow::{Context, Result};
use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;

use super::board::Board;
use super::live::Live;
use super::store::{Filter, Reader, SortKey};

const PAGE: &str = include_str!("assets/index.html");
const SCRIPT: &str = include_str!("assets/app.js");
const STYLE: &str = include_str!("assets/app.css");
/// How often the event stream looks for a change.
pub(super) const TICK: Duration = Duration::from_secs(1);
/// The most rows one page of the table has.
const MAX_ROWS: u64 = 500;

/// What the page shows.
#[derive(Clone)]
pub enum View {
    /// This process's run (its store is called `local`).
    Local(Arc<Mutex<Live>>),
    /// Every run on a broker; with the broker's options when the page may
    /// cancel runs.
    Broker(Arc<Mutex<Board>>, Option<Arc<fanout_nats::BrokerOptions>>),
}

/// The name of a local run's store.
pub const LOCAL: &str = "local";

#[derive(Clone)]
struct App {
    view: View,
    store: PathBuf,
    token: Option<Arc<str>>,
    watching: Arc<AtomicUsize>,
    /// Told when the run's state changed for good (it ended): streams
    /// send it at once, not at their next tick.
    news: Arc<tokio::sync::Notify>,
}

/// The server's work, to run on a tokio runtime with I/O and time.
pub type Serve = std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>;

/// A bound server: it serves once [`Server::take_serve`]'s future runs on
/// the caller's runtime, or on a thread of its own after
/// [`Server::on_thread`].
pub struct Server {
    url: String,
    serve: Option<Serve>,
    /// Event streams open now.
    watching: Arc<AtomicUsize>,
    news: Arc<tokio::sync::Notify>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Server {
    /// Binds `addr` (an error here, before the run starts, if it cannot).
    pub fn bind(addr: SocketAddr, view: View, store: PathBuf) -> Result<Server> {
        let listener = std::net::TcpListener::bind(addr)
            .with_context(|| format!("cannot listen on {addr} for the dashboard"))?;
        listener.set_nonblocking(true)?;
        let bound = listener.local_addr()?;
        let token = (!addr.ip().is_loopback()).then(new_token);
        // 0.0.0.0 is where it listens, not an address to open.
        let shown = match bound.ip().is_unspecified() {
            true => format!("{}:{}", super::live::host_name(), bound.port()),
            false => bound.to_string(),
        };
        let url = match &token {
            Some(t) => format!("http://{shown}/?token={t}"),
            None => format!("http://{shown}/"),
        };
        let watching = Arc::new(AtomicUsize::new(0));
        let news = Arc::new(tokio::sync::Notify::new());
        let app = App {
            view,
            store,
            token: token.map(Arc::from),
            watching: watching.clone(),
            news: news.clone(),
        };
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let serve: Serve = Box::pin(async move {
            let Ok(listener) = tokio::net::TcpListener::from_std(listener) else {
                return;
            };
            let _ = axum::serve(listener, router(app))
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .await;
        });
        Ok(Server {
            url,
            serve: Some(serve),
            watching,
            news,
            stop: Some(stop),
            thread: None,
        })
    }

    /// Serves on a thread and runtime of its own (a broker's dashboard,
    /// whose runtime is busy with the broker).
    pub fn on_thread(mut self) -> Result<Server> {
        let serve = self.serve.take().expect("not served yet");
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .context("cannot start the dashboard's runtime")?;
        let thread = std::thread::Builder::new()
            .name("fanout-dashboard".into())
            .spawn(move || rt.block_on(serve))
            .context("cannot start the dashboard's thread")?;
        self.thread = Some(thread);
        Ok(self)
    }

    /// The future that serves, for the caller to spawn on its runtime
    /// (once; `None` after).
    pub fn take_serve(&mut self) -> Option<Serve> {
        self.serve.take()
    }

    /// The address to open, with its token when it needs one.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Has every open event stream send the state now.
    pub fn news(&self) {
        self.news.notify_waiters();
    }

    /// Whether a page has its event stream open now.
    pub fn watched(&self) -> bool {
        self.watching.load(Ordering::Relaxed) > 0
    }

    /// Stops serving. Open event streams end; a thread of its own is not
    /// waited for past a moment (a browser holding a connection must not
    /// hold fanout's exit).
    pub fn stop(mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.thread.take() {
            let deadline = std::time::Instant::now() + Duration::from_millis(500);
            while !t.is_finished() && std::time::Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(10));
            }
        }
    }
}

/// 128 random bits, hex.
fn new_token() -> String {
    let mut b = [0u8; 16];
    getrandom::getrandom(&mut b).expect("the OS's random numbers");
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn router(app: App) -> Router {
    Router::new()
        .route(
            "/",
            get(|| async { ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], PAGE) }),
        )
        .route(
            "/app.js",
            get(|| async { ([(header::CONTENT_TYPE, "text/javascript")], SCRIPT) }),
        )
        .route(
            "/app.css",
            get(|| async { ([(header::CONTENT_TYPE, "text/css")], STYLE) }),
        )
        .route("/events", get(events))
        .route("/api/jobs", get(jobs))
        .route("/api/jobs/{seq}", get(job))
        .route("/api/runs/{run}/cancel", post(cancel))
        .layer(axum::middleware::from_fn_with_state(app.clone(), guard))
        .with_state(app)
}

#[derive(Deserialize)]
struct TokenQuery {
    token: Option<String>,
}

/// Refuses every request without the token, when there is one.
async fn guard(
    State(app): State<App>,
    Query(q): Query<TokenQuery>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    match &app.token {
        Some(t) if q.token.as_deref() != Some(t) => (
            StatusCode::FORBIDDEN,
            "fanout: this dashboard needs its token\n",
        )
            .into_response(),
        _ => next.run(req).await,
    }
}

#[derive(Deserialize)]
struct RunQuery {
    run: Option<String>,
}

/// The live state as a stream: an event each tick while the run goes,
/// then one when it has ended (and keep-alives). A broker's board goes
/// every tick.
async fn events(State(app): State<App>, Query(q): Query<RunQuery>) -> impl IntoResponse {
    let open = Open::new(&app.watching);
    let state = (app, q.run, u64::MAX, open);
    let stream = futures_util::stream::unfold(state, |(app, run, seen, open)| async move {
        if seen != u64::MAX {
            tick(&app).await;
        }
        loop {
            if let Some((version, json)) = snapshot(&app.view, run.as_deref(), seen) {
                let event = Ok::<_, std::convert::Infallible>(Event::default().data(json));
                return Some((event, (app, run, version, open)));
            }
            tick(&app).await;
        }
    });
    Sse::new(stream).keep_alive(KeepAlive::default())
}

/// Until the next tick, or news.
async fn tick(app: &App) {
    tokio::select! {
        () = tokio::time::sleep(TICK) => {}
        () = app.news.notified() => {}
    }
}

/// An open event stream, counted while it lasts.
struct Open(Arc<AtomicUsize>);

impl Open {
    fn new(count: &Arc<AtomicUsize>) -> Open {
        count.fetch_add(1, Ordering::Relaxed);
        Open(count.clone())
    }
}

impl Drop for Open {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// The page's state as JSON, with the version it shows; `None` when a
/// finished local run has not changed since `seen`.
fn snapshot(view: &View, run: Option<&str>, seen: u64) -> Option<(u64, String)> {
    match view {
        View::Local(live) => {
            let mut l = live.lock().unwrap_or_else(|e| e.into_inner());
            l.tick();
            if l.version == seen && l.finished {
                return None;
            }
            let json = serde_json::json!({"mode": "local", "selected": LOCAL, "run": &*l});
            Some((l.version, json.to_string()))
        }
        View::Broker(board, _) => {
            let json = board
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .snapshot(run);
            Some((seen.wrapping_add(1), json.to_string()))
        }
    }
}

/// Cancels a broker's run, when the dashboard was started with
/// `--dashboard-control`.
async fn cancel(State(app): State<App>, Path(run): Path<String>) -> Response {
    let View::Broker(board, Some(opts)) = &app.view else {
        let why = "fanout: start the dashboard with --dashboard-control to cancel runs\n";
        return (StatusCode::FORBIDDEN, why).into_response();
    };
    if !board
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .has_run(&run)
    {
        return (StatusCode::NOT_FOUND, "no such run\n").into_response();
    }
    match fanout_nats::cancel_async(opts, &run).await {
        Ok(()) => (StatusCode::OK, format!("{run} cancelled\n")).into_response(),
        Err(e) => (StatusCode::BAD_GATEWAY, format!("fanout: {e}\n")).into_response(),
    }
}

#[derive(Deserialize)]
struct PageQuery {
    run: Option<String>,
    #[serde(default)]
    filter: Filter,
    #[serde(default)]
    sort: SortKey,
    #[serde(default)]
    desc: bool,
    #[serde(default)]
    offset: u64,
    limit: Option<u64>,
}

/// One page of the job table.
async fn jobs(State(app): State<App>, Query(q): Query<PageQuery>) -> Response {
    let limit = q.limit.unwrap_or(50).clamp(1, MAX_ROWS);
    let run = q.run.clone();
    match from_store(app, run, move |r| {
        r.page(q.filter, q.sort, q.desc, q.offset, limit)
    })
    .await
    {
        Ok(page) => Json(page).into_response(),
        Err(e) => e,
    }
}

/// One job's whole record.
async fn job(State(app): State<App>, Path(seq): Path<u64>, Query(q): Query<RunQuery>) -> Response {
    match from_store(app, q.run, move |r| r.job(seq)).await {
        Ok(Some(record)) => Json(record).into_response(),
        Ok(None) => (StatusCode::NOT_FOUND, "no such job, or not finished yet\n").into_response(),
        Err(e) => e,
    }
}

/// Runs a query on run `run`'s store (a run the page shows, never a name
/// from the request alone) off the runtime's thread.
async fn from_store<T: Send + 'static>(
    app: App,
    run: Option<String>,
    query: impl FnOnce(&Reader) -> rusqlite::Result<T> + Send + 'static,
) -> Result<T, Response> {
    let name = match (&app.view, run) {
        (View::Local(_), _) => LOCAL.to_owned(),
        (View::Broker(board, _), Some(r))
            if board.lock().unwrap_or_else(|e| e.into_inner()).has_run(&r) =>
        {
            r
        }
        (View::Broker(..), _) => {
            return Err((StatusCode::NOT_FOUND, "no such run\n").into_response());
        }
    };
    let store = app.store.clone();
    if !super::store::path_in(&store, &name).exists() {
        // No job of the run has finished yet.
        return Err((StatusCode::NOT_FOUND, "no finished jobs yet\n").into_response());
    }
    let answer =
        tokio::task::spawn_blocking(move || Reader::open(&store, &name).and_then(|r| query(&r)))
            .await;
    match answer {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => {
            Err((StatusCode::INTERNAL_SERVER_ERROR, format!("store: {e}\n")).into_response())
        }
        Err(_) => Err((StatusCode::INTERNAL_SERVER_ERROR, "store query failed\n").into_response()),
    }
}
