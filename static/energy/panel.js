// The energy panel follows its nodes: figures and statuses re-render from the server when a
// node reports or changes, at most every two seconds, and every 30 s (silence is news too).
(function () {
  "use strict";
  const panel = document.getElementById("energy-panel");
  if (!panel || !window.FlowLive) return;
  const refresh = Energy.liveRegions(["energy-kpis", "energy-nodes"], { gap: 2000, every: 30000 });
  FlowLive.subscribe(panel.dataset.liveGroup, refresh);
})();
