// The history chart: stacked bars per 15 min, hour or day, split by line, direction, class or
// line and direction (the buttons above it), from the rows the page carries:
// [bucket index, line id, direction, class, count]. Bars stack motor vehicles: the classes the
// page names `not_motor` (bicycles) stand in a bar of their own beside them, never in the stack.
(function () {
  "use strict";
  const data = JSON.parse(document.getElementById("history-data").textContent);
  const canvas = document.getElementById("history-chart");
  const root = document.documentElement;
  const lang = root.lang || undefined;
  const timeZone = root.dataset.timeZone || undefined;
  const CLASS_COLORS = {
    motorbike: ["#7c3aed", "#a78bfa"], car: ["#0284c7", "#38bdf8"], truck: ["#d97706", "#fbbf24"],
    bus: ["#dc2626", "#f87171"], bicycle: ["#0d9488", "#2dd4bf"],
  };
  const notMotor = new Set(data.not_motor || []);
  const DIRECTION_COLORS = { in: ["#16a34a", "#4ade80"], out: ["#2563eb", "#60a5fa"] };
  const span = data.buckets.length ? data.buckets[data.buckets.length - 1] - data.buckets[0] : 0;

  function dark() {
    return root.dataset.bsTheme === "dark";
  }

  function label(ms) {
    const options = { timeZone };
    if (data.bucket === "day") Object.assign(options, { weekday: "short", day: "numeric", month: "short" });
    else if (span >= 86400e3) Object.assign(options, { weekday: "short", hour: "2-digit", minute: "2-digit" });
    else Object.assign(options, { hour: "2-digit", minute: "2-digit" });
    return new Intl.DateTimeFormat(lang, options).format(new Date(ms));
  }

  function title(ms) {
    const options = { timeZone, dateStyle: "medium" };
    if (data.bucket !== "day") options.timeStyle = "short";
    return new Intl.DateTimeFormat(lang, options).format(new Date(ms));
  }

  function lineName(id) {
    return (data.lines[String(id)] || { name: "?" }).name;
  }

  function keyOf(row, split) {
    const [, line, direction, vehicleClass] = row;
    if (notMotor.has(vehicleClass)) {
      if (split === "class") return { key: vehicleClass, label: data.classes[vehicleClass] || vehicleClass, vehicleClass, apart: true };
      return { key: "bicycles", label: gettext("bicycles"), vehicleClass: "bicycle", apart: true };
    }
    if (split === "line") return { key: "l" + line, label: lineName(line), line };
    if (split === "direction") return { key: direction, label: data.directions[direction] || direction, direction };
    if (split === "class") return { key: vehicleClass, label: data.classes[vehicleClass] || vehicleClass, vehicleClass };
    return { key: line + direction, label: lineName(line) + " · " + (data.directions[direction] || direction), line, direction };
  }

  function colour(group, index) {
    const shade = dark() ? 1 : 0;
    if (group.vehicleClass && CLASS_COLORS[group.vehicleClass]) return CLASS_COLORS[group.vehicleClass][shade];
    if (group.direction && !group.line) return DIRECTION_COLORS[group.direction][shade];
    const base = window.TrafficOverlay.color(Object.keys(data.lines).indexOf(String(group.line)));
    return group.direction === "out" ? base + "99" : base;
  }

  function datasets(split) {
    const groups = new Map();
    data.rows.forEach((row) => {
      const group = keyOf(row, split);
      if (!groups.has(group.key)) groups.set(group.key, Object.assign(group, { values: data.buckets.map(() => 0) }));
      groups.get(group.key).values[row[0]] += row[4];
    });
    return [...groups.values()]
      .sort((a, b) => a.label.localeCompare(b.label, lang))
      .map((group, index) => ({
        label: group.label, data: group.values, backgroundColor: colour(group, index), borderRadius: 2, maxBarThickness: 42,
        stack: group.apart ? "bicycles" : "motor",
      }));
  }

  function theme() {
    const style = getComputedStyle(root);
    return {
      text: style.getPropertyValue("--bs-secondary-color").trim(),
      grid: style.getPropertyValue("--bs-border-color-translucent").trim(),
    };
  }

  const chart = new Chart(canvas, {
    type: "bar",
    data: { labels: data.buckets.map(label), datasets: datasets("line") },
    options: {
      maintainAspectRatio: false,
      animation: { duration: 250 },
      interaction: { mode: "index", intersect: false },
      scales: {
        x: { stacked: true, grid: { display: false }, ticks: { maxRotation: 0, autoSkipPadding: 12 } },
        y: { stacked: true, beginAtZero: true, ticks: { precision: 0 }, title: { display: true, text: gettext("vehicles") } },
      },
      plugins: {
        legend: { position: "bottom", labels: { boxWidth: 12 } },
        tooltip: { callbacks: { title: (items) => title(data.buckets[items[0].dataIndex]) } },
      },
    },
  });

  function style() {
    const t = theme();
    Object.values(chart.options.scales).forEach((scale) => {
      scale.ticks.color = t.text;
      scale.grid.color = t.grid;
      if (scale.title) scale.title.color = t.text;
    });
    chart.options.plugins.legend.labels.color = t.text;
  }

  function split() {
    return (document.querySelector('#history-split input:checked') || { value: "line" }).value;
  }

  style();
  chart.update("none");
  document.querySelectorAll('#history-split input').forEach((radio) => {
    radio.addEventListener("change", () => {
      chart.data.datasets = datasets(split());
      chart.update();
    });
  });
  document.addEventListener("flowsuite:theme", () => {
    style();
    chart.data.datasets = datasets(split());
    chart.update();
  });
})();
