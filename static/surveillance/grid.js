// The camera grid: each camera's live view. The page follows surveillance.camera.<id> for
// "frame" ({jpeg: base64, at: ISO}) and "status" events, and tells the server every 10 s that
// someone is watching (the camera streams only then). Hidden tabs and the switch pause it.
(function () {
  "use strict";
  const WATCH_EVERY = 10000;
  const STALE_AFTER = 15000; // no frame for this long: back to "waiting"
  const STORAGE_KEY = "flowsuite.surveillance.live";

  const cards = Array.from(document.querySelectorAll(".cam-card"));
  if (!cards.length) return;
  const liveSwitch = document.getElementById("live-switch");
  let enabled = localStorage.getItem(STORAGE_KEY) !== "off";
  const lastFrame = new Map();

  function view(card) {
    return card.querySelector(".cam-view");
  }

  function isOnline(card) {
    return card.dataset.online === "true";
  }

  function restingState(card) {
    if (!isOnline(card)) return "offline";
    return enabled ? "waiting" : "paused";
  }

  function showStill(card) {
    card.querySelector(".cam-live").hidden = true;
    view(card).dataset.state = restingState(card);
  }

  function setOnline(card, online) {
    if (isOnline(card) === online) return;
    card.dataset.online = String(online);
    const badge = card.querySelector("[data-status]");
    badge.className = "badge rounded-pill cam-status " + (online ? "text-bg-success" : "text-bg-secondary");
    badge.innerHTML = '<i class="bi ' + (online ? "bi-circle-fill" : "bi-circle") + '"></i> ';
    badge.append(online ? gettext("Online") : gettext("Offline"));
    if (view(card).dataset.state !== "live") showStill(card);
  }

  function onFrame(card, data) {
    if (!enabled || !data.jpeg) return;
    const image = card.querySelector(".cam-live");
    image.src = "data:image/jpeg;base64," + data.jpeg;
    image.hidden = false;
    card.querySelector(".cam-live-time").textContent = window.FlowSuite.format.time(data.at || Date.now());
    lastFrame.set(card, Date.now());
    setOnline(card, true);
    view(card).dataset.state = "live";
  }

  function onStatus(card, data) {
    if (typeof data.online === "boolean") setOnline(card, data.online);
    if (typeof data.fps === "number") {
      card.querySelector("[data-fps]").textContent = window.FlowSuite.format.number(data.fps, 1) + " fps";
    }
    if (data.last_seen_at) {
      card.querySelector("[data-last-seen]").textContent = gettext("just now");
    }
  }

  function watch() {
    if (!enabled || document.visibilityState !== "visible") return;
    cards.forEach((card) => {
      fetch(card.dataset.watchUrl, {
        method: "POST",
        headers: { "X-CSRFToken": window.FlowSuite.csrfToken() },
        credentials: "same-origin",
      })
        .then((response) => (response.ok ? response.json() : null))
        .then((body) => { if (body && typeof body.online === "boolean") setOnline(card, body.online); })
        .catch(() => {});
    });
  }

  function expireStale() {
    const now = Date.now();
    cards.forEach((card) => {
      if (view(card).dataset.state === "live" && now - (lastFrame.get(card) || 0) > STALE_AFTER) {
        showStill(card);
      }
    });
  }

  function setEnabled(value) {
    enabled = value;
    localStorage.setItem(STORAGE_KEY, value ? "on" : "off");
    if (liveSwitch) liveSwitch.checked = value;
    cards.forEach(showStill);
    if (value) watch();
  }

  cards.forEach((card) => {
    window.FlowLive.subscribe("surveillance.camera." + card.dataset.camera, (event) => {
      if (event.type === "frame") onFrame(card, event.data || {});
      else if (event.type === "status") onStatus(card, event.data || {});
    });
  });
  if (liveSwitch) liveSwitch.addEventListener("change", () => setEnabled(liveSwitch.checked));
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible") watch();
  });
  setEnabled(enabled);
  setInterval(watch, WATCH_EVERY);
  setInterval(expireStale, 2000);
})();
