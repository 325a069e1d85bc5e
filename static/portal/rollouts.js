// The rollout progress page: a websocket (/ws/rollouts/<id>/) pushes snapshots after every change;
// without one (or while it is down) the page polls live.json every 5 s. Draws a small SVG chart.
(function () {
  "use strict";
  const script = document.getElementById("rollout-state");
  if (!script) return;
  let state = JSON.parse(script.textContent);
  const NS = "http://www.w3.org/2000/svg";
  const STATUS_CLASS = { running: "badge-green", completed: "badge-green", halted: "badge-red",
    cancelled: "badge-red", paused: "badge-amber", deactivating: "badge-amber" };

  function text(id, value) {
    const el = document.getElementById(id);
    if (el) el.textContent = value;
  }

  function chart(samples) {
    const svg = document.getElementById("chart");
    if (!svg) return;
    while (svg.firstChild) svg.removeChild(svg.firstChild);
    const W = 600, H = 180, P = 24;
    if (!samples.length) {
      const t = document.createElementNS(NS, "text");
      t.setAttribute("x", P); t.setAttribute("y", H / 2); t.textContent = "No outcome yet.";
      svg.appendChild(t);
      return;
    }
    const t0 = Date.parse(samples[0].at), t1 = Date.parse(samples[samples.length - 1].at);
    const span = Math.max(1, t1 - t0);
    const top = Math.max(1, ...samples.map((s) => Math.max(s.succeeded, s.failed + s.timed_out, s.in_flight)));
    const x = (s) => P + ((Date.parse(s.at) - t0) / span) * (W - 2 * P);
    const y = (v) => H - P - (v / top) * (H - 2 * P);
    const series = [
      ["ok", (s) => s.succeeded], ["fail", (s) => s.failed + s.timed_out], ["flight", (s) => s.in_flight],
    ];
    for (const [cls, value] of series) {
      const path = document.createElementNS(NS, "polyline");
      path.setAttribute("class", cls);
      path.setAttribute("points", samples.map((s) => `${x(s).toFixed(1)},${y(value(s)).toFixed(1)}`).join(" "));
      svg.appendChild(path);
    }
    const label = document.createElementNS(NS, "text");
    label.setAttribute("x", 4); label.setAttribute("y", 12); label.textContent = String(top);
    svg.appendChild(label);
  }

  function render(s) {
    state = s;
    const badge = document.querySelector("#status-badge .badge");
    if (badge) {
      badge.textContent = s.status_label;
      badge.className = "badge " + (STATUS_CLASS[s.status] || "badge-grey");
    }
    for (const k of ["succeeded", "failed", "timed_out", "in_flight", "pending"]) text("n-" + k, s.totals[k]);
    text("n-members", s.members);
    text("outside", s.outside_inventory);
    const rate = s.stop_rule.failure_rate;
    text("failure-rate", rate === null ? "—" : rate.toFixed(1) + "%");
    text("sample", s.stop_rule.sample);
    const fill = document.getElementById("rate-fill");
    if (fill) fill.style.width = (rate || 0) + "%";
    const halt = document.getElementById("halt-reason");
    if (halt) {
      halt.hidden = !s.halt_reason;
      halt.querySelector("span").textContent = s.halt_reason;
      const strong = halt.querySelector("strong");
      if (strong) strong.hidden = s.status !== "halted";
    }
    const approval = document.getElementById("awaiting-approval");
    if (approval) {
      approval.hidden = s.awaiting_approval === null;
      text("approval-wave", s.awaiting_approval);
      const input = document.getElementById("approval-input");
      if (input) input.value = s.awaiting_approval === null ? "" : s.awaiting_approval;
    }
    for (const w of s.waves) {
      const row = document.querySelector(`#wave-rows tr[data-wave="${w.number}"]`);
      if (!row) continue;
      row.querySelector(".w-state").textContent = w.state;
      for (const k of ["pending", "in_flight", "succeeded", "failed", "timed_out"]) row.querySelector(".w-" + k).textContent = w.counts[k];
      row.querySelector(".w-rate").textContent = w.success_rate === null ? "—" : w.success_rate.toFixed(1) + "%";
      row.querySelector(".w-released").textContent = w.released_at ? w.released_at.slice(0, 19) : "—";
    }
    // controls follow the status (forms are rendered by the server; hide those that no longer apply)
    for (const form of document.querySelectorAll("form[data-control]")) {
      form.hidden = !s.controls.includes(form.dataset.control);
    }
    chart(s.samples);
  }

  let timer = null;
  function poll() {
    fetch(state.poll_url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then((r) => (r.ok ? r.json() : null))
      .then((s) => { if (s) render(s); })
      .catch(() => {});
  }
  function startPolling() { if (!timer) timer = setInterval(poll, 5000); }
  function stopPolling() { if (timer) { clearInterval(timer); timer = null; } }

  function connect() {
    const proto = location.protocol === "https:" ? "wss:" : "ws:";
    let socket;
    try {
      socket = new WebSocket(`${proto}//${location.host}/ws/rollouts/${state.id}/`);
    } catch (e) { startPolling(); return; }
    socket.onmessage = (event) => {
      const data = JSON.parse(event.data);
      if (data.type === "snapshot") render(data);
    };
    socket.onclose = () => { startPolling(); setTimeout(connect, 10000); };
    socket.onerror = () => startPolling();
  }

  render(state);
  connect();
  // Engine ticks run in workers: without a shared channel layer only polling sees them.
  startPolling();
  document.addEventListener("visibilitychange", () => { if (!document.hidden) poll(); else stopPolling(); });
})();
