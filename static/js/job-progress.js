// Live progress for every .job-progress panel on the page: polls the job's
// JSON until it ends, then reloads once so the page shows the final state
// (cancel button gone, result shown).
(function () {
  "use strict";
  function fmtSeconds(s) {
    if (s === null || s === undefined) return "–";
    s = Math.round(s);
    if (s < 120) return s + " s";
    if (s < 7200) return Math.floor(s / 60) + " min " + (s % 60) + " s";
    return Math.floor(s / 3600) + " h " + Math.round((s % 3600) / 60) + " min";
  }
  function set(panel, field, text) {
    var el = panel.querySelector('[data-field="' + field + '"]');
    if (el) el.textContent = text;
    return el;
  }
  function render(panel, p) {
    var badge = set(panel, "status", p.status);
    if (badge) badge.className = "badge status-" + p.status;
    set(panel, "message", p.message || "");
    set(panel, "done", p.done);
    set(panel, "total", p.total === null ? "?" : p.total);
    set(panel, "unit", p.unit);
    set(panel, "rate", p.rate_per_s ? p.rate_per_s.toFixed(2) + " " + p.unit + "/s" : "–");
    set(panel, "eta", fmtSeconds(p.eta_s));
    set(panel, "elapsed", fmtSeconds(p.elapsed_s));
    var pct = p.fraction === null ? 0 : Math.round(p.fraction * 100);
    panel.querySelector(".fill").style.width = pct + "%";
    panel.querySelector(".bar").setAttribute("aria-valuenow", pct);
    var err = set(panel, "error", p.error || "");
    if (err) err.hidden = !p.error;
  }
  function poll(panel) {
    var url = panel.getAttribute("data-progress-url");
    var wasActive = panel.getAttribute("data-status") === "queued" || panel.getAttribute("data-status") === "running";
    if (!wasActive) return;
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { if (!r.ok) throw new Error(r.status); return r.json(); })
      .then(function (p) {
        render(panel, p);
        if (p.active) { setTimeout(function () { poll(panel); }, 1000); }
        else { window.location.reload(); }
      })
      .catch(function () { setTimeout(function () { poll(panel); }, 3000); });
  }
  document.querySelectorAll(".job-progress").forEach(function (panel) {
    setTimeout(function () { poll(panel); }, 500);
  });
})();
