// Shared by the energy pages: values formatted as the server formats them (in the page's
// language and the user's time zone), chart colours from the theme, a time axis without a
// date adapter, throttled re-rendering of server-rendered regions, and copy buttons.
(function () {
  "use strict";
  const root = document.documentElement;
  const lang = root.lang || undefined;
  const timeZone = root.dataset.timeZone || undefined;
  const NBSP = "\u00a0";
  const DAY = 86400e3;

  let magnitudes = null;
  function magnitude(key) {
    if (!magnitudes) {
      const script = document.getElementById("energy-magnitudes");
      magnitudes = {};
      (script ? JSON.parse(script.textContent) : []).forEach((m) => { magnitudes[m.key] = m; });
    }
    return magnitudes[key] || { unit: "", decimals: 2 };
  }

  // Grouping as Django's (it groups 1.234 in Spanish too; Intl would not by default).
  function number(value, digits) {
    return new Intl.NumberFormat(lang, {
      minimumFractionDigits: digits, maximumFractionDigits: digits, useGrouping: "always",
    }).format(value);
  }

  function value(key, v) {
    if (v === null || v === undefined || v === "") return "—";
    v = Number(v);
    if (key === "power" && Math.abs(v) >= 999995) return number(v / 1e6, 2) + NBSP + "MW";
    if (key === "power" && Math.abs(v) >= 999.5) return number(v / 1000, 2) + NBSP + "kW";
    const m = magnitude(key);
    return number(v, m.decimals) + (m.unit ? NBSP + m.unit : "");
  }

  function unit(key) {
    return magnitude(key).unit;
  }

  function tick(v) {
    return new Intl.NumberFormat(lang, { maximumFractionDigits: 3 }).format(v);
  }

  function kwh(v, digits) {
    return number(v, digits === undefined ? 2 : digits) + NBSP + "kWh";
  }

  function dateTime(ms, options) {
    return new Intl.DateTimeFormat(lang, Object.assign({ timeZone }, options)).format(new Date(ms));
  }

  // The user's zone's offset from UTC at an instant, in ms (to cut ticks at local midnights).
  const partsFormat = new Intl.DateTimeFormat("en-US", {
    timeZone, hourCycle: "h23", year: "numeric", month: "numeric", day: "numeric",
    hour: "numeric", minute: "numeric", second: "numeric",
  });
  function offset(ms) {
    const parts = {};
    partsFormat.formatToParts(new Date(ms)).forEach((p) => { parts[p.type] = Number(p.value); });
    const local = Date.UTC(parts.year, parts.month - 1, parts.day, parts.hour, parts.minute, parts.second);
    return local - Math.floor(ms / 1000) * 1000;
  }

  const STEPS = [1, 5, 10, 15, 30, 60, 120, 180, 360, 720].map((m) => m * 60e3)
    .concat([1, 2, 5, 7, 14].map((d) => d * DAY));

  function ticks(min, max, most) {
    const span = max - min;
    const result = [];
    if (span > 120 * DAY) {  // month starts, local
      const months = span / (30.4 * DAY);
      const every = [1, 2, 3, 6, 12].find((n) => months / n <= most) || 12;
      const first = new Date(min + offset(min));
      let year = first.getUTCFullYear();
      let month = first.getUTCMonth() + 1;
      for (;;) {
        if (month > 11) { year += Math.floor(month / 12); month %= 12; }
        const local = Date.UTC(year, month, 1);
        const at = local - offset(local);
        if (at > max) break;
        if (month % every === 0 && at >= min) result.push(at);
        month += 1;
      }
      return result;
    }
    const step = STEPS.find((s) => span / s <= most) || STEPS[STEPS.length - 1];
    const shift = offset(min);
    for (let at = Math.ceil((min + shift) / step) * step - shift; at <= max; at += step) {
      result.push(at);
    }
    return result;
  }

  function tickLabel(ms, span) {
    if (span > 120 * DAY) return dateTime(ms, { month: "short", year: "numeric" });
    const local = new Date(ms + offset(ms));
    const midnight = local.getUTCHours() === 0 && local.getUTCMinutes() === 0;
    if (span > 1.5 * DAY || midnight) return dateTime(ms, { day: "numeric", month: "short" });
    return dateTime(ms, { hour: "numeric", minute: "2-digit" });
  }

  // A linear x axis of epoch milliseconds, labelled in the user's language and zone.
  function timeAxis(min, max) {
    return {
      type: "linear",
      min, max,
      offset: false,
      afterBuildTicks(scale) {
        const most = Math.max(2, Math.floor(scale.width / 90));
        scale.ticks = ticks(scale.min, scale.max, most).map((v) => ({ value: v }));
      },
      ticks: {
        autoSkip: false, maxRotation: 0,
        callback(v) { return tickLabel(v, this.max - this.min); },
      },
    };
  }

  function theme() {
    const style = getComputedStyle(root);
    return {
      text: style.getPropertyValue("--bs-secondary-color").trim(),
      grid: style.getPropertyValue("--bs-border-color-translucent").trim(),
      body: style.getPropertyValue("--bs-body-bg").trim(),
    };
  }

  function color(key) {
    const probe = document.querySelector(`[data-magnitude="${key}"]`);
    return probe ? getComputedStyle(probe).getPropertyValue("--energy-color").trim() : "#0f766e";
  }

  function alpha(hex, a) {
    const m = /^#([0-9a-f]{6})$/i.exec(hex);
    if (!m) return hex;
    const n = parseInt(m[1], 16);
    return `rgba(${n >> 16}, ${(n >> 8) & 255}, ${n & 255}, ${a})`;
  }

  // Chart.js draws on a canvas: it gets the theme's colours explicitly, again on a change.
  function styleChart(chart) {
    const t = theme();
    Object.values(chart.options.scales || {}).forEach((scale) => {
      scale.ticks.color = t.text;
      if (scale.title) scale.title.color = t.text;
      scale.grid.color = t.grid;
      if (scale.border) scale.border.color = t.grid;
    });
    if (chart.options.plugins.legend) chart.options.plugins.legend.labels.color = t.text;
  }

  function followTheme(charts, recolour) {
    document.addEventListener("flowsuite:theme", () => {
      charts().forEach((chart) => {
        styleChart(chart);
        if (recolour) recolour(chart);
        chart.update(); // "none" would keep the bars' shared options, in the old colours
      });
    });
  }

  // Server-rendered regions re-rendered from the same URL, at most every `gap` ms, and every
  // `every` ms in any case (a node turns offline by the absence of events).
  function liveRegions(ids, options) {
    const gap = (options && options.gap) || 2000;
    const every = (options && options.every) || 30000;
    let last = 0;
    let timer = null;
    async function refresh() {
      timer = null;
      last = Date.now();
      let response;
      try {
        response = await fetch(location.href, { credentials: "same-origin", headers: { "X-Live-Refresh": "1" } });
      } catch (error) { return; }
      if (!response.ok) return;
      const page = new DOMParser().parseFromString(await response.text(), "text/html");
      ids.forEach((id) => {
        const region = document.getElementById(id);
        const fresh = page.getElementById(id);
        if (!region || !fresh || fresh.innerHTML === region.innerHTML) return;
        const before = {};
        region.querySelectorAll("[id]").forEach((el) => { before[el.id] = el.textContent; });
        region.innerHTML = fresh.innerHTML;
        region.querySelectorAll("[id]").forEach((el) => {
          if (el.id in before && before[el.id] !== el.textContent) el.classList.add("energy-flash");
        });
        region.dispatchEvent(new CustomEvent("flowsuite:refreshed", { bubbles: true }));
      });
    }
    function soon() {
      if (timer) return;
      timer = setTimeout(refresh, Math.max(250, last + gap - Date.now()));
    }
    setInterval(soon, every);
    return soon;
  }

  document.addEventListener("click", async (event) => {
    const button = event.target.closest("[data-copy]");
    if (!button) return;
    const field = document.getElementById(button.dataset.copy);
    const text = field.value !== undefined ? field.value : field.textContent;
    try {
      await navigator.clipboard.writeText(text);
    } catch (error) {  // not a secure context: select it for Ctrl+C
      field.select();
      document.execCommand("copy");
    }
    const icon = button.querySelector(".bi");
    if (icon) {
      icon.className = "bi bi-check-lg";
      setTimeout(() => { icon.className = "bi bi-clipboard"; }, 2000);
    }
  });

  window.Energy = {
    number, value, kwh, tick, unit, dateTime, offset, timeAxis, theme, color, alpha, styleChart, followTheme,
    liveRegions, DAY,
  };
})();
