// Server-rendered regions that follow a live group: an element with an id and
//   data-live-refresh="<group>"
// is re-rendered from the server (the same URL, parsed, the element with the same id taken)
// when an event of that group arrives. Bursts of events cause one refresh.
(function () {
  "use strict";
  const regions = document.querySelectorAll("[data-live-refresh][id]");
  if (!regions.length || !window.FlowLive) return;
  let timer = null;

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
      clearTimeout(timer);
      timer = setTimeout(refresh, 250);
    });
  });
})();
