// Redraws the training loss curve from the job's progress JSON every few seconds.
(function () {
  "use strict";
  var panel = document.getElementById("loss-panel");
  if (!panel || !window.Plotly) return;
  function draw(history) {
    var epochs = history.map(function (h) { return h.epoch; });
    var traces = [{ x: epochs, y: history.map(function (h) { return h.loss; }), name: "training loss" }];
    if (history.some(function (h) { return h.val_auc !== null && h.val_auc !== undefined; })) {
      traces.push({ x: epochs, y: history.map(function (h) { return h.val_auc; }), name: "validation AUC", yaxis: "y2" });
    }
    var layout = { height: 360, margin: { l: 50, r: 50, t: 30, b: 45 }, xaxis: { title: "epoch" },
                   yaxis: { title: "loss" }, yaxis2: { title: "AUC", overlaying: "y", side: "right" } };
    panel.innerHTML = "";
    var div = document.createElement("div");
    panel.appendChild(div);
    Plotly.newPlot(div, traces, layout, { displaylogo: false });
  }
  function poll() {
    fetch(panel.getAttribute("data-progress-url"), { credentials: "same-origin" })
      .then(function (r) { return r.json(); })
      .then(function (p) {
        var history = (p.result || {}).history || [];
        if (history.length) draw(history);
        if (p.active) setTimeout(poll, 3000);
      })
      .catch(function () { setTimeout(poll, 5000); });
  }
  setTimeout(poll, 1000);
})();
