// Server-rendered regions that follow a live group: an element with an id and
//   data-live-refresh="<group>"
// is re-rendered from the server (the same URL, parsed, the element with the same id taken)
// when an event of that group arrives. Bursts of events cause one refresh, and a steady
// stream (meters reporting every second) still refreshes at least every MAX_WAIT ms.
(function () {
  "use strict";
  const regions = document.querySelectorAll("[data-live-refresh][id]");
  if (!regions.length || !window.FlowLive) return;
  const QUIET = 250;
  const MAX_WAIT = 2000;
  let timer = null;
  let firstEventAt = null;

  async function refresh() {
    const response = await fetch(location.href, { credentials: "same-origin", headers: { "X-Live-Refresh": "1" } });
    if (!response.ok) return;
    const page = new DOMParser().parseFromString(await response.text(), "text/html");
    regions.forEach((region) => {
      const fresh = page.getElementById(region.id);
      if (fresh && fresh.innerHTML !== region.innerHTML) {
        region.innerHTML = fresh.innerHTML;
        region.dispatchEvent(new CustomEvent("flowsuite:refreshed", { bubbles: true }));
      }
    });
  }

  new Set([...regions].map((r) => r.dataset.liveRefresh)).forEach((group) => {
    FlowLive.subscribe(group, () => {
      const now = Date.now();
      firstEventAt = firstEventAt === null ? now : firstEventAt;
      clearTimeout(timer);
      const wait = Math.max(0, Math.min(QUIET, firstEventAt + MAX_WAIT - now));
      timer = setTimeout(() => {
        firstEventAt = null;
        refresh();
      }, wait);
    });
  });
})();
