// occuloop UI: live regions poll with htmx (hx-trigger="every Ns"); this file pauses them while the tab is hidden or
// the user paused them (WCAG 2.2.2), copies ids, and announces nothing itself (the regions are aria-live="polite").
(function () {
  "use strict";
  var KEY = "occuloop-live-paused";
  function paused() { return window.localStorage.getItem(KEY) === "1"; }
  function show() {
    var button = document.getElementById("live-toggle");
    var state = document.getElementById("live-state");
    if (!button) { return; }
    var isPaused = paused();
    button.setAttribute("aria-pressed", isPaused ? "true" : "false");
    button.textContent = isPaused ? button.dataset.labelOff : button.dataset.labelOn;
    if (state) { state.textContent = isPaused ? "Live updates paused" : state.dataset.live || state.textContent; }
  }
  document.addEventListener("DOMContentLoaded", function () {
    var state = document.getElementById("live-state");
    if (state) { state.dataset.live = state.textContent; }
    show();
  });
  document.addEventListener("click", function (event) {
    var target = event.target;
    if (!(target instanceof Element)) { return; }
    if (target.id === "live-toggle") {
      window.localStorage.setItem(KEY, paused() ? "0" : "1");
      show();
    } else if (target.classList.contains("copy") && navigator.clipboard) {
      navigator.clipboard.writeText(target.dataset.copy || "").catch(function () { /* not allowed here: nothing to do */ });
    }
  });
  // A poll that would run while the tab is hidden or paused is cancelled before it is sent.
  document.addEventListener("htmx:beforeRequest", function (event) {
    var source = event.detail && event.detail.elt;
    if (source && source.hasAttribute("data-live") && (document.hidden || paused())) { event.preventDefault(); }
  });
  // An unreachable UI server must not leave a stale page silently: say so in the live region's place.
  document.addEventListener("htmx:sendError", function () {
    var state = document.getElementById("live-state");
    if (state) { state.textContent = "The UI server does not answer; retrying"; }
  });
  document.addEventListener("htmx:afterSwap", function () {
    var state = document.getElementById("live-state");
    if (state && !paused() && state.dataset.live) { state.textContent = state.dataset.live; }
    if (window.occuloopPlots) { window.occuloopPlots(); }
  });
})();
