//! The worker's heartbeat for watchers: every [`BEAT`] a [`WorkerBeat`] on
//! [`WORKERS`] with its id, host, slots, the run it serves and the host's
//! load, so that a dashboard shows the workers of a broker. Core NATS, not
//! stored: a worker that stops beating is gone. (Leases on held jobs are
//! JetStream's progress acks, in `serve.rs`; this is not one of them.)

use std::sync::{Arc, Mutex};

use crate::names::WORKERS;
use crate::schema::{WorkerBeat, BEAT, VERSION};

/// The run a worker serves now, shared with its heartbeat.
pub type Serving = Arc<Mutex<Option<String>>>;

/// The heartbeat task; it stops when this is dropped.
pub struct Beat(tokio::task::JoinHandle<()>);

impl Beat {
    /// Starts beating for worker `id` with `slots`.
    pub fn start(client: async_nats::Client, id: String, slots: usize, serving: Serving) -> Beat {
        let host = host_name();
        Beat(tokio::spawn(async move {
            let mut tick = tokio::time::interval(BEAT);
            loop {
                tick.tick().await;
                let beat = WorkerBeat {
                    v: VERSION,
                    worker: id.clone(),
                    host: host.clone(),
                    slots: u32::try_from(slots).unwrap_or(u32::MAX),
                    run: serving.lock().unwrap_or_else(|e| e.into_inner()).clone(),
                    load: load_average(),
                };
                if let Ok(payload) = serde_json::to_vec(&beat) {
                    // A beat lost while the broker is away is not missed.
                    let _ = client.publish(WORKERS, payload.into()).await;
                }
            }
        }))
    }
}

impl Drop for Beat {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// The one-minute load average (0 when /proc says nothing).
fn load_average() -> f64 {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(0.0)
}

/// This host's name.
fn host_name() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: a buffer of its stated length; gethostname NUL-terminates
    // what fits.
    let r = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    if r != 0 {
        return String::new();
    }
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    String::from_utf8_lossy(&buf[..end]).into_owned()
}
