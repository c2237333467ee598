// Charts of the task page: scalars (from …/scalars.json: downsampled series, summaries, the champion's overlay) and
// plots (…/plots.json: ClearML's plotly figures, titles already normalised server side). No inline script: the data
// comes from JSON URLs named by data-src. Each chart has a table alternative (the summary) for screen readers.
(function () {
  "use strict";
  var CONFIG = { responsive: true, displaylogo: false };

  function ema(values, weight) {
    if (!weight) { return values; }
    var out = [], last = null;
    for (var i = 0; i < values.length; i++) {
      last = last === null ? values[i] : last * weight + (1 - weight) * values[i];
      out.push(last);
    }
    return out;
  }

  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (key) { node.setAttribute(key, attrs[key]); });
    if (text !== undefined) { node.textContent = text; }
    return node;
  }

  function summaryTable(metric, rows) {
    var table = el("table");
    table.appendChild(el("caption", {}, metric + ": summary (first, last, minimum, maximum)"));
    var head = el("tr");
    ["series", "first", "last", "min", "max", "points"].forEach(function (name) { head.appendChild(el("th", { scope: "col" }, name)); });
    var thead = el("thead"); thead.appendChild(head); table.appendChild(thead);
    var body = el("tbody");
    rows.forEach(function (row) {
      var tr = el("tr");
      tr.appendChild(el("th", { scope: "row" }, row.label));
      [row.first, row.last, row.min, row.max].forEach(function (v) { tr.appendChild(el("td", {}, Number(v).toPrecision(6))); });
      tr.appendChild(el("td", {}, String(row.points)));
      body.appendChild(tr);
    });
    table.appendChild(body);
    return table;
  }

  function drawScalars(box, data) {
    var smoothing = document.getElementById("smoothing");
    var weight = smoothing ? Number(smoothing.value) : 0;
    box.textContent = "";
    var champion = {};
    ((data.champion || {}).metrics || []).forEach(function (m) { champion[m.metric] = m; });
    if (!data.metrics.length) { box.appendChild(el("p", {}, "No scalars reported.")); }
    data.metrics.forEach(function (metric, index) {
      var section = el("section", { "aria-label": "scalar " + metric.metric });
      section.appendChild(el("h2", {}, metric.metric));
      // no role on the chart itself: plotly puts controls inside it (axe: nested-interactive); the table follows
      var div = el("div", { "class": "plot", id: "scalar-" + index });
      section.appendChild(div);
      var rows = metric.summary.map(function (s) { return { label: s.variant, first: s.first, last: s.last, min: s.min, max: s.max, points: s.points }; });
      var traces = metric.series.map(function (s) { return { type: "scatter", mode: "lines", name: s.name, x: s.x, y: ema(s.y, weight) }; });
      var theirs = champion[metric.metric];
      if (theirs) {
        theirs.series.forEach(function (s) { traces.push({ type: "scatter", mode: "lines", name: "champion " + s.name, x: s.x, y: ema(s.y, weight), line: { dash: "dash" } }); });
        theirs.summary.forEach(function (s) { rows.push({ label: "champion " + s.variant, first: s.first, last: s.last, min: s.min, max: s.max, points: s.points }); });
      }
      section.appendChild(summaryTable(metric.metric, rows));
      box.appendChild(section);
      window.Plotly.newPlot(div, traces, { title: { text: metric.metric }, xaxis: { title: { text: "iteration" } }, margin: { t: 40 } }, CONFIG);
    });
    var singles = data.single_values || [];
    if (singles.length) {
      var table = el("table"); table.appendChild(el("caption", {}, "Summary (single values)" + (data.champion ? ", with the champion's" : "")));
      var head = el("tr"); ["metric", "this task", data.champion ? "champion" : null].forEach(function (n) { if (n) { head.appendChild(el("th", { scope: "col" }, n)); } });
      var thead = el("thead"); thead.appendChild(head); table.appendChild(thead);
      var theirsByName = {};
      ((data.champion || {}).single_values || []).forEach(function (v) { theirsByName[v.metric + "/" + v.variant] = v.value; });
      var body = el("tbody");
      singles.forEach(function (v) {
        var tr = el("tr"); tr.appendChild(el("th", { scope: "row" }, v.variant));
        tr.appendChild(el("td", {}, Number(v.value).toPrecision(6)));
        if (data.champion) { var c = theirsByName[v.metric + "/" + v.variant]; tr.appendChild(el("td", {}, c === undefined ? "-" : Number(c).toPrecision(6))); }
        body.appendChild(tr);
      });
      table.appendChild(body);
      box.appendChild(table);
    }
  }

  function drawPlots(box, data) {
    box.textContent = "";
    if (!data.plots.length) { box.appendChild(el("p", {}, "No plots reported.")); }
    data.plots.forEach(function (plot, index) {
      var label = plot.metric + " / " + plot.variant;
      var section = el("section", { "aria-label": "plot " + label });
      section.appendChild(el("h2", {}, label));
      var div = el("div", { "class": "plot", id: "plot-" + index });
      section.appendChild(div);
      box.appendChild(section);
      var figure = plot.figure || {};
      window.Plotly.newPlot(div, figure.data || [], figure.layout || {}, CONFIG);
    });
  }

  function load(id, draw) {
    var box = document.getElementById(id);
    if (!box || !box.dataset.src || !window.Plotly) { return; }
    fetch(box.dataset.src, { headers: { Accept: "application/json" } })
      .then(function (response) { if (!response.ok) { throw new Error("HTTP " + response.status); } return response.json(); })
      .then(function (data) {
        draw(box, data);
        var smoothing = document.getElementById("smoothing");
        if (smoothing && id === "scalars") { smoothing.onchange = function () { draw(box, data); }; }
      })
      .catch(function (error) { box.textContent = "Could not load the chart data: " + error.message; });
  }

  window.occuloopPlots = function () { load("scalars", drawScalars); load("plots", drawPlots); };
  document.addEventListener("DOMContentLoaded", window.occuloopPlots);
})();
