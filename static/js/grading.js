// The grading page: keys 0/1/2 grade and advance, arrows move, c comments,
// ? shows the keys. Every grade is POSTed at once (the server upserts it);
// the next images are preloaded; the page opens at the first ungraded item.
(function () {
  "use strict";
  var root = document.getElementById("grader");
  if (!root) return;
  var items = [], i = 0, preloaded = {};
  var $ = function (id) { return document.getElementById(id); };
  function csrf() {
    var m = document.cookie.match(/(?:^|; )csrftoken=([^;]+)/);
    return m ? decodeURIComponent(m[1]) : "";
  }
  function stretchParam() { return $("stretch").value.split("-")[0]; }
  function src(url) { return url.replace(/stretch=[^&]*/, "stretch=" + stretchParam()); }
  function preload(k) {
    var it = items[k];
    if (!it) return;
    ["r", "rgb"].forEach(function (kind) {
      var u = src(it.images[kind]);
      if (!preloaded[u]) { preloaded[u] = new Image(); preloaded[u].src = u; }
    });
  }
  function counts() {
    var done = items.filter(function (it) { return it.grade !== null; }).length;
    $("done").textContent = done;
    $("total").textContent = items.length;
    var pct = items.length ? Math.round(100 * done / items.length) : 0;
    $("done-bar").style.width = pct + "%";
    $("done-bar").parentNode.setAttribute("aria-valuenow", pct);
    $("finished").hidden = done < items.length;
  }
  function show() {
    var it = items[i];
    if (!it) return;
    $("img-r").src = src(it.images.r);
    $("img-rgb").src = src(it.images.rgb);
    $("position").textContent = "item " + (i + 1) + " of " + items.length;
    $("current-grade").textContent = it.grade === null ? "–" : it.grade;
    $("comment").value = it.comment || "";
    var preset = $("stretch").value;
    $("viewer").className = "viewer zoom-" + $("zoom").value + " preset-" + preset;
    root.setAttribute("data-position", i);
    preload(i + 1); preload(i + 2);
    counts();
  }
  function go(k) { i = Math.max(0, Math.min(items.length - 1, k)); show(); }
  // Saves go out one after another, in key-press order: a later grade can
  // never be overtaken (and overwritten) by an earlier one still in flight.
  var queue = Promise.resolve();
  function save(it, grade, comment) {
    var view = { stretch: $("stretch").value, zoom: $("zoom").value };
    queue = queue.then(function () { return send(it, grade, comment, view); });
    return queue;
  }
  function send(it, grade, comment, view) {
    $("save-state").textContent = "saving…";
    return fetch(root.getAttribute("data-grade-url"), {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrf() },
      body: JSON.stringify({ id: it.id, grade: grade, comment: comment,
                             stretch: view.stretch, zoom: view.zoom })
    }).then(function (r) {
      return r.json().then(function (body) {
        if (!r.ok) throw new Error(body.error || r.status);
        it.comment = comment;
        $("save-state").textContent = "saved";
        counts();
      });
    }).catch(function (e) { $("save-state").textContent = "not saved: " + e.message; });
  }
  function grade(g) {
    var it = items[i];
    if (!it) return;
    it.grade = g;  // shown at once; the server's answer confirms it
    save(it, g, $("comment").value);
    if (i < items.length - 1) go(i + 1); else show();
  }
  document.addEventListener("keydown", function (e) {
    if (e.target === $("comment")) {
      if (e.key === "Enter") {
        e.preventDefault();
        var it = items[i];
        if (it && it.grade !== null) save(it, it.grade, $("comment").value);
        else if (it) it.comment = $("comment").value;
        $("comment-box").hidden = true; $("comment").blur();
      } else if (e.key === "Escape") { $("comment-box").hidden = true; $("comment").blur(); }
      return;
    }
    if (e.target.tagName === "SELECT" || e.ctrlKey || e.metaKey || e.altKey) return;
    if (e.key === "0" || e.key === "1" || e.key === "2") { e.preventDefault(); if (!e.repeat) grade(+e.key); }
    else if (e.key === "ArrowLeft") { e.preventDefault(); go(i - 1); }
    else if (e.key === "ArrowRight") { e.preventDefault(); go(i + 1); }
    else if (e.key === "c") { e.preventDefault(); $("comment-box").hidden = false; $("comment").focus(); }
    else if (e.key === "?") { $("help").hidden = !$("help").hidden; }
  });
  root.querySelectorAll("[data-grade]").forEach(function (b) {
    b.addEventListener("click", function () { grade(+b.getAttribute("data-grade")); });
  });
  $("prev").addEventListener("click", function () { go(i - 1); });
  $("next").addEventListener("click", function () { go(i + 1); });
  $("help-toggle").addEventListener("click", function () { $("help").hidden = !$("help").hidden; });
  $("stretch").addEventListener("change", function () { show(); $("stretch").blur(); });
  $("zoom").addEventListener("change", function () { show(); $("zoom").blur(); });
  fetch(root.getAttribute("data-items-url"), { credentials: "same-origin" })
    .then(function (r) { return r.json(); })
    .then(function (body) {
      items = body.items;
      var first = items.findIndex(function (it) { return it.grade === null; });
      root.setAttribute("data-ready", "1");
      go(first < 0 ? items.length - 1 : first);
    });
})();
