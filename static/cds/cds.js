// The CDS cards follow the box live: a websocket (/ws/cds/devices/<id>/) says when the device
// changed, and the cards are fetched again (the server renders them); while the websocket is down
// the cards are polled. Ticked items stay ticked across updates. Works without JavaScript too.
(() => {
  "use strict";
  const section = document.querySelector("section#cds[data-cards-url]");
  if (!section) return;
  const holder = section.querySelector("[data-testid=cds-cards]");
  const status = section.querySelector("[data-testid=cds-live]");
  const POLL_MS = 4000;
  let socket = null, pollTimer = null, retries = 0, fetching = false, again = false;

  function setStatus(text, cls) { status.textContent = text; status.className = `badge small ${cls}`; }

  function wire(root) {
    root.querySelectorAll("input.select-all").forEach((box) => box.addEventListener("change", () => {
      box.closest("table").querySelectorAll("input.row-select").forEach((row) => { row.checked = box.checked; });
    }));
  }

  function update() {
    if (fetching) { again = true; return; }
    fetching = true;
    fetch(section.dataset.cardsUrl, { credentials: "same-origin" })
      .then((r) => (r.ok ? r.text() : null))
      .then((html) => {
        if (html === null) return;
        const next = document.createElement("div");
        next.innerHTML = html;
        const current = holder.querySelector(".cds-state");
        const fresh = next.querySelector(".cds-state");
        if (current && fresh && current.dataset.version === fresh.dataset.version) return;
        const ticked = new Set([...holder.querySelectorAll("input.row-select:checked")].map((b) => b.closest("[data-testid]").dataset.testid + ":" + b.value));
        const typing = holder.contains(document.activeElement) && document.activeElement.tagName === "INPUT" && document.activeElement.type !== "checkbox";
        if (typing) { again = true; return; }
        next.querySelectorAll("input.row-select").forEach((b) => {
          if (ticked.has(b.closest("[data-testid]").dataset.testid + ":" + b.value)) b.checked = true;
        });
        holder.replaceChildren(...next.childNodes);
        wire(holder);
      })
      .catch(() => {})
      .finally(() => { fetching = false; if (again) { again = false; setTimeout(update, 300); } });
  }

  function startPolling() {
    if (pollTimer) return;
    setStatus(`polling every ${POLL_MS / 1000} s`, "badge-grey");
    pollTimer = setInterval(update, POLL_MS);
  }
  function stopPolling() { if (pollTimer) clearInterval(pollTimer); pollTimer = null; }

  function connect() {
    if (typeof window.WebSocket !== "function") { startPolling(); return; }
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    try { socket = new WebSocket(`${scheme}//${location.host}${section.dataset.cdsWsPath}`); } catch (e) { startPolling(); return; }
    socket.addEventListener("open", () => { retries = 0; stopPolling(); setStatus("live", "badge-green"); update(); });
    socket.addEventListener("message", () => update());
    socket.addEventListener("close", () => {
      socket = null; startPolling(); retries += 1;
      setTimeout(connect, Math.min(30000, 1000 * 2 ** Math.min(retries, 5)));
    });
  }
  connect();
})();
