//! `--report FILE.html`: the story of a finished run in one self-contained
//! file (inline style and SVG, no script, nothing fetched): totals, a
//! timeline of jobs per slot (per worker and slot for a run on a
//! broker), a run-time histogram, the slowest and the
//! failed jobs, and the command. Written beside its destination and
//! renamed into place, so a reader never sees half a report.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::Path;

use anyhow::{Context, Result};

use super::live::Live;
use super::store::{Reader, Record};

/// Bars the timeline draws at most (the longest jobs).
const BARS: u64 = 5000;
/// Failed jobs listed at most.
const FAILED: u64 = 200;
/// Slowest jobs listed.
const SLOWEST: u64 = 20;
/// Histogram bins.
const BINS: usize = 30;
/// The timeline's and histogram's width, in SVG units.
const WIDTH: f64 = 1000.0;

/// Writes the report of the run in `store_dir` to `path`.
pub fn write(path: &Path, store_dir: &Path, live: &Live) -> Result<()> {
    let html = render(store_dir, live).context("cannot read the job store for --report")?;
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty());
    // 0666 less the umask, as a file made by `>` is.
    let mut tmp = tempfile::Builder::new()
        .prefix(".fanout-report-")
        .permissions(std::os::unix::fs::PermissionsExt::from_mode(0o666))
        .tempfile_in(dir.unwrap_or(Path::new(".")))
        .with_context(|| format!("cannot write --report `{}`", path.display()))?;
    std::io::Write::write_all(&mut tmp, html.as_bytes())
        .with_context(|| format!("cannot write --report `{}`", path.display()))?;
    tmp.persist(path)
        .with_context(|| format!("cannot write --report `{}`", path.display()))?;
    Ok(())
}

fn render(store_dir: &Path, live: &Live) -> rusqlite::Result<String> {
    let r = Reader::open(store_dir, super::server::LOCAL)?;
    let t = r.totals()?;
    let mut h = String::with_capacity(64 * 1024);
    let wall = (t.span.1 - t.span.0).max(0.0);
    let _ = write!(
        h,
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>fanout report</title>\
         <style>{STYLE}</style></head><body><h1>fanout run report</h1>\
         <p class=\"cmd\"><code>{}</code></p><p>on {} · {} jobs · {} failed</p>",
        esc(&live.command),
        esc(&live.host),
        t.jobs,
        t.failed
    );
    let _ = write!(
        h,
        "<h2>Totals</h2><table class=\"totals\">\
         <tr><th>jobs</th><td id=\"total-jobs\">{}</td></tr>\
         <tr><th>failed</th><td id=\"total-failed\">{}</td></tr>\
         <tr><th>wall time</th><td>{}</td></tr><tr><th>CPU time</th><td>{}</td></tr>\
         <tr><th>peak RSS (largest job)</th><td>{} KiB</td></tr>\
         <tr><th>bytes out</th><td>{}</td></tr></table>",
        t.jobs,
        t.failed,
        secs(wall),
        secs(t.cpu),
        t.max_rss_kib,
        t.out_bytes
    );
    timeline(&mut h, &r, t.span, t.jobs)?;
    histogram(&mut h, &r)?;
    let slowest = r.records("SELECT * FROM jobs ORDER BY runtime DESC LIMIT ?1", SLOWEST)?;
    h.push_str("<h2>Slowest jobs</h2>");
    table(&mut h, "slowest", &slowest, false);
    let failed = r.records(
        "SELECT * FROM jobs WHERE ok = 0 ORDER BY seq LIMIT ?1",
        FAILED,
    )?;
    let _ = write!(h, "<h2>Failed jobs ({})</h2>", t.failed);
    if failed.is_empty() {
        h.push_str("<p>none</p>");
    } else {
        table(&mut h, "failed", &failed, true);
    }
    h.push_str("</body></html>\n");
    Ok(h)
}

