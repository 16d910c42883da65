// The training page without reloads: an answer (a button, or the keys
// 0/1/2) is posted as JSON; the server's feedback (the same stamps with
// their truth, the reveal view and the Einstein circle, as the page's own
// HTML) takes the question's place, and Next (or Enter) brings the next
// item, whose stamps were preloaded meanwhile. At the end the outcome and
// the review of the mistakes come the same way.
//
// Without this script (or fetch) the form posts and the page reloads with
// the same feedback: one template renders it both ways.
(function () {
  "use strict";
  var form = document.getElementById("training-form");
  if (!form || !window.fetch) return;
  var $ = function (id) { return document.getElementById(id); };
  var question = $("question"), stamps = $("question-stamps");
  var buttons = Array.prototype.slice.call(form.querySelectorAll("button[name=grade]"));
  var busy = false, following = null, waiting = false;

  function csrf() {
    var m = document.cookie.match(/(?:^|; )csrftoken=([^;]+)/);
    if (m) return decodeURIComponent(m[1]);
    var field = form.querySelector("input[name=csrfmiddlewaretoken]");
    return field ? field.value : "";
  }
  function setBusy(on) {
    busy = on;
    question.classList.toggle("busy", on);
    question.setAttribute("aria-busy", on ? "true" : "false");
    buttons.forEach(function (b) { b.disabled = on; });
    $("saving").hidden = !on;
  }
  function showError(text) {
    var box = $("training-error");
    box.textContent = text;
    box.hidden = !text;
  }
  function preload(images) {
    Object.keys(images).forEach(function (k) { (new Image()).src = images[k]; });
  }
  // The question's stamps hide until the new ones are decoded: an answer
  // must be about the stamp on screen.
  function showItem(next) {
    var imgs = Array.prototype.slice.call(stamps.querySelectorAll("img"));
    var left = imgs.length;
    waiting = true;
    stamps.classList.add("loading");
    setBusy(true);
    $("saving").hidden = true;
    function loaded() {
      left -= 1;
      if (left > 0) return;
      waiting = false;
      stamps.classList.remove("loading");
      setBusy(false);
    }
    imgs.forEach(function (img) {
      var kind = img.id === "q-rgb" ? "rgb" : "r";
      img.onload = loaded;
      img.onerror = loaded;
      img.src = next.images[kind];
    });
    form.querySelector("input[name=item]").value = next.id;
    question.setAttribute("data-item", next.id);
    $("number").textContent = next.number;
    $("feedback-slot").innerHTML = "";
    question.hidden = false;
  }
  function next() {
    if (!following) return;
    var n = following;
    following = null;
    showItem(n);
  }

  function answer(grade) {
    if (busy || waiting || question.hidden) return;
    showError("");
    setBusy(true);
    var item = parseInt(form.querySelector("input[name=item]").value, 10);
    fetch(form.getAttribute("data-json-url"), {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrf() },
      body: JSON.stringify({ id: item, grade: grade })
    }).then(function (response) {
      return response.json().then(function (data) {
        if (!response.ok) throw new Error(data.error || ("The server answered " + response.status + "."));
        return data;
      }, function () {
        throw new Error("The server answered " + response.status + ": try again.");
      });
    }).then(function (data) {
      setBusy(false);
      $("feedback-slot").innerHTML = data.feedback_html;
      question.hidden = true;
      following = data.next;
      if (following) {
        preload(following.images);
        var link = $("next");
        if (link) {
          link.addEventListener("click", function (e) { e.preventDefault(); next(); });
          link.focus();
        }
      } else {
        question.remove();
        $("done-slot").innerHTML = data.done_html;
      }
    }).catch(function (err) {
      setBusy(false);
      showError(err.message || "The answer did not reach the server: try again.");
    });
  }

  form.addEventListener("submit", function (e) {
    e.preventDefault();
    var button = e.submitter || document.activeElement;
    if (button && button.name === "grade") answer(parseInt(button.value, 10));
  });
  document.addEventListener("keydown", function (e) {
    if (e.altKey || e.ctrlKey || e.metaKey) return;
    if (following && (e.key === "Enter" || e.key === "n")) {
      e.preventDefault();
      next();
    } else if (!following && ["0", "1", "2"].indexOf(e.key) >= 0 && document.body.contains(question)) {
      e.preventDefault();
      answer(parseInt(e.key, 10));
    }
  });
})();
