// A node's dashboard: a chart per magnitude (average line, min–max band) and the energy used
// per bucket, loaded from the API; with a range that ends now, readings arriving on the live
// group are added as they come, and the figures above each chart follow them.
(function () {
  "use strict";
  const page = document.getElementById("node-dashboard");
  if (!page) return;
  const config = page.dataset;
  const live = config.live === "1";
  const resolution = config.resolution;
  const KEYS = ["voltage", "current", "power", "power_factor", "frequency"];
  const BUCKET = { raw: 0, minute: 60e3, hour: 3600e3, day: Energy.DAY };
  const size = BUCKET[resolution];
  const span = Date.parse(config.end) - Date.parse(config.start);
  // Further apart than this, two points are not joined: the meter was silent in between.
  // Its usual spacing counts too: a meter sending every 5 min leaves minute buckets apart.
  let gap = Math.max(size * 2.5, Number(config.interval) * 1000 * 3.5);
  let min = Date.parse(config.start);
  let max = Date.parse(config.end);
  let points = null; // [{t, energy_used, readings, <key>: {avg, min, max, n}}], oldest first
  const early = []; // readings that arrived before the points did
  const charts = {};

  function note(key, text) {
    const element = document.querySelector(`#chart-${key} + [data-note]`);
    element.textContent = text || "";
    element.hidden = !text;
  }

  function series(key) {
    const avg = [], low = [], high = [];
    let previous = null;
    points.forEach((point) => {
      const v = point[key];
      if (!v) return;
      if (previous !== null && point.t - previous > gap) {
        [avg, low, high].forEach((list) => list.push({ x: previous + 1, y: null }));
      }
      const before = avg[avg.length - 1];
      const joined = Boolean(before && before.y !== null);
      if (joined) before.lone = false;
      avg.push({ x: point.t, y: v.avg, min: v.min, max: v.max, lone: !joined });
      low.push({ x: point.t, y: v.min });
      high.push({ x: point.t, y: v.max });
      previous = point.t;
    });
    return { avg, low, high };
  }

  function lineChart(key) {
    const unit = Energy.unit(key);
    const chart = new Chart(document.getElementById(`chart-${key}`), {
      type: "line",
      data: {
        datasets: [
          { label: "max", data: [], pointRadius: 0, borderWidth: 0, fill: "+1" },
          { label: "min", data: [], pointRadius: 0, borderWidth: 0, fill: false },
          {
            label: key, data: [], borderWidth: 2, fill: false, pointHoverRadius: 3,
            // A reading with no neighbour close enough to join is a dot, not nothing.
            pointRadius: (context) => (context.raw && context.raw.lone ? 2 : 0),
          },
        ],
      },
      options: {
        maintainAspectRatio: false,
        animation: false,
        parsing: false,
        normalized: true,
        spanGaps: false,
        interaction: { mode: "nearest", axis: "x", intersect: false },
        scales: {
          x: Energy.timeAxis(min, max),
          y: {
            grace: "5%",
            title: { display: Boolean(unit), text: unit },
            ticks: { callback: (v) => Energy.tick(v) },
          },
        },
        plugins: {
          legend: { display: false },
          tooltip: {
            filter: (item) => item.datasetIndex === 2,
            callbacks: {
              title: (items) => when(items[0].parsed.x),
              label: (item) => Energy.value(key, item.raw.y),
              afterLabel: (item) => (resolution === "raw" || item.raw.min === undefined ? "" :
                `${Energy.value(key, item.raw.min)} – ${Energy.value(key, item.raw.max)}`),
            },
          },
        },
      },
    });
    colour(chart, key);
    chart.update(); // not "none": bars keep shared options from the first draw otherwise
    return chart;
  }

  function barChart() {
    const key = "energy_used";
    const chart = new Chart(document.getElementById(`chart-${key}`), {
      type: "bar",
      data: { datasets: [{ label: "kWh", data: [], barPercentage: 1, categoryPercentage: 0.85 }] },
      options: {
        maintainAspectRatio: false,
        animation: false,
        parsing: false,
        scales: {
          x: Energy.timeAxis(min, max),
          y: {
            beginAtZero: true,
            title: { display: true, text: "kWh" },
            ticks: { callback: (v) => Energy.tick(v) },
          },
        },
        plugins: {
          legend: { display: false },
          tooltip: {
            callbacks: {
              title: (items) => when(items[0].parsed.x),
              label: (item) => Energy.kwh(item.parsed.y, 3),
            },
          },
        },
      },
    });
    colour(chart, key);
    chart.update(); // not "none": bars keep shared options from the first draw otherwise
    return chart;
  }

  function when(ms) {
    if (resolution === "day") return Energy.dateTime(ms, { dateStyle: "medium" });
    return Energy.dateTime(ms, { dateStyle: "medium", timeStyle: resolution === "raw" ? "medium" : "short" });
  }

  function colour(chart, key) {
    const c = Energy.color(key);
    const sets = chart.data.datasets;
    if (sets.length === 3) {
      sets[0].backgroundColor = Energy.alpha(c, resolution === "raw" ? 0 : 0.16);
      sets[2].borderColor = c;
      sets[2].backgroundColor = c;
    } else {
      sets[0].backgroundColor = Energy.alpha(c, 0.7);
      sets[0].hoverBackgroundColor = c;
    }
    Energy.styleChart(chart);
  }

  function draw() {
    KEYS.forEach((key) => {
      const chart = charts[key];
      const { avg, low, high } = series(key);
      chart.data.datasets[0].data = high;
      chart.data.datasets[1].data = low;
      chart.data.datasets[2].data = avg;
      chart.options.scales.x.min = min;
      chart.options.scales.x.max = max;
      note(key, avg.length ? "" : gettext("No data in this range."));
      chart.options.scales.y.ticks.display = avg.length > 0;
      chart.update("none");
    });
    const bars = charts.energy_used;
    bars.data.datasets[0].data = points.map((p) => ({ x: p.t, y: p.energy_used }));
    bars.options.scales.x.min = min;
    bars.options.scales.x.max = max;
    note("energy_used", points.length ? "" : gettext("No data in this range."));
    bars.update("none");
  }

  function bucketStart(t) {
    if (resolution === "day") {  // day rollups are cut at the owner's local midnight
      const shift = Energy.offset(t);
      return Math.floor((t + shift) / Energy.DAY) * Energy.DAY - shift;
    }
    return Math.floor(t / size) * size;
  }

  function add(t, values, used) {
    const last = points[points.length - 1];
    if (last && t <= last.t && !size) return false; // a late raw reading: the chart has its time
    if (size && last && t < last.t + size && t >= last.t) {
      const n = last.readings || 1;
      KEYS.forEach((key) => {
        const v = values[key];
        if (v === undefined || v === null) return;
        const now = last[key];
        if (!now) { last[key] = { avg: v, min: v, max: v }; return; }
        now.avg = (now.avg * n + v) / (n + 1);
        now.min = Math.min(now.min, v);
        now.max = Math.max(now.max, v);
      });
      last.readings = n + 1;
      last.energy_used += used || 0;
      return true;
    }
    if (last && t < last.t) return false;
    const point = { t: size ? bucketStart(t) : t, energy_used: used || 0, readings: 1 };
    KEYS.forEach((key) => {
      const v = values[key];
      if (v !== undefined && v !== null) point[key] = { avg: v, min: v, max: v };
    });
    points.push(point);
    return true;
  }

  function slide() {
    max = Date.now();
    min = max - span;
    const keep = min - size;
    while (points.length && points[0].t < keep) points.shift();
  }

  // The figures above the charts: current, max and min over the range, last update.
  function show(id, key, v) {
    const element = document.getElementById(id);
    element.dataset.value = v;
    element.textContent = key === "energy_used" ? Energy.kwh(v, 3) : Energy.value(key, v);
    element.classList.remove("energy-flash");
    void element.offsetWidth; // restart the animation
    element.classList.add("energy-flash");
  }

  function follow(t, values, used) {
    KEYS.forEach((key) => {
      const v = values[key];
      if (v === undefined || v === null) return;
      const stamp = document.querySelector(`#updated-${key} time`);
      if (stamp && Date.parse(stamp.getAttribute("datetime")) > t) return;
      show(`current-${key}`, key, v);
      const high = document.getElementById(`max-${key}`).dataset.value;
      const low = document.getElementById(`min-${key}`).dataset.value;
      if (high === "" || v > Number(high)) show(`max-${key}`, key, v);
      if (low === "" || v < Number(low)) show(`min-${key}`, key, v);
      const updated = document.getElementById(`updated-${key}`);
      const iso = new Date(t).toISOString();
      updated.innerHTML = `<time datetime="${iso}"></time>`;
      updated.firstChild.textContent = Energy.dateTime(t, { dateStyle: "short", timeStyle: "medium" });
    });
    if (used) show("energy-used", "energy_used", Number(document.getElementById("energy-used").dataset.value || 0) + used);
  }

  function reading(data) {
    const t = Date.parse(data.ts);
    if (!points) { early.push(data); return; }
    if (!live) return;
    follow(t, data.values, data.energy_used);
    if (add(t, data.values, data.energy_used)) {
      slide();
      draw();
    }
  }

  async function load() {
    KEYS.forEach((key) => { charts[key] = lineChart(key); });
    charts.energy_used = barChart();
    let body;
    try {
      const response = await fetch(config.api, { credentials: "same-origin", headers: { Accept: "application/json" } });
      if (!response.ok) throw new Error(response.status);
      body = await response.json();
    } catch (error) {
      [...KEYS, "energy_used"].forEach((key) => note(key, gettext("The data could not be loaded.")));
      return;
    }
    points = body.points.map((p) => Object.assign({}, p, { t: Date.parse(p.t) }));
    const steps = points.slice(1).map((p, i) => p.t - points[i].t).sort((a, b) => a - b);
    if (steps.length) gap = Math.max(gap, steps[Math.floor(steps.length / 2)] * 2.5);
    const newest = points.length ? points[points.length - 1].t : -Infinity;
    early.splice(0).forEach((data) => { if (Date.parse(data.ts) > newest) reading(data); });
    draw();
  }

  // The status badge and node facts re-render from the server on a status event, when a
  // reading comes from a node not shown online, and every minute.
  const refreshStatus = Energy.liveRegions(["node-status", "node-info"], { gap: 2000, every: 60000 });

  function shownOnline() {
    const badge = document.querySelector("#node-status [data-status]");
    return badge && badge.dataset.status === "online";
  }

  load();
  if (window.FlowLive) {
    FlowLive.subscribe(config.group, (event) => {
      if (event.type === "reading") {
        reading(event.data);
        if (!shownOnline()) refreshStatus();
      } else {
        refreshStatus();
      }
    });
  }
  if (live) {
    setInterval(() => { if (points) { slide(); draw(); } }, 30000);
  }
  Energy.followTheme(() => Object.values(charts), (chart) => {
    const key = Object.keys(charts).find((k) => charts[k] === chart);
    colour(chart, key);
  });
})();
