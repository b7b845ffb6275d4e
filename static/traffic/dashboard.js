// The intersection's live dashboard: each camera's lines drawn on its snapshot, and the
// counters updated from the intersection's live group (traffic.intersection.<id>):
//   "counts"   {camera, start, end, counts: [{line, direction, class, count}], total, bicycles}
// Totals and the lines' counters are of motor vehicles: the classes the page names
// `not_motor` (bicycles) go to the bicycle figures instead, and to their own class.
//   "status"   {camera, online, last_seen_at, health: {fps, ...}}
//   "snapshot" {camera, ...}: a new picture of the camera's view
(function () {
  "use strict";
  const state = JSON.parse(document.getElementById("traffic-board").textContent);
  const group = document.getElementById("traffic-group").dataset.group;
  const root = document.documentElement;
  const notMotor = new Set(state.not_motor || []);
  const timeFormat = new Intl.DateTimeFormat(root.lang || undefined, {
    hour: "2-digit", minute: "2-digit", timeZone: root.dataset.timeZone || undefined,
  });

  function card(cameraId) {
    return document.querySelector('.traffic-camera[data-camera="' + cameraId + '"]');
  }

  function drawAll() {
    document.querySelectorAll(".traffic-camera").forEach((element) => {
      const svg = element.querySelector(".traffic-overlay");
      if (svg) window.TrafficOverlay.draw(svg, state.lines[element.dataset.camera] || [], []);
    });
  }

  function setFigure(element, value) {
    if (!element) return;
    const text = String(value);
    if (element.textContent === text) return;
    element.textContent = text;
    element.classList.remove("traffic-flash");
    void element.offsetWidth; // restart the animation
    element.classList.add("traffic-flash");
  }

  function addTo(element, value) {
    if (element && value) setFigure(element, Number(element.textContent || 0) + value);
  }

  function onCounts(data) {
    const element = card(data.camera);
    if (!element || !Array.isArray(data.counts)) return;
    const start = new Date(data.start);
    if (start >= new Date(state.today_end)) { location.reload(); return; } // a new day
    const latest = state.latest[data.camera];
    const isLatest = !latest || start >= new Date(latest.start);
    const sums = {};
    const bicycles = {};
    data.counts.forEach((item) => {
      if (notMotor.has(item.class)) {
        bicycles[item.line] = (bicycles[item.line] || 0) + item.count;
        return;
      }
      const key = item.line + ":" + item.direction;
      sums[key] = (sums[key] || 0) + item.count;
    });
    if (isLatest) {
      state.latest[data.camera] = { start: data.start, end: data.end };
      element.querySelectorAll("[data-now]").forEach((cell) => setFigure(cell, sums[cell.dataset.now] || 0));
      const label = element.querySelector("[data-interval]");
      if (label) {
        label.textContent = interpolate(gettext("last interval %(start)s–%(end)s"), {
          start: timeFormat.format(start), end: timeFormat.format(new Date(data.end)),
        }, true);
      }
    }
    if (start < new Date(state.today_start)) return; // late news of yesterday
    Object.entries(sums).forEach(([key, value]) => addTo(element.querySelector('[data-today="' + key + '"]'), value));
    Object.entries(bicycles).forEach(([line, value]) => {
      addTo(element.querySelector('[data-bicycles-line="' + line + '"]'), value);
      addTo(document.querySelector("[data-bicycles]"), value);
    });
    data.counts.forEach((item) => {
      addTo(document.querySelector('[data-class-total="' + item.class + '"]'), item.count);
      addTo(document.querySelector('[data-class-dir="' + item.class + ":" + item.direction + '"]'), item.count);
      if (notMotor.has(item.class)) return;
      addTo(document.querySelector('[data-total-dir="' + item.direction + '"]'), item.count);
      addTo(document.querySelector("[data-total]"), item.count);
    });
  }

  function onStatus(data) {
    const element = card(data.camera);
    if (!element) return;
    const fps = typeof data.fps === "number" ? data.fps : (data.health || {}).fps;
    if (typeof fps === "number") {
      element.querySelector("[data-fps]").textContent = window.FlowSuite.format.number(fps, 1) + " fps";
    }
    element.querySelector("[data-last-seen]").textContent = gettext("seen just now");
    if (typeof data.online === "boolean") {
      const badge = element.querySelector("[data-status]");
      badge.className = "badge rounded-pill traffic-status " + (data.online ? "text-bg-success" : "text-bg-secondary");
      badge.innerHTML = '<i class="bi ' + (data.online ? "bi-circle-fill" : "bi-circle") + '"></i> ';
      badge.append(data.online ? gettext("Online") : gettext("Offline"));
    }
  }

  function onSnapshot(data) {
    const element = card(data.camera);
    if (!element) return;
    const image = element.querySelector(".traffic-snapshot");
    image.src = image.dataset.src + "?v=" + Date.now();
    image.hidden = false;
    const empty = element.querySelector(".traffic-no-snapshot");
    if (empty) empty.remove();
  }

  drawAll();
  if (window.FlowLive) {
    window.FlowLive.subscribe(group, (event) => {
      const data = event.data || {};
      if (event.type === "counts") onCounts(data);
      else if (event.type === "status") onStatus(data);
      else if (event.type === "snapshot") onSnapshot(data);
    });
  }
})();
