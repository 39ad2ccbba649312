// ferry console: live progress. Each element with data-events follows a
// running job's event stream (the API's server-sent events) and updates
// its fields; without JavaScript the page refreshes itself instead.
"use strict";

function ferryBytes(n) {
  const units = ["KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
  if (n < 1024) return n + " B";
  let i = -1;
  do { n /= 1024; i++; } while (n >= 1024 && i < units.length - 1);
  return n.toFixed(1) + " " + units[i];
}

function ferryFollow(row) {
  if (row.dataset.following) return;
  row.dataset.following = "1";
  const events = new EventSource(row.dataset.events);
  const field = (name) => row.querySelector('[data-field="' + name + '"]');
  const show = (ev) => {
    const e = JSON.parse(ev.data);
    const bytes = field("bytes");
    if (bytes) { bytes.dataset.bytes = e.bytes; bytes.textContent = ferryBytes(e.bytes); }
    const files = field("files");
    if (files) files.textContent = e.files;
    const phase = field("phase");
    if (phase) phase.textContent = e.phase || "";
    const state = field("state");
    if (state) { state.textContent = e.state; state.className = "state-" + e.state; }
    if (e.error) row.title = e.error;
  };
  events.addEventListener("progress", show);
  events.addEventListener("end", (ev) => {
    show(ev);
    events.close(); // the stream ends with the job; do not reconnect
    row.dataset.ended = "1";
  });
}

function ferryFollowAll(root) {
  root.querySelectorAll("[data-events]").forEach(ferryFollow);
}

document.addEventListener("DOMContentLoaded", () => ferryFollowAll(document));
document.addEventListener("htmx:load", (ev) => ferryFollowAll(ev.target));
