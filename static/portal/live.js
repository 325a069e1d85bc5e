// The live pages' transport (device page, home-network pages): a websocket to `wsPath` that the
// server pushes snapshots into (portal.consumers.ObjectSnapshotConsumer); while it is down, the
// page polls `liveUrl` every `pollMs` and reconnects with back-off (1, 2, 4 ... 30 s). A page
// brought back to the foreground asks the socket for a fresh snapshot (`refreshOnVisible`).
// Shared helpers for rendering: PortalLive.when (local date and time), PortalLive.el.
//
//   PortalLive.start({ section, pollMs, onData(data, polled), refreshOnVisible })
//
// `section` carries data-ws-path and data-live-url, and may hold [data-testid=live-status].
window.PortalLive = (() => {
  "use strict";

  const pad = (n) => String(n).padStart(2, "0");

  function when(iso, { seconds = true, empty = "" } = {}) {
    if (!iso) return empty;
    const d = new Date(iso);
    if (Number.isNaN(d.getTime())) return iso;
    const day = `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
    const time = `${pad(d.getHours())}:${pad(d.getMinutes())}`;
    return seconds ? `${day} ${time}:${pad(d.getSeconds())}` : `${day} ${time}`;
  }

  function el(tag, attrs = {}, text = "") {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
    if (text) node.textContent = text;
    return node;
  }

  function start({ section, pollMs, onData, refreshOnVisible = true }) {
    const status = section.querySelector("[data-testid=live-status]");
    let socket = null;
    let pollTimer = null;
    let retries = 0;

    function setStatus(text, cls) {
      if (!status) return;
      status.textContent = text;
      status.className = `badge small ${cls}`;
    }

    function poll() {
      fetch(section.dataset.liveUrl, { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then((r) => (r.ok ? r.json() : null))
        .then((data) => { if (data) onData(data, true); })
        .catch(() => {});
    }

    function startPolling() {
      if (pollTimer) return;
      setStatus(`polling every ${pollMs / 1000} s`, "badge-grey");
      poll();
      pollTimer = setInterval(poll, pollMs);
    }

    function stopPolling() {
      if (pollTimer) clearInterval(pollTimer);
      pollTimer = null;
    }

    function connect() {
      if (typeof window.WebSocket !== "function") { startPolling(); return; }
      const scheme = location.protocol === "https:" ? "wss:" : "ws:";
      try {
        socket = new WebSocket(`${scheme}//${location.host}${section.dataset.wsPath}`);
      } catch (e) {
        startPolling();
        return;
      }
      socket.addEventListener("open", () => { retries = 0; stopPolling(); setStatus("live", "badge-green"); });
      socket.addEventListener("message", (event) => {
        let data;
        try { data = JSON.parse(event.data); } catch (e) { return; /* a malformed frame */ }
        onData(data, false);
      });
      socket.addEventListener("close", () => {
        socket = null;
        startPolling();
        retries += 1;
        setTimeout(connect, Math.min(30000, 1000 * 2 ** Math.min(retries, 5)));
      });
    }

    document.addEventListener("visibilitychange", () => {
      if (refreshOnVisible && document.visibilityState === "visible" && socket && socket.readyState === WebSocket.OPEN) {
        socket.send(JSON.stringify({ type: "refresh" }));
      }
    });
    connect();
  }

  return { start, when, el };
})();
