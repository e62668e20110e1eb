// dbplane console: progressive enhancement only; every page works without it.
// Served from the package like every other asset (the Content-Security-Policy forbids
// inline scripts and other origins).
"use strict";

const ENDED = new Set(["done", "error", "canceled"]);

function text(el, value) { if (el) { el.textContent = value == null ? "" : String(value); } }

// an operation card with data-op long-polls its JSON (answered the moment the operation
// ends, or after a second with its progress) until the operation ends, then the page is
// reloaded so that what the operation changed (a backup's row) shows
function followOperation(card) {
  const url = card.dataset.op + "?wait=1";
  const tick = async () => {
    let op;
    try {
      const answer = await fetch(url, { credentials: "same-origin", cache: "no-store" });
      if (!answer.ok) { return; }
      op = await answer.json();
    } catch (_) { setTimeout(tick, 2000); return; }
    const status = card.querySelector("[data-op-status]");
    text(status, op.status);
    if (status) { status.className = "status status-" + op.status; }
    const bar = card.querySelector("[data-op-progress]");
    if (bar) { bar.value = op.progress; }
    text(card.querySelector("[data-op-message]"), op.message);
    const steps = card.querySelector("[data-op-steps]");
    if (steps) {
      steps.replaceChildren(...op.steps.map((s) => {
        const li = document.createElement("li");
        li.className = "step-" + s.status;
        li.textContent = s.name + " · " + s.status +
          (s.duration_ms == null ? "" : " · " + s.duration_ms + " ms");
        return li;
      }));
    }
    if (op.error) { text(card.querySelector("[data-op-error]"), op.error.code + ": " + op.error.message); }
    if (ENDED.has(op.status)) {
      card.querySelector("[data-op-cancel]")?.remove();
      card.className = "op op-" + op.status;
      delete card.dataset.op;
      if (card.dataset.reload !== "no") { setTimeout(() => window.location.reload(), 400); }
      return;
    }
    setTimeout(tick, 50);  // the server held the answer: ask again at once
  };
  tick();
}

// the databases page: refresh each database's live status
function followHealth(table) {
  const url = table.dataset.health;
  setInterval(async () => {
    try {
      const answer = await fetch(url, { credentials: "same-origin", cache: "no-store" });
      if (!answer.ok) { return; }
      const health = await answer.json();
      for (const row of table.querySelectorAll("tr[data-id]")) {
        const h = health[row.dataset.id];
        if (!h) { continue; }
        const status = row.querySelector("[data-status]");
        text(status, h.status);
        if (status) { status.className = "status status-" + h.status; }
        text(row.querySelector("[data-version]"), h.version || "-");
      }
    } catch (_) { /* the next tick tries again */ }
  }, 15000);
}

// forms with data-confirm ask before they are sent (the server's confirmation pages
// still name what will be lost when scripts are off)
function confirmForms() {
  for (const form of document.querySelectorAll("form[data-confirm]")) {
    form.addEventListener("submit", (event) => {
      if (!window.confirm(form.dataset.confirm)) { event.preventDefault(); }
    });
  }
}

// a "null" checkbox disables its field
function nullBoxes() {
  for (const box of document.querySelectorAll("input[data-null-for]")) {
    const field = document.getElementById(box.dataset.nullFor);
    const sync = () => { if (field) { field.disabled = box.checked; } };
    box.addEventListener("change", sync);
    sync();
  }
}

// times are rendered in UTC; show them in the browser's time zone
function localTimes(root) {
  for (const el of root.querySelectorAll("time[datetime]")) {
    const moment = new Date(el.getAttribute("datetime"));
    if (!Number.isNaN(moment.getTime())) {
      el.title = el.textContent;
      el.textContent = moment.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "medium" });
    }
  }
}

document.addEventListener("DOMContentLoaded", () => {
  localTimes(document);
  document.querySelectorAll("[data-op]").forEach(followOperation);
  document.querySelectorAll("[data-health]").forEach(followHealth);
  confirmForms();
  nullBoxes();
});
