// Figures are drawn while the page is still being parsed, when a CSS grid may
// not yet have its final columns: fit each one to its card once laid out.
window.addEventListener("load", function () {
  document.querySelectorAll(".plotly-graph-div").forEach(function (div) {
    Plotly.Plots.resize(div);
  });
});