/// The Gantt chart: one lane per slot of each worker (of this machine,
/// for a local run), a bar per job (the longest `BARS` when there are
/// more).
fn timeline(h: &mut String, r: &Reader, span: (f64, f64), jobs: u64) -> rusqlite::Result<()> {
    let spans = r.spans(BARS)?;
    let lanes: BTreeSet<(&str, u64)> = spans.iter().map(|s| (&*s.worker, s.slot)).collect();
    let lane_of: BTreeMap<(&str, u64), usize> =
        lanes.iter().enumerate().map(|(i, &k)| (k, i)).collect();
    let workers: BTreeSet<&str> = lanes.iter().map(|l| l.0).collect();
    let count = lanes.len().max(1);
    let lane_h = (200.0 / count as f64).clamp(3.0, 24.0);
    let height = lane_h * count as f64 + 20.0;
    let wall = (span.1 - span.0).max(1e-6);
    let _ = write!(
        h,
        "<h2>Timeline</h2><p>one lane per slot{}{}</p>\
         <svg id=\"timeline\" viewBox=\"0 0 {WIDTH} {height}\" width=\"100%\">",
        if workers.len() > 1 {
            format!(" of each of {} workers", workers.len())
        } else {
            String::new()
        },
        if jobs > BARS {
            format!("; the {BARS} longest of {jobs} jobs")
        } else {
            String::new()
        }
    );
    for s in &spans {
        let x = (s.started - span.0) / wall * WIDTH;
        let w = (s.runtime / wall * WIDTH).max(0.5);
        let y = lane_of[&(&*s.worker, s.slot)] as f64 * lane_h;
        let class = if s.ok { "ok" } else { "bad" };
        let _ = write!(
            h,
            "<rect class=\"{class}\" x=\"{x:.2}\" y=\"{y:.2}\" width=\"{w:.2}\" height=\"{:.2}\"/>",
            lane_h * 0.8
        );
    }
    if workers.len() > 1 {
        // Each worker's name at its first lane (lanes are in worker order).
        let mut named = None;
        for (i, &(w, _)) in lanes.iter().enumerate() {
            if named != Some(w) {
                named = Some(w);
                let _ = write!(
                    h,
                    "<text class=\"lane\" x=\"2\" y=\"{:.2}\">{}</text>",
                    i as f64 * lane_h + lane_h.max(10.0) * 0.8,
                    esc(w)
                );
            }
        }
    }
    let _ = write!(
        h,
        "<text x=\"0\" y=\"{}\">0 s</text><text x=\"{WIDTH}\" y=\"{}\" text-anchor=\"end\">{}</text></svg>",
        height - 4.0,
        height - 4.0,
        secs(wall)
    );
    Ok(())
}

/// Run times in `BINS` bins.
fn histogram(h: &mut String, r: &Reader) -> rusqlite::Result<()> {
    let (lo, w, counts) = r.histogram(BINS)?;
    let most = counts.iter().copied().max().unwrap_or(0).max(1) as f64;
    let bar_w = WIDTH / BINS as f64;
    let _ = write!(
        h,
        "<h2>Run times</h2><svg id=\"histogram\" viewBox=\"0 0 {WIDTH} 140\" width=\"100%\">"
    );
    for (i, &n) in counts.iter().enumerate() {
        let bh = n as f64 / most * 110.0;
        let _ = write!(
            h,
            "<rect class=\"ok\" x=\"{:.2}\" y=\"{:.2}\" width=\"{:.2}\" height=\"{bh:.2}\"><title>{} – {}: {n}</title></rect>",
            i as f64 * bar_w,
            120.0 - bh,
            bar_w * 0.9,
            secs(lo + i as f64 * w),
            secs(lo + (i + 1) as f64 * w)
        );
    }
    let _ = write!(
        h,
        "<text x=\"0\" y=\"136\">{}</text><text x=\"{WIDTH}\" y=\"136\" text-anchor=\"end\">{}</text></svg>",
        secs(lo),
        secs(lo + BINS as f64 * w)
    );
    Ok(())
}

fn table(h: &mut String, id: &str, rows: &[Record], stderr: bool) {
    let _ = write!(
        h,
        "<table id=\"{id}\"><tr><th>job</th><th>exit</th><th>run time</th><th>command</th>{}</tr>",
        if stderr { "<th>stderr</th>" } else { "" }
    );
    for r in rows {
        let _ = write!(
            h,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td><code>{}</code></td>",
            r.seq,
            r.exit,
            secs(r.runtime),
            esc(&r.command)
        );
        if stderr {
            let tail = &r.stderr[floor_char(&r.stderr, r.stderr.len().saturating_sub(2048))..];
            let _ = write!(h, "<td><pre>{}</pre></td>", esc(tail));
        }
        h.push_str("</tr>");
    }
    h.push_str("</table>");
}

/// The largest char boundary of `s` at or before `i`.
fn floor_char(s: &str, mut i: usize) -> usize {
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

fn secs(s: f64) -> String {
    if s < 1.0 {
        format!("{:.1} ms", s * 1000.0)
    } else {
        format!("{s:.2} s")
    }
}

/// `s` escaped for HTML text and attributes.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = "body{font:14px system-ui,sans-serif;margin:2em;color:#222}\
table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ccc;padding:2px 8px;\
text-align:left;vertical-align:top}pre{margin:0;white-space:pre-wrap;max-width:60em}\
rect.ok{fill:#3a7}rect.bad{fill:#d33}svg{border:1px solid #ddd;background:#fafafa}\
text{font-size:12px;fill:#555}.cmd code{background:#eee;padding:2px 4px}";
