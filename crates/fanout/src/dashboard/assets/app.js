// The dashboard page: the live state arrives over server-sent events
// (no polling); the job table and a job's record are fetched on demand.
"use strict";
const token = new URLSearchParams(location.search).get("token");
const q = (params) => {
  const p = new URLSearchParams(params || {});
  if (token) p.set("token", token);
  return "?" + p.toString();
};
const $ = (id) => document.getElementById(id);
const text = (s) => document.createTextNode(s == null ? "" : String(s));
const secs = (s) => s == null ? "–" : s < 1 ? (s * 1000).toFixed(0) + " ms" : s < 120 ? s.toFixed(1) + " s" : (s / 60).toFixed(1) + " min";
function row(cells, cls) {
  const tr = document.createElement("tr");
  if (cls) tr.className = cls;
  for (const c of cells) {
    const td = document.createElement("td");
    if (c instanceof Node) td.appendChild(c); else td.appendChild(text(c));
    tr.appendChild(td);
  }
  return tr;
}
function pre(s) { const p = document.createElement("pre"); p.textContent = s; return p; }

let lastDone = -1, lastLoad = 0, selected = null, events = null;

// One event: a local run's state, or a broker's board with the selected
// run's state.
function showAll(snap) {
  const broker = snap.mode === "broker";
  $("broker").hidden = !broker;
  $("slots-box").hidden = broker;
  if (broker) showBoard(snap);
  if (snap.selected !== selected) { selected = snap.selected; offset = 0; lastDone = -1; }
  if (snap.run) show(snap.run);
}

function showBoard(b) {
  $("run-id").textContent = b.selected || "(none yet)";
  // Rows are updated in place, so that a button under the pointer stays
  // the same button while the numbers change.
  const body = $("runs").tBodies[0], seen = new Set();
  for (const r of b.runs) {
    seen.add(r.run);
    let tr = body.querySelector(`tr[data-run="${CSS.escape(r.run)}"]`);
    if (!tr) {
      tr = row(["", "", "", "", "", "", "", ""]);
      tr.dataset.run = r.run;
      tr.onclick = () => connect(r.run);
      body.appendChild(tr);
    }
    const cells = [r.run, r.state || "", r.done, r.failed, r.in_flight == null ? "–" : r.in_flight,
      r.rate.toFixed(1), r.command];
    cells.forEach((c, i) => { if (tr.cells[i].textContent !== String(c)) tr.cells[i].textContent = c; });
    tr.className = r.run === b.selected ? "selected" : "";
    const last = tr.cells[7], want = b.control && r.state !== "ended";
    if (want && !last.querySelector("button")) {
      const button = document.createElement("button");
      button.textContent = "cancel";
      button.className = "cancel";
      button.onclick = async (e) => {
        e.stopPropagation();
        if (!confirm("Cancel run " + r.run + "?")) return;
        const res = await fetch("/api/runs/" + encodeURIComponent(r.run) + "/cancel" + q(), { method: "POST" });
        button.textContent = res.ok ? "cancelled" : "failed: " + res.status;
      };
      last.appendChild(button);
    } else if (!want && last.querySelector("button.cancel") && r.state === "ended") {
      last.replaceChildren();
    }
  }
  for (const tr of [...body.rows]) if (!seen.has(tr.dataset.run)) tr.remove();
  $("workers").tBodies[0].replaceChildren(...b.workers.map((w) =>
    row([w.worker, w.host, w.slots, w.load.toFixed(2), w.run || "idle",
      w.last_beat ? Math.max(0, b.now - w.last_beat).toFixed(0) + " s ago" : "–", w.results])));
}

// Writes `v` into element `id` only when it changed: an unchanged page
// costs the browser no layout (the dashboard must not slow the jobs).
function set(id, v) {
  const e = $(id), s = v == null ? "" : String(v);
  if (e.textContent !== s) e.textContent = s;
}

