// Carousel pages. Detail: polls live.json every 2 s and updates the state, counters, error and the
// start/stop buttons. Form: shows only the fields that mean something for the chosen kind.
(function () {
  "use strict";
  const BADGES = { running: "badge-green", starting: "badge-blue", stopping: "badge-amber",
    error: "badge-red", stopped: "badge-grey" };

  function text(id, value) {
    const el = document.getElementById(id);
    if (el) el.textContent = value;
  }

  function render(s) {
    const badge = document.getElementById("carousel-state");
    if (badge) {
      badge.textContent = s.state_label + (s.stale ? " (stale)" : "");
      badge.className = "badge " + (s.stale ? "badge-red" : (BADGES[s.state] || "badge-grey"));
    }
    text("live-bitrate", s.bitrate);
    for (const k of ["cycles", "packets", "bytes_sent", "errors", "restarts", "content_version"]) {
      text("live-" + k, String(s[k]));
    }
    text("live-heartbeat_age", s.heartbeat_age === null ? "—" : Math.round(s.heartbeat_age) + " s");
    text("live-worker", s.worker || "—");
    text("live-started_at", s.started_at || "—");
    text("live-cycle_seconds", s.cycle_seconds + " s");
    text("live-desired", s.desired_running ? "running" : "stopped");
    const err = document.getElementById("last-error");
    if (err) {
      err.textContent = s.last_error;
      err.hidden = !s.last_error;
    }
    const start = document.querySelector("[data-control=start]");
    const stop = document.querySelector("[data-control=stop]");
    if (start) start.hidden = s.desired_running;
    if (stop) stop.hidden = !s.desired_running;
  }

  const live = document.getElementById("carousel-live");
  if (live) {
    const url = live.dataset.url;
    let busy = false;
    const poll = function () {
      if (busy || document.hidden) return;
      busy = true;
      fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" })
        .then((r) => (r.ok ? r.json() : Promise.reject(r.status)))
        .then(render)
        .catch(() => {})
        .finally(() => { busy = false; });
    };
    window.setInterval(poll, 2000);
  }

  const form = document.querySelector("[data-carousel-form]");
  if (form) {
    const kind = form.querySelector("select[name=kind]");
    const sync = function () {
      form.querySelectorAll("[data-kinds]").forEach((input) => {
        const wrap = input.closest(".field");
        if (!wrap) return;
        const kinds = input.dataset.kinds.split(" ");
        wrap.hidden = Boolean(kind && kind.value) && !kinds.includes(kind.value) && !wrap.classList.contains("has-error");
      });
    };
    if (kind) {
      kind.addEventListener("change", sync);
      sync();
    }
  }
})();
