// Live home-network pages. The compliance dashboard (/ws/home-network/) receives the counts per
// state and the rows of devices whose compliance changed; a device's home-network page
// (/ws/home-network/devices/<id>/) receives its compliance and dry run. While the websocket is
// down the page polls its live.json every few seconds (the transport: static/portal/live.js).
// Without JavaScript the pages still work (as of their loading).
(() => {
  "use strict";
  const section = document.querySelector("section[data-homenet-live]");
  if (!section || !window.PortalLive) return;
  const kind = section.dataset.homenetLive;
  const { el } = window.PortalLive;
  const when = (iso) => window.PortalLive.when(iso, { seconds: false });

  // --- the dashboard ----------------------------------------------------------------------------

  function renderCounts(counts) {
    for (const [state, n] of Object.entries(counts || {})) {
      const cell = section.querySelector(`[data-count="${state}"]`);
      if (cell) cell.textContent = String(n);
    }
  }

  function rowFor(row) {
    const tr = el("tr", { "data-device-id": String(row.device), "data-state": row.state });
    const link = el("a", { href: row.url }, row.device_label);
    const first = el("td"); first.append(link);
    const reasons = el("td", { class: "small" });
    for (const line of row.reasons) reasons.append(el("div", {}, line));
    tr.append(
      first,
      el("td", { "data-testid": "row-state" }, row.state_label),
      el("td", { class: "small" }, row.profiles.join(", ")),
      reasons,
      el("td", { class: "small", "data-iso": row.evaluated || "" }, when(row.evaluated)),
    );
    return tr;
  }

  function renderDashboard(data, full) {
    renderCounts(data.counts);
    const tbody = section.querySelector("tbody");
    const filter = section.dataset.state || "";
    const fresh = (data.rows || []).filter((row) => !filter || row.state === filter);
    if (full) {
      if (fresh.length) tbody.replaceChildren(...fresh.map(rowFor));
    } else {
      for (const row of data.rows || []) {
        const old = tbody.querySelector(`tr[data-device-id="${row.device}"]`);
        if (old) old.remove();
      }
      const empty = tbody.querySelector("tr[data-empty]");
      if (empty && fresh.length) empty.remove();
      for (const row of fresh.reverse()) tbody.prepend(rowFor(row));
    }
    section.dataset.updated = data.at || "";
  }

  // --- a device's page --------------------------------------------------------------------------

  function renderDevice(data) {
    const c = data.compliance;
    section.querySelector("[data-testid=compliance-state]").textContent = c ? c.state_label : "not evaluated";
    section.querySelector("[data-live=evaluated]").textContent = c && c.evaluated ? `(${when(c.evaluated)})` : "";
    section.querySelector("[data-live=profiles]").textContent = data.profiles.join(", ") || "none";
    const fault = section.querySelector("[data-live=fault]");
    fault.replaceChildren();
    if (c && (c.fault_code || c.fault_string)) {
      fault.append(el("p", { class: "error", "data-testid": "fault" }, `Fault ${c.fault_code || ""}: ${c.fault_string}`));
      for (const f of c.fault_details || []) fault.append(el("p", { class: "error small" }, `${f.name}: ${f.code} ${f.text}`));
    }
    const plan = data.plan;
    const list = section.querySelector("[data-testid=dry-run]");
    const lines = plan.describe.map((line) => el("li", { class: "mono" }, line));
    list.replaceChildren(...(lines.length ? lines : [el("li", { class: "muted" }, "Nothing: the device is in sync with its profiles (as far as the ACS knows its tree).")]));
    const count = section.querySelector("[data-live=rpc-count]");
    count.textContent = `${plan.rpc_count} RPC(s).`;
    count.hidden = !plan.rpc_count;
    section.querySelector("[data-live=conflicts]").replaceChildren(
      ...plan.conflicts.map((x) => el("p", { class: "error", "data-testid": "conflict" }, `Conflict — ${x.text}`)),
    );
    section.querySelector("[data-live=problems]").replaceChildren(
      ...plan.problems.map((p) => el("p", { class: "error" }, `Refused before sending — ${p.profile}: ${p.message}`)),
    );
    const apply = section.querySelector("[data-live=apply]");
    if (apply) apply.hidden = plan.converged;
    section.dataset.updated = data.at || "";
  }

  function handle(data, full) {
    if (kind === "dashboard" && (data.type === "update" || data.type === "counts")) {
      if (data.type === "counts") renderCounts(data.counts);
      else renderDashboard(data, full);
    } else if (kind === "device" && data.type === "snapshot") {
      renderDevice(data);
    }
  }

  window.PortalLive.start({
    section,
    pollMs: 5000,
    onData: (data, polled) => handle(data, polled),
    refreshOnVisible: kind === "device",
  });
})();
