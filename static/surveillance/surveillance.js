// On every page of people who may see motion events (base.html loads it): a toast for each
// new one, and a DOM event ("surveillance:event", detail = the live event's data) that the
// page's own script follows.
// The server refuses the group to people who may not see events: then nothing happens.
(function () {
  "use strict";

  function cameraName(data) {
    if (data.camera_name) return data.camera_name;
    if (data.camera && typeof data.camera === "object") return data.camera.name || "";
    return "";
  }

  function scoreText(score) {
    if (typeof score !== "number") return "";
    return window.FlowSuite.format.number(score * 100, score < 0.1 ? 1 : 0) + "\u00a0%";
  }

  function onEvent(event) {
    if (event.type !== "event" || !event.data) return;
    const data = event.data;
    const name = cameraName(data);
    const score = scoreText(data.score);
    let message = name ? interpolate(gettext("Motion at %s"), [name]) : gettext("Motion detected");
    if (score) message += " · " + score;
    window.FlowSuite.toast(message, "warning");
    document.dispatchEvent(new CustomEvent("surveillance:event", { detail: data }));
  }

  document.addEventListener("DOMContentLoaded", () => {
    if (!document.body.dataset.userId || !window.FlowLive) return;
    window.FlowLive.subscribe("surveillance.events", onEvent);
  });

  window.Surveillance = { cameraName, scoreText };
})();
