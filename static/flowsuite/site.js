// Page-wide behaviour: the theme button, the live indicator, toasts for the user's own events,
// and locale-aware formatting helpers for pages.
(function () {
  "use strict";
  const root = document.documentElement;
  const ICONS = { auto: "bi-circle-half", light: "bi-sun", dark: "bi-moon-stars" };

  function csrfToken() {
    const match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
    return match ? decodeURIComponent(match[1]) : "";
  }

  function setupThemeToggle() {
    const button = document.getElementById("theme-toggle");
    if (!button) return;
    const render = () => {
      const choice = window.FlowTheme.choice();
      button.querySelector("[data-theme-icon]").className = "bi " + ICONS[choice];
      button.title = button.dataset["label" + choice[0].toUpperCase() + choice.slice(1)];
      button.dataset.themeChoice = choice;
    };
    button.addEventListener("click", () => {
      const choice = window.FlowTheme.next();
      window.FlowTheme.set(choice);
      if (document.body.dataset.userId) {
        fetch(button.dataset.url, {
          method: "POST",
          headers: { "X-CSRFToken": csrfToken(), "Content-Type": "application/x-www-form-urlencoded" },
          body: new URLSearchParams({ theme: choice }),
          credentials: "same-origin",
        });
      }
    });
    document.addEventListener("flowsuite:theme", render);
    render();
  }

  function toast(message, level) {
    const container = document.getElementById("toasts");
    const element = document.createElement("div");
    const tone = { error: "danger", danger: "danger", warning: "warning", success: "success",
      info: "info" }[level] || "primary";
    element.className = "toast align-items-center border-0 text-bg-" + tone;
    element.setAttribute("role", "status");
    element.innerHTML = '<div class="d-flex"><div class="toast-body"></div>' +
      '<button type="button" class="btn-close btn-close-white me-2 m-auto" data-bs-dismiss="toast"></button></div>';
    element.querySelector(".toast-body").textContent = message;
    container.appendChild(element);
    element.addEventListener("hidden.bs.toast", () => element.remove());
    new bootstrap.Toast(element, { delay: 6000 }).show();
  }

  function setupLive() {
    const userId = document.body.dataset.userId;
    if (!userId) return;
    const indicator = document.getElementById("live-indicator");
    window.FlowLive.onState((state) => {
      indicator.classList.remove("d-none");
      indicator.dataset.state = state;
      indicator.title = state === "open" ? gettext("Live updates: connected") : gettext("Live updates: reconnecting…");
    });
    window.FlowLive.subscribe("user." + userId, (event) => {
      if (event.type === "notify") toast(event.data.message, event.data.level);
      if (event.type === "alert") setAlertCount(event.data.open);
    });
  }

  // The navbar's bell: the count of the user's open alerts, from each "alert" event.
  function setAlertCount(count) {
    const badge = document.getElementById("alert-badge");
    if (!badge || typeof count !== "number") return;
    const label = interpolate(ngettext("%s open alert", "%s open alerts", count), [count]);
    badge.textContent = String(count);
    badge.dataset.count = String(count);
    badge.hidden = count === 0;
    document.getElementById("alert-badge-label").textContent = label;
    const bell = document.getElementById("alert-bell");
    bell.title = label;
    bell.querySelector(".bi").className = "bi " + (count ? "bi-bell-fill" : "bi-bell");
  }

  const timeZone = root.dataset.timeZone || undefined;
  const format = {
    dateTime(value, options) {
      return new Intl.DateTimeFormat(root.lang, Object.assign({ dateStyle: "medium", timeStyle: "medium", timeZone }, options)).format(new Date(value));
    },
    time(value) {
      return new Intl.DateTimeFormat(root.lang, { timeStyle: "medium", timeZone }).format(new Date(value));
    },
    number(value, digits) {
      return new Intl.NumberFormat(root.lang, { maximumFractionDigits: digits === undefined ? 1 : digits }).format(value);
    },
  };

  // Elements with data-since="<ISO time>" show the time elapsed since then, ticking.
  function tickElapsed() {
    const now = Date.now();
    document.querySelectorAll("[data-since]").forEach((element) => {
      const seconds = Math.max(0, Math.floor((now - new Date(element.dataset.since)) / 1000));
      const h = Math.floor(seconds / 3600);
      const m = Math.floor((seconds % 3600) / 60);
      const s = seconds % 60;
      element.textContent = h + ":" + String(m).padStart(2, "0") + ":" + String(s).padStart(2, "0");
    });
  }

  window.FlowSuite = { toast, format, csrfToken };
  document.addEventListener("DOMContentLoaded", () => {
    setupThemeToggle();
    setupLive();
    tickElapsed();
    setInterval(tickElapsed, 1000);
  });
})();