let lastLine = "", lastFailures = "", ended = false;
function show(live) {
  ended = live.finished && !live.state;
  set("command", live.command);
  set("host", live.host);
  set("state", live.finished ? "finished" : "running");
  set("done", live.done);
  set("running", live.running);
  set("failed", live.failed);
  set("queued", live.total != null ? Math.max(0, live.total - live.done - live.failed - live.running) : live.queued);
  $("in-flight-box").hidden = live.in_flight == null;
  set("in-flight", live.in_flight);
  if (live.state) set("state", live.state);
  set("rate", live.rate.toFixed(1));
  set("eta", live.finished ? "done" : secs(live.eta));
  set("elapsed", secs(live.elapsed));
  const t = live.throughput, max = Math.max(1, ...t);
  const line = t.map((n, i) => (i / Math.max(1, t.length - 1) * 600).toFixed(1) + "," + (100 - n / max * 95).toFixed(1)).join(" ");
  if (line !== lastLine) { lastLine = line; $("line").setAttribute("points", line); }
  showSlots(live);
  const failures = live.failures.map((f) => f.seq).join(",");
  if (failures !== lastFailures) {
    lastFailures = failures;
    $("failures").tBodies[0].replaceChildren(...live.failures.slice().reverse().map((f) => {
      const tr = row([f.seq, f.exit, f.command, pre(f.stderr_tail)], "bad");
      tr.onclick = () => detail(f.seq);
      return tr;
    }));
  }
  // The first page follows the run, at most every two seconds; once it
  // holds jobs 1 to `limit`, in order, only its count can change.
  const finished = live.done + live.failed, now = Date.now();
  const rows = $("jobs").tBodies[0].rows;
  const settled = $("filter").value === "all" && sort === "seq" && !desc &&
    rows.length === limit && rows[limit - 1].dataset.seq === String(limit);
  if (settled && offset === 0) {
    total = finished;
    set("pageinfo", `1–${limit} of ${total}`);
  } else if (finished !== lastDone && offset === 0 && (now - lastLoad > 2000 || live.finished)) {
    lastDone = finished; lastLoad = now; load();
  }
}

// What each slot runs: a row per slot, its cells rewritten only when
// they change.
function showSlots(live) {
  const body = $("slots").tBodies[0], seen = new Set();
  for (const [slot, r] of Object.entries(live.slots)) {
    seen.add(slot);
    let tr = body.querySelector(`tr[data-slot="${slot}"]`);
    if (!tr) {
      tr = row(["", "", "", ""]);
      tr.dataset.slot = slot;
      body.appendChild(tr);
    }
    [slot, r.seq, secs(live.elapsed - r.since), r.command].forEach((c, i) => {
      if (tr.cells[i].textContent !== String(c)) tr.cells[i].textContent = c;
    });
  }
  for (const tr of [...body.rows]) if (!seen.has(tr.dataset.slot)) tr.remove();
}

// The event stream, for run `run` of a broker's board (the first when
// none is chosen).
function connect(run) {
  if (events) events.close();
  if (run) { selected = run; offset = 0; lastDone = -1; }
  events = new EventSource("/events" + q(run ? { run } : {}));
  events.onmessage = (e) => showAll(JSON.parse(e.data));
  events.onerror = () => {
    // A finished local run's fanout has exited: the page keeps its end.
    if (ended) { events.close(); return; }
    $("state").textContent = "disconnected";
  };
}
connect(null);

// The job table: one page at a time from the store.
let offset = 0, sort = "seq", desc = false, limit = 50, total = 0;
async function load() {
  const filter = $("filter").value;
  const params = { filter, sort, desc, offset, limit };
  if (selected) params.run = selected;
  const r = await fetch("/api/jobs" + q(params));
  if (!r.ok) { $("pageinfo").textContent = "no jobs yet"; $("jobs").tBodies[0].replaceChildren(); return; }
  const page = await r.json();
  total = page.total;
  $("pageinfo").textContent = total === 0 ? "no jobs yet" :
    `${offset + 1}–${Math.min(offset + limit, total)} of ${total}`;
  $("jobs").tBodies[0].replaceChildren(...page.rows.map((j) => {
    const tr = row([j.seq, j.worker ? j.worker + " #" + j.slot : j.slot, j.exit, secs(j.runtime), j.rss_kib + " KiB", j.command], j.ok ? "" : "bad");
    tr.dataset.seq = j.seq;
    tr.onclick = () => detail(j.seq);
    return tr;
  }));
}
$("filter").onchange = () => { offset = 0; load(); };
$("prev").onclick = () => { offset = Math.max(0, offset - limit); load(); };
$("next").onclick = () => { if (offset + limit < total) { offset += limit; load(); } };
for (const th of document.querySelectorAll("th[data-sort]")) {
  th.onclick = () => {
    if (sort === th.dataset.sort) desc = !desc; else { sort = th.dataset.sort; desc = sort !== "seq"; }
    offset = 0; load();
  };
}

async function detail(seq) {
  const r = await fetch("/api/jobs/" + seq + q(selected ? { run: selected } : {}));
  if (!r.ok) return;
  const j = await r.json();
  $("d-seq").textContent = j.seq;
  const fields = [["command", j.command], ["args", j.args], ["worker", j.worker || "this machine"],
    ["slot", j.slot], ["exit", j.exit],
    ["signal", j.signal], ["killed", j.killed], ["attempt", j.attempt],
    ["started", new Date(j.started * 1000).toISOString()], ["run time", secs(j.runtime)],
    ["CPU time", secs(j.cpu)], ["peak RSS", j.rss_kib + " KiB"], ["stdout bytes", j.out_bytes]];
  $("d-fields").replaceChildren(...fields.map(([k, v]) => row([k, v == null ? "–" : v])));
  $("d-stdout").textContent = j.stdout;
  $("d-stderr").textContent = j.stderr;
  $("detail").hidden = false;
}
$("close").onclick = () => { $("detail").hidden = true; };
load();
