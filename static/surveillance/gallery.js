// The gallery of a day: a lightbox over the day's events (the motion boxes drawn over the
// picture, scaled from the event's frame size to the shown image by an SVG viewBox), keyboard
// navigation (← →, Esc), the event's other snapshots, and new events of the shown day added
// live (from surveillance.js's "surveillance:event", completed through the API).
(function () {
  "use strict";
  const SVG_NS = "http://www.w3.org/2000/svg";
  const root = document.documentElement;
  const timeZone = root.dataset.timeZone || undefined;
  const events = JSON.parse(document.getElementById("gallery-events").textContent);
  const state = JSON.parse(document.getElementById("gallery-state").textContent);
  const grid = document.getElementById("event-grid");
  const box = document.getElementById("lightbox");
  const modal = bootstrap.Modal.getOrCreateInstance(box);
  const image = document.getElementById("lightbox-image");
  const boxes = document.getElementById("lightbox-boxes");
  const strip = document.getElementById("lightbox-strip");
  const showBoxes = document.getElementById("lightbox-show-boxes");
  const deleteLink = document.getElementById("lightbox-delete");
  let index = -1;
  let shot = 0;

  const dayFormat = new Intl.DateTimeFormat("en-CA", { timeZone, year: "numeric", month: "2-digit", day: "2-digit" });
  const dateFormat = new Intl.DateTimeFormat(root.lang, { timeZone, dateStyle: "medium" });
  const timeFormat = new Intl.DateTimeFormat(root.lang, { timeZone, hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23" });

  function localDay(iso) {
    return dayFormat.format(new Date(iso));
  }

  function drawBoxes(event) {
    boxes.replaceChildren();
    boxes.setAttribute("viewBox", "0 0 " + event.frame_width + " " + event.frame_height);
    // The boxes belong to the best frame, the first snapshot.
    if (shot !== 0 || !showBoxes.checked) return;
    (event.boxes || []).forEach(([x, y, w, h]) => {
      const rect = document.createElementNS(SVG_NS, "rect");
      rect.setAttribute("x", x);
      rect.setAttribute("y", y);
      rect.setAttribute("width", w);
      rect.setAttribute("height", h);
      rect.setAttribute("rx", Math.max(2, event.frame_width / 200));
      boxes.appendChild(rect);
    });
  }

  function renderStrip(event) {
    strip.replaceChildren();
    if (event.snapshots.length < 2) return;
    event.snapshots.forEach((snapshot, position) => {
      const button = document.createElement("button");
      button.type = "button";
      button.title = interpolate(gettext("Snapshot %s"), [position + 1]);
      button.setAttribute("aria-current", String(position === shot));
      const thumb = document.createElement("img");
      thumb.src = snapshot.thumbnail_url;
      thumb.alt = button.title;
      button.appendChild(thumb);
      button.addEventListener("click", () => { shot = position; render(); });
      strip.appendChild(button);
    });
  }

  function render() {
    const event = events[index];
    const snapshot = event.snapshots[shot];
    const when = dateFormat.format(new Date(event.started_at)) + " " + timeFormat.format(new Date(event.started_at));
    document.getElementById("lightbox-title").textContent = event.camera_name + " · " + when;
    document.getElementById("lightbox-score").textContent = interpolate(gettext("score %s"), [window.Surveillance.scoreText(event.score)]);
    document.getElementById("lightbox-position").textContent =
      interpolate(gettext("%(number)s of %(total)s"), { number: index + 1, total: events.length }, true);
    image.alt = interpolate(gettext("Motion at %(camera)s, %(time)s"), { camera: event.camera_name, time: when }, true);
    if (snapshot) {
      image.parentElement.style.setProperty("--ratio", snapshot.width / snapshot.height);
      image.src = snapshot.image_url;
      document.getElementById("lightbox-download").href = snapshot.image_url + "?download=1";
    }
    image.dataset.event = event.id;
    drawBoxes(event);
    renderStrip(event);
    document.getElementById("lightbox-prev").disabled = index === 0;
    document.getElementById("lightbox-next").disabled = index === events.length - 1;
    if (deleteLink) {
      deleteLink.href = deleteLink.dataset.urlTemplate.replace(/\/0\/delete\/$/, "/" + event.id + "/delete/") +
        "?next=" + encodeURIComponent(deleteLink.dataset.next);
    }
  }

  function open(position) {
    if (!events[position]) return;
    index = position;
    shot = 0;
    render();
    modal.show();
  }

  function step(delta) {
    const target = index + delta;
    if (target < 0 || target >= events.length) return;
    index = target;
    shot = 0;
    render();
    const thumb = grid.querySelector('[data-index="' + index + '"]');
    if (thumb) thumb.scrollIntoView({ block: "nearest" });
    // The focused button may be gone or disabled now: keep the focus (and Esc) in the box.
    if (!box.contains(document.activeElement) || document.activeElement.disabled) box.focus();
  }

  grid.addEventListener("click", (click) => {
    const thumb = click.target.closest(".event-thumb");
    if (!thumb || click.ctrlKey || click.metaKey || click.shiftKey) return;
    click.preventDefault();
    open(Number(thumb.dataset.index));
  });
  document.addEventListener("keydown", (key) => {
    if (!box.classList.contains("show")) return;
    if (key.key === "ArrowLeft") { key.preventDefault(); step(-1); }
    if (key.key === "ArrowRight") { key.preventDefault(); step(1); }
    if (key.key === "Escape") close();
  });
  document.getElementById("lightbox-prev").addEventListener("click", () => step(-1));
  document.getElementById("lightbox-next").addEventListener("click", () => step(1));
  showBoxes.addEventListener("change", () => { if (index >= 0) drawBoxes(events[index]); });
  // Esc closes the box wherever the focus went; pressed while it is still opening (Bootstrap
  // ignores a hide() then), it closes as soon as it is open.
  let opening = false;
  box.addEventListener("show.bs.modal", () => { opening = true; });
  box.addEventListener("shown.bs.modal", () => { opening = false; });
  function close() {
    if (opening) box.addEventListener("shown.bs.modal", () => modal.hide(), { once: true });
    else modal.hide();
  }
  box.addEventListener("hidden.bs.modal", () => {
    const thumb = grid.querySelector('[data-index="' + index + '"]');
    if (thumb) thumb.focus();
  });

  // --- new events, live ------------------------------------------------------------------

  function thumbFor(event, position) {
    const best = event.snapshots[0];
    const link = document.createElement("a");
    link.className = "event-thumb is-new";
    link.href = best ? best.image_url : "#";
    link.dataset.index = position;
    link.dataset.event = event.id;
    const time = timeFormat.format(new Date(event.started_at));
    const score = window.Surveillance.scoreText(event.score);
    link.setAttribute("aria-label", event.camera_name + ", " + time + ", " + gettext("score") + " " + score);
    if (best) {
      const img = document.createElement("img");
      img.src = best.thumbnail_url;
      img.alt = "";
      link.appendChild(img);
    }
    const meta = document.createElement("span");
    meta.className = "event-meta";
    meta.innerHTML = '<span class="min-w-0"><span class="event-time"></span><span class="event-camera"></span></span>' +
      '<span class="badge event-score-badge event-score"></span>';
    meta.querySelector(".event-time").textContent = time;
    meta.querySelector(".event-camera").textContent = event.camera_name;
    meta.querySelector(".event-score").textContent = score;
    link.appendChild(meta);
    return link;
  }

  function countOnCalendar(day) {
    const cell = document.querySelector('.surv-calendar a[data-day="' + day + '"]');
    if (!cell) return;
    const dot = cell.querySelector(".surv-dot");
    const count = (parseInt(dot.textContent, 10) || 0) + 1;
    dot.textContent = String(count);
    cell.classList.add("has-events");
  }

  function setCount(count) {
    const label = document.getElementById("gallery-count-text");
    label.textContent = interpolate(ngettext("%s motion event", "%s motion events", count), [count]);
  }

  function matches(data) {
    const camera = data.camera && typeof data.camera === "object" ? data.camera.id : data.camera;
    if (state.camera && String(camera) !== String(state.camera)) return false;
    if (state.min_score && Number(data.score) < Number(state.min_score)) return false;
    return true;
  }

  document.addEventListener("surveillance:event", (live) => {
    const data = live.detail;
    if (!data || !data.id || !data.started_at || !matches(data)) return;
    if (events.some((event) => event.id === data.id)) return;
    const day = localDay(data.started_at);
    countOnCalendar(day);
    if (day !== state.day || !state.last_page) return;
    fetch(state.event_url.replace(/\/0\/$/, "/" + data.id + "/"), { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then((response) => (response.ok ? response.json() : null))
      .then((event) => {
        if (!event || events.some((known) => known.id === event.id)) return;
        events.push(event);
        grid.appendChild(thumbFor(event, events.length - 1));
        grid.hidden = false;
        const empty = document.getElementById("gallery-empty");
        if (empty) empty.remove();
        const counter = document.getElementById("gallery-count");
        counter.dataset.count = String(Number(counter.dataset.count) + 1);
        setCount(Number(counter.dataset.count));
        if (box.classList.contains("show")) render(); // the "next" button may wake up
      })
      .catch(() => {});
  });
})();
