// Light/dark theme. Runs in <head> so the page never flashes the wrong theme.
// The choice is "auto" (follow the system), "light" or "dark": a logged-in user's choice comes
// from the server (data-theme-choice on <html>), an anonymous visitor's from localStorage.
(function () {
  "use strict";
  const root = document.documentElement;
  const media = window.matchMedia("(prefers-color-scheme: dark)");
  const STORAGE_KEY = "flowsuite-theme";
  const CHOICES = ["auto", "light", "dark"];

  function stored() {
    try { return localStorage.getItem(STORAGE_KEY); } catch (e) { return null; }
  }

  function choice() {
    const value = root.dataset.themeChoice || stored() || "auto";
    return CHOICES.includes(value) ? value : "auto";
  }

  function resolved(value) {
    if (value === "auto") return media.matches ? "dark" : "light";
    return value;
  }

  function apply() {
    root.setAttribute("data-bs-theme", resolved(choice()));
    document.dispatchEvent(new CustomEvent("flowsuite:theme", { detail: { choice: choice() } }));
  }

  function set(value) {
    if (!CHOICES.includes(value)) return;
    if (root.dataset.themeChoice) root.dataset.themeChoice = value;
    try { localStorage.setItem(STORAGE_KEY, value); } catch (e) { /* private mode */ }
    apply();
  }

  function next() {
    return CHOICES[(CHOICES.indexOf(choice()) + 1) % CHOICES.length];
  }

  media.addEventListener("change", apply);
  apply();
  window.FlowTheme = { choice, resolved: () => resolved(choice()), set, next };
})();
