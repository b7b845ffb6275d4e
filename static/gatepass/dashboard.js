// Today's gate dashboard: numbers and the per-hour chart follow the movements, live.
(function () {
  "use strict";
  const kpis = document.getElementById("kpis");
  const labels = document.getElementById("chart-labels").dataset;
  const perHour = JSON.parse(document.getElementById("per-hour-data").textContent);
  const style = getComputedStyle(document.documentElement);
  // Chart.js draws on a canvas: give it the theme's text and line colours.
  Chart.defaults.color = style.getPropertyValue("--bs-secondary-color");
  Chart.defaults.borderColor = style.getPropertyValue("--bs-border-color-translucent");
  const hours = Array.from({ length: 24 }, (_, h) => String(h).padStart(2, "0"));
  const chart = new Chart(document.getElementById("per-hour"), {
    type: "bar",
    data: {
      labels: hours,
      datasets: [
        { label: labels.entries, data: perHour.entries, backgroundColor: style.getPropertyValue("--bs-success") },
        { label: labels.exits, data: perHour.exits, backgroundColor: style.getPropertyValue("--bs-primary") },
      ],
    },
    options: {
      maintainAspectRatio: false,
      scales: { y: { beginAtZero: true, ticks: { precision: 0 } } },
      plugins: { legend: { position: "bottom" } },
    },
  });

  document.addEventListener("flowsuite:theme", () => location.reload());

  function render(summary) {
    for (const key of ["inside", "entries", "exits", "refused"]) {
      kpis.querySelector(`[data-kpi="${key}"]`).textContent = FlowSuite.format.number(summary[key], 0);
    }
    summary.per_station.forEach((station) => {
      const row = document.querySelector(`#per-station [data-station="${station.id}"]`);
      if (!row) return;
      row.querySelector("[data-entries]").textContent = station.entries;
      row.querySelector("[data-exits]").textContent = station.exits;
    });
    chart.data.datasets[0].data = summary.per_hour.entries;
    chart.data.datasets[1].data = summary.per_hour.exits;
    chart.update();
  }

  let timer = null;
  FlowLive.subscribe("gatepass.movements", () => {
    clearTimeout(timer);
    timer = setTimeout(async () => {
      const response = await fetch(kpis.dataset.url, { credentials: "same-origin" });
      if (response.ok) render(await response.json());
    }, 250);
  });
})();
