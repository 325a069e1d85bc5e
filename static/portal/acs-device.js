// The device page's live task list: a websocket (/ws/devices/<id>/) sends a snapshot whenever the
// device's tasks or session change; while it is down the page polls live.json every few seconds
// (the transport: static/portal/live.js). Without JavaScript the page still works (it shows the
// tasks as of its loading).
(() => {
  "use strict";
  const section = document.querySelector("section[data-ws-path]");
  if (!section || !window.PortalLive) return;
  const { el } = window.PortalLive;
  const when = (iso) => window.PortalLive.when(iso, { empty: "—" });
  const tbody = section.querySelector("tbody");
  const csrf = (document.querySelector("input[name=csrfmiddlewaretoken]") || {}).value || "";
  const canManage = section.dataset.canManage === "1";

  function taskForm(task, op, label) {
    const url = section.dataset[op + "Url"].replace("/tasks/0/", `/tasks/${task.id}/`);
    const form = el("form", { method: "post", action: url, class: "inline" });
    form.append(el("input", { type: "hidden", name: "csrfmiddlewaretoken", value: csrf }));
    form.append(el("button", { class: "btn btn-link small", type: "submit" }, label));
    return form;
  }

  function cells(task) {
    const state = el("span", { class: `badge acs-state-${task.state}`, "data-testid": "task-state" }, task.state_label);
    const fault = el("td", { class: "small" });
    if (task.fault_code) { fault.append(el("code", {}, String(task.fault_code)), ` ${task.fault_string} `); }
    if (task.reason) fault.append(el("span", { class: "muted" }, task.reason));
    const ops = el("td");
    if (canManage && task.state === "queued") ops.append(taskForm(task, "cancel", "Cancel"));
    if (canManage && (task.state === "fault" || task.state === "expired")) ops.append(taskForm(task, "retry", "Retry"));
    const stateCell = el("td"); stateCell.append(state);
    return [
      el("td", {}, String(task.id)), el("td", {}, task.rpc), el("td", { class: "small" }, task.summary),
      stateCell,
      el("td", { class: "small" }, when(task.created)), el("td", { class: "small" }, when(task.sent)),
      el("td", { class: "small" }, when(task.completed)), fault, ops,
    ];
  }

  function render(snapshot) {
    const rows = snapshot.tasks.map((task) => {
      let row = tbody.querySelector(`tr[data-task-id="${task.id}"]`);
      const key = JSON.stringify(task);
      if (!row) {
        row = el("tr", { "data-task-id": String(task.id) });
      }
      if (row.dataset.key !== key) {
        row.replaceChildren(...cells(task));
        row.dataset.key = key;
        row.dataset.state = task.state;
      }
      return row;
    });
    if (rows.length) tbody.replaceChildren(...rows);
    const device = snapshot.device;
    const online = document.querySelector("[data-testid=online]");
    if (online) {
      online.textContent = device.online ? "online" : "offline";
      online.className = `badge ${device.online ? "badge-green" : "badge-grey"}`;
    }
    const inSession = document.querySelector("[data-testid=in-session]");
    if (inSession) inSession.hidden = !device.in_session;
    const version = document.querySelector("[data-testid=software-version]");
    if (version && device.software_version) version.textContent = device.software_version;
    section.dataset.updated = snapshot.at;
  }

  window.PortalLive.start({
    section,
    pollMs: 4000,
    onData: (data, polled) => { if (polled || data.type === "snapshot") render(data); },
  });
})();
