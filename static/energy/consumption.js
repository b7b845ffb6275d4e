// The consumption chart: one bar per hour, day, month or year, as the table below it.
(function () {
  "use strict";
  const data = JSON.parse(document.getElementById("consumption-data").textContent);
  const canvas = document.getElementById("consumption-chart");
  const key = "energy_used";

  function colours(dataset) {
    dataset.backgroundColor = Energy.alpha(Energy.color(key), 0.75);
    dataset.hoverBackgroundColor = Energy.color(key);
    return dataset;
  }

  const chart = new Chart(canvas, {
    type: "bar",
    data: {
      labels: data.labels,
      datasets: [colours({ label: "kWh", data: data.kwh, borderRadius: 3, maxBarThickness: 48 })],
    },
    options: {
      maintainAspectRatio: false,
      animation: { duration: 300 },
      scales: {
        x: { grid: { display: false }, ticks: { maxRotation: 0, autoSkipPadding: 12 } },
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
            title: (items) => data.titles[items[0].dataIndex],
            label: (item) => Energy.kwh(item.parsed.y, 3),
          },
        },
      },
    },
  });
  Energy.styleChart(chart);
  chart.update("none");
  Energy.followTheme(() => [chart], (c) => colours(c.data.datasets[0]));
})();
