// The grading page: keys 0/1/2 grade and advance, arrows move, c comments,
// ? shows the keys. The page opens at the first ungraded item.
//
// A grade must land on the stamp the inspector saw: 0/1/2 count only once
// the current item's images are decoded and on screen (until then the
// viewer shows "loading" and hides the last item's images), and the items
// on both sides are preloaded so that this is rarely a wait.
//
// A grade counts only once the server has confirmed it. Saves go out one
// after another in key-press order (a later grade is never overtaken by an
// earlier one); one that fails for a reason that can pass (offline, a
// server error, an expired session) stays at the head of the queue and is
// retried with a growing delay; one the server refuses for good (400, 404,
// 409 closed) leaves the queue. Either way the item is listed in an alert
// until a save of it succeeds: another item's success does not hide it.
//
// Each grade carries its time on task (``seconds``): from the moment the
// item's stamps are on screen to the grade, with no time counted while the
// tab is hidden (visibilitychange) and at most IDLE_MS of any stretch
// without input (a key, the mouse, a click, the wheel, a touch), so that
// someone who walks away is not inspecting; the clock is read at every
// input. IDLE_MS is inspection.grading.effort.IDLE_CUTOFF_S, MAX_S the
// server's cap (grade_body.MAX_SECONDS).
//
// In a campaign with retirement the server answers each grade with the
// inspector's assignments withdrawn since (their items retired); those
// ahead of the current item leave the list.
(function () {
  "use strict";
  var root = document.getElementById("grader");
  if (!root) return;
  var $ = function (id) { return document.getElementById(id); };
  var items = [], i = 0, preloaded = {};
  var kinds = $("img-rgb") ? ["r", "rgb"] : ["r"];
  var open = root.getAttribute("data-status") === "open";
  var ready = false, showing = 0;
  var queue = [], sending = false, delay = 0, timer = null, lastProblem = "";
  var gradeButtons = Array.prototype.slice.call(root.querySelectorAll("[data-grade]"));
  var IDLE_MS = 60000, MAX_S = 3600;
  var taskMs = 0, since = null, timing = false;

  // --- Time on task --------------------------------------------------------
  function hidden() { return document.visibilityState === "hidden"; }
  function tick() {
    var t = performance.now();
    if (timing && since !== null) taskMs += Math.min(t - since, IDLE_MS);
    since = hidden() ? null : t;
  }
  function startTask() { taskMs = 0; timing = true; since = hidden() ? null : performance.now(); }
  function taskSeconds() {
    tick();
    return Math.min(MAX_S, Math.round(taskMs) / 1000);
  }
  document.addEventListener("visibilitychange", tick);
  ["keydown", "mousemove", "mousedown", "wheel", "touchstart"].forEach(function (name) {
    document.addEventListener(name, tick, { capture: true, passive: true });
  });

  function csrf() {
    var m = document.cookie.match(/(?:^|; )csrftoken=([^;]+)/);
    return m ? decodeURIComponent(m[1]) : "";
  }
  function stretchParam() { return $("stretch").value.split("-")[0]; }
  function src(it, kind) {
    var url = it.images[kind].replace(/stretch=[^&]*/, "stretch=" + stretchParam());
    return it.retry ? url + "&retry=" + it.retry : url;
  }
  function preload(k) {
    var it = items[k];
    if (!it) return;
    kinds.forEach(function (kind) {
      var u = src(it, kind);
      if (!preloaded[u]) { preloaded[u] = new Image(); preloaded[u].src = u; }
    });
  }

  // --- Showing an item ---------------------------------------------------
  function setReady(on) {
    ready = on;
    $("viewer").classList.toggle("loading", !on);
    $("viewer").setAttribute("aria-busy", on ? "false" : "true");
    $("loading").hidden = on;
    gradeButtons.forEach(function (b) { b.disabled = !(on && open); });
  }
  function load(img, url) {
    return new Promise(function (resolve, reject) {
      if (img.getAttribute("src") === url && img.complete && img.naturalWidth) { resolve(); return; }
      img.onload = function () { resolve(); };
      img.onerror = function () { reject(new Error("not loaded")); };
      img.setAttribute("src", url);
    }).then(function () { return img.decode ? img.decode() : null; });
  }
  function show() {
    var it = items[i];
    if (!it) return;
    var token = ++showing;
    timing = false;  // loading: the stamps are not on screen
    setReady(false);
    $("loading").textContent = "Loading the stamps… grades wait until they are shown.";
    Promise.all(kinds.map(function (kind) { return load($("img-" + kind), src(it, kind)); }))
      .then(function () { if (token === showing) { setReady(true); startTask(); } }, function () {
        if (token !== showing) return;
        $("loading").textContent = "The stamps did not load: trying again…";
        setTimeout(function () {
          if (token === showing) { it.retry = (it.retry || 0) + 1; show(); }
        }, 2000);
      });
    $("position").textContent = "item " + (i + 1) + " of " + items.length;
    $("comment").value = it.pending ? it.pending.comment : (it.comment || "");
    $("viewer").className = "viewer loading zoom-" + $("zoom").value + " preset-" + $("stretch").value;
    root.setAttribute("data-position", i);
    preload(i + 1); preload(i - 1); preload(i + 2);
    render();
  }
  function go(k) { i = Math.max(0, Math.min(items.length - 1, k)); show(); }

  // --- Saving ------------------------------------------------------------
  function save(it, grade, comment, seconds) {
    var view = { stretch: $("stretch").value, zoom: $("zoom").value };
    it.pending = { grade: grade, comment: comment };
    queue.push({ it: it, grade: grade, comment: comment, view: view, seconds: seconds });
    pump();
  }
  function laterSaveOf(it) {
    return queue.some(function (job) { return job.it === it; });
  }
  function pump() {
    render();
    if (sending || !queue.length) return;
    sending = true;
    var job = queue[0];
    fetch(root.getAttribute("data-grade-url"), {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrf() },
      body: JSON.stringify({ id: job.it.id, grade: job.grade, comment: job.comment,
                             stretch: job.view.stretch, zoom: job.view.zoom,
                             seconds: job.seconds })
    }).then(function (r) {
      // An expired session answers with the login page (HTML): not JSON.
      return r.json().then(function (body) { return [r, body]; }, function () { return [r, null]; });
    }).then(function (answer) {
      var r = answer[0], body = answer[1];
      if (r.ok && body && body.id === job.it.id) {
        job.it.grade = body.grade;
        job.it.comment = job.comment;
        if (body.withdrawn) dropWithdrawn(body.withdrawn);
        done(job, null);
      } else if (body && (r.status === 400 || r.status === 404 || r.status === 409)) {
        done(job, body.error || ("refused (" + r.status + ")"));
        if (r.status === 409) closeGrading();
      } else {
        retryLater(job, (body && body.error) || ("the server answered " + r.status));
      }
    }, function () { retryLater(job, "no connection"); });
  }
  function done(job, refusal) {
    queue.shift();
    sending = false;
    delay = 0;
    if (!laterSaveOf(job.it)) {
      job.it.pending = null;
      job.it.failed = refusal ? { grade: job.grade, reason: refusal, final: true } : null;
    }
    pump();
  }
  function retryLater(job, problem) {
    sending = false;
    lastProblem = problem;
    // Everything queued waits behind this save: none of it is saved.
    queue.forEach(function (q) { q.it.failed = { grade: q.grade, reason: problem, final: false }; });
    delay = Math.min(30000, delay ? delay * 2 : 1000);
    clearTimeout(timer);
    timer = setTimeout(pump, delay);
    render();
  }
  window.addEventListener("online", function () { clearTimeout(timer); delay = 0; pump(); });
  window.addEventListener("beforeunload", function (e) {
    if (queue.length) { e.preventDefault(); e.returnValue = ""; }
  });
  function dropWithdrawn(ids) {
    var gone = {}, current = items[i];
    ids.forEach(function (id) { gone[id] = true; });
    var kept = items.filter(function (it, k) {
      return !(gone[it.id] && k > i && it.grade === null && !it.pending && !it.failed);
    });
    if (kept.length === items.length) return;
    items = kept;
    i = items.indexOf(current);
    root.setAttribute("data-position", i);
    $("position").textContent = "item " + (i + 1) + " of " + items.length;
  }
  function closeGrading() {
    open = false;
    root.setAttribute("data-status", "closed");
    $("closed-msg").hidden = false;
    setReady(ready);
  }

  // --- What the inspector sees of it ---------------------------------------
  function render() {
    var done = items.filter(function (it) { return it.grade !== null; }).length;
    $("done").textContent = done;
    $("total").textContent = items.length;
    var pct = items.length ? Math.round(100 * done / items.length) : 0;
    $("done-bar").style.width = pct + "%";
    $("done-bar").parentNode.setAttribute("aria-valuenow", pct);
    $("finished").hidden = done < items.length || queue.length > 0;
    var it = items[i];
    if (it) {
      var shown = it.pending ? it.pending.grade + " (saving…)" :
        it.failed ? it.failed.grade + " (not saved)" : (it.grade === null ? "–" : it.grade);
      $("current-grade").textContent = shown;
    }
    var failed = items.filter(function (x) { return x.failed; });
    var lines = failed.map(function (x) {
      return "item " + (items.indexOf(x) + 1) + ": " + x.failed.grade + " — " +
        (x.failed.final ? "refused: " : "") + x.failed.reason;
    });
    var head = failed.length + (failed.length === 1 ? " grade is" : " grades are") +
      " not saved and not counted" + (failed.some(function (x) { return !x.failed.final; }) ?
      ": retrying." : ": grade again to save.");
    var box = $("unsaved"), text = failed.length ? head + "\n" + lines.join("\n") : "";
    // Rewritten only when it changes: an alert is read out each time it is.
    if (box.getAttribute("data-text") !== text) {
      box.setAttribute("data-text", text);
      box.textContent = failed.length ? head : "";
      if (failed.length) {
        var list = document.createElement("ul");
        lines.forEach(function (line) {
          var li = document.createElement("li");
          li.textContent = line;
          list.appendChild(li);
        });
        box.appendChild(list);
      }
      box.hidden = !failed.length;
    }
    $("save-state").textContent = queue.length ? (delay ? "not saved: " + lastProblem +
      ", retrying" : "saving…") : (failed.length ? "not saved" : (done ? "saved" : ""));
  }

  // --- Input ---------------------------------------------------------------
  function grade(g) {
    var it = items[i];
    if (!it || !open) return;
    if (!ready) return;  // the stamps on screen are not (yet) this item's
    save(it, g, $("comment").value, taskSeconds());
    if (i < items.length - 1) go(i + 1); else show();
  }
  document.addEventListener("keydown", function (e) {
    // Enter or Space on a grade button would press it again, grading the
    // next item with the same grade.
    if ((e.key === "Enter" || e.key === " ") && e.target.closest && e.target.closest("[data-grade]")) {
      e.preventDefault();
      return;
    }
    if (e.target === $("comment")) {
      if (e.key === "Enter") {
        e.preventDefault();
        var it = items[i];
        var current = it && (it.pending ? it.pending.grade : it.grade);
        if (it && open && current !== null && current !== undefined) {
          save(it, current, $("comment").value, ready ? taskSeconds() : null);
          if (ready) startTask();  // that time is counted: the clock starts again
        }
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
  // Buttons never keep the focus: a click must not leave Enter or Space armed.
  root.querySelectorAll("button").forEach(function (b) {
    b.addEventListener("mousedown", function (e) { e.preventDefault(); });
    b.addEventListener("click", function () { b.blur(); });
  });
  gradeButtons.forEach(function (b) {
    b.addEventListener("click", function () { grade(+b.getAttribute("data-grade")); });
  });
  $("prev").addEventListener("click", function () { go(i - 1); });
  $("next").addEventListener("click", function () { go(i + 1); });
  $("help-toggle").addEventListener("click", function () { $("help").hidden = !$("help").hidden; });
  $("stretch").addEventListener("change", function () { show(); $("stretch").blur(); });
  $("zoom").addEventListener("change", function () { show(); $("zoom").blur(); });
  fetch(root.getAttribute("data-items-url"), { credentials: "same-origin" })
    .then(function (r) {
      return r.json().then(function (body) {
        if (!r.ok) throw new Error(body.error || r.status);
        return body;
      });
    })
    .then(function (body) {
      items = body.items;
      items.forEach(function (it) { it.pending = null; it.failed = null; });
      if (body.status !== "open") closeGrading();
      var first = items.findIndex(function (it) { return it.grade === null; });
      root.setAttribute("data-ready", "1");
      go(first < 0 ? items.length - 1 : first);
    })
    .catch(function (e) { $("loading").textContent = "The items did not load: " + e.message; });
})();
