// Home page: the service cards follow the "system.status" live group.
(function () {
  "use strict";
  const labels = {};
  document.querySelectorAll("#state-labels").forEach((template) => {
    template.content.querySelectorAll("[data-state]").forEach((label) => {
      labels[label.dataset.state] = { text: label.textContent, className: label.dataset.class };
    });
  });

  function renderCard(card, service) {
    const changed = card.dataset.state !== service.state;
    card.dataset.state = service.state;
    const badge = card.querySelector("[data-state-badge]");
    const label = labels[service.state];
    badge.className = "badge " + label.className;
    badge.textContent = label.text;
    const detail = card.querySelector("[data-detail]");
    detail.textContent = service.detail;
    detail.title = service.detail;
    card.querySelector("[data-latency]").textContent =
      service.latency_ms === null ? "" : FlowSuite.format.number(service.latency_ms) + " ms";
    if (changed) {
      card.classList.remove("flash");
      void card.offsetWidth; // restart the animation
      card.classList.add("flash");
    }
  }

  function renderSummary(snapshot, sentAt) {
    const summary = document.getElementById("status-summary");
    summary.dataset.ok = String(snapshot.ok);
    const badge = summary.querySelector("[data-summary-badge]");
    badge.className = "badge rounded-pill " + (snapshot.ok ? "text-bg-success" : "text-bg-danger");
    badge.textContent = snapshot.ok ? gettext("All services working") : gettext("Some services are down");
    const checked = summary.querySelector("[data-checked-at]");
    checked.dateTime = sentAt;
    checked.textContent = FlowSuite.format.time(sentAt);
  }

  function render(event) {
    event.data.services.forEach((service) => {
      const card = document.querySelector('.status-card[data-service="' + service.service + '"]');
      if (card) renderCard(card, service);
    });
    renderSummary(event.data, event.sent_at);
  }

  FlowLive.subscribe("system.status", (event) => {
    if (event.type === "status") render(event);
  });
})();
