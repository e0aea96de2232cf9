//! `--bar`, `--eta` and `--progress`: counters the engine's events update
//! (a few atomic adds per job), and a thread of its own that draws them on
//! stderr five times a second, only when stderr is a terminal. Job output
//! is printed with the display cleared out of the way, so the two never mix.

use std::io::{self, IsTerminal};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use fanout_core::{Event, Observer, Sink};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::cli::ProgressKind;

/// What the display shows, shared between the engine and the drawing.
#[derive(Debug, Default)]
pub struct Counters {
    running: AtomicU64,
    completed: AtomicU64,
    last_arg: Mutex<String>,
}

/// Updates the counters from the engine's events.
pub struct Count(pub Arc<Counters>);

impl Observer for Count {
    fn observe(&mut self, event: &mut Event<'_>) -> io::Result<()> {
        let c = &self.0;
        match event {
            Event::Started { args, .. } => {
                c.running.fetch_add(1, Relaxed);
                if let Ok(mut last) = c.last_arg.try_lock() {
                    let words: Vec<_> = args.values().map(String::from_utf8_lossy).collect();
                    *last = words.join(" ");
                }
            }
            Event::Finished(_) => {
                c.running.fetch_sub(1, Relaxed);
                c.completed.fetch_add(1, Relaxed);
            }
            Event::Retried(_) => {
                c.running.fetch_sub(1, Relaxed);
            }
            _ => {}
        }
        Ok(())
    }
}

/// The drawing thread and its bar.
pub struct Display {
    bar: ProgressBar,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Display {
    /// Starts drawing `kind` for a run of `total` jobs (when known) with
    /// `slots` job slots.
    pub fn start(
        kind: ProgressKind,
        counters: Arc<Counters>,
        total: Option<u64>,
        slots: usize,
    ) -> Display {
        let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr_with_hz(5));
        bar.set_style(ProgressStyle::with_template("{wide_msg}").expect("a valid template"));
        let tty = io::stderr().is_terminal();
        if kind != ProgressKind::Bar && tty {
            let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
            eprintln!(
                "\nComputers / CPU cores / Max jobs to run\n1:local / {cpus} / {slots}\n\nComputer:jobs running/jobs completed/%of started jobs/Average seconds to complete"
            );
        }
        let stop = Arc::new(AtomicBool::new(false));
        let (b, s) = (bar.clone(), stop.clone());
        let thread = std::thread::Builder::new()
            .name("fanout-progress".into())
            .spawn(move || {
                let begun = Instant::now();
                while !s.load(Relaxed) {
                    b.set_message(line(kind, &counters, total, begun));
                    std::thread::sleep(Duration::from_millis(200));
                }
                b.set_message(line(kind, &counters, total, begun));
            })
            .ok();
        Display { bar, stop, thread }
    }

    /// A sink printing through `inner` with the display cleared away.
    pub fn suspended<S: Sink>(&self, inner: S) -> Suspended<S> {
        Suspended {
            inner,
            bar: self.bar.clone(),
        }
    }

    /// Draws the final state and leaves it on the screen.
    pub fn finish(mut self) {
        self.stop.store(true, Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        self.bar.finish();
        if io::stderr().is_terminal() {
            eprintln!();
        }
    }
}

/// One frame, in GNU parallel's words.
fn line(kind: ProgressKind, c: &Counters, total: Option<u64>, begun: Instant) -> String {
    let running = c.running.load(Relaxed);
    let done = c.completed.load(Relaxed);
    let elapsed = begun.elapsed().as_secs_f64();
    let avg = if done > 0 { elapsed / done as f64 } else { 0.0 };
    let local = format!("local:{running}/{done}/100%/{avg:.1}s");
    let left = total.map(|t| t.saturating_sub(done));
    let eta = left.map_or(0.0, |l| l as f64 * avg).round() as u64;
    match kind {
        ProgressKind::Progress => local,
        ProgressKind::Eta => match left {
            Some(l) => format!("ETA: {eta}s Left: {l} AVG: {avg:.2}s  {local}"),
            None => format!("Done: {done} AVG: {avg:.2}s  {local}"),
        },
        ProgressKind::Bar => {
            let last = c.last_arg.lock().map(|s| s.clone()).unwrap_or_default();
            let t = total.unwrap_or(done.max(1));
            let pct = (done * 100).checked_div(t).unwrap_or(100);
            let text = format!("{pct}% {done}:{}={eta}s {last}", t.saturating_sub(done));
            reverse_bar(&text, pct)
        }
    }
}

/// The text across the terminal, its first `pct` percent in reverse video.
fn reverse_bar(text: &str, pct: u64) -> String {
    let width = console_width();
    let mut chars: Vec<char> = text.chars().take(width).collect();
    chars.resize(width, ' ');
    let split = (width as u64 * pct / 100) as usize;
    let (a, b): (String, String) = (
        chars[..split].iter().collect(),
        chars[split..].iter().collect(),
    );
    format!("\x1b[7m{a}\x1b[0m{b}")
}

fn console_width() -> usize {
    rustix::termios::tcgetwinsize(rustix::stdio::stderr())
        .map(|w| usize::from(w.ws_col).saturating_sub(1))
        .ok()
        .filter(|&w| w > 10)
        .unwrap_or(79)
}

/// A sink whose printing happens with the progress display cleared away.
pub struct Suspended<S> {
    inner: S,
    bar: ProgressBar,
}

impl<S: Sink> Sink for Suspended<S> {
    fn event(&mut self, event: Event<'_>) -> io::Result<()> {
        match event {
            Event::Started { .. } | Event::Retried(_) => self.inner.event(event),
            _ => {
                let inner = &mut self.inner;
                self.bar.suspend(|| inner.event(event))
            }
        }
    }

    fn finish(&mut self) -> io::Result<()> {
        self.inner.finish()
    }
}
