// The line editor: counting lines and mask polygons drawn on the camera's snapshot, in the
// camera's frame pixels. Click two points (or drag) for a line; drag its ends or its body to
// move it; masks are polygons closed by clicking their first corner. Saved as JSON to the
// page's own URL, which bumps the camera's configuration version. A switch swaps the picture
// for what the counter sees (its last annotated frame) when it has sent one.
(function () {
  "use strict";
  const data = JSON.parse(document.getElementById("line-editor-data").textContent);
  const view = document.querySelector(".traffic-view-editor");
  const svg = view.querySelector(".traffic-overlay");
  const image = view.querySelector(".traffic-snapshot");
  const list = document.getElementById("line-list");
  const maskList = document.getElementById("mask-list");
  const hint = document.getElementById("editor-hint");
  const errors = document.getElementById("editor-errors");
  const saved = document.getElementById("editor-saved");
  const saveButton = document.getElementById("save-lines");
  const undoButton = document.getElementById("undo-changes");
  const W = data.width;
  const H = data.height;
  const HIT = 10; // screen pixels

  let lines = [];
  let masks = [];
  let original = "";
  let mode = "line";
  let selected = null; // index of the selected line
  let selectedMask = null;
  let pending = null; // the first point of a line being drawn by clicks
  let openMask = null; // index of the mask being drawn
  let drag = null;

  function load(fromServer) {
    lines = fromServer.lines.map((line) => Object.assign({}, line));
    masks = (fromServer.masks || []).map((polygon) => polygon.map((p) => p.slice()));
    original = snapshotOf();
    selected = null;
    selectedMask = null;
    pending = null;
    openMask = null;
  }

  function snapshotOf() {
    return JSON.stringify({ lines: lines.map(clean), masks });
  }

  function clean(line) {
    return { id: line.id === undefined ? null : line.id, name: line.name.trim(), x1: line.x1, y1: line.y1,
      x2: line.x2, y2: line.y2, in_label: line.in_label || "", out_label: line.out_label || "" };
  }

  function dirty() {
    return snapshotOf() !== original;
  }

  // --- geometry --------------------------------------------------------------------------

  function toFrame(event) {
    const point = svg.createSVGPoint();
    point.x = event.clientX;
    point.y = event.clientY;
    const local = point.matrixTransform(svg.getScreenCTM().inverse());
    return [round(Math.min(Math.max(local.x, 0), W)), round(Math.min(Math.max(local.y, 0), H))];
  }

  function round(value) {
    return Math.round(value * 10) / 10;
  }

  function scale() { // frame pixels per screen pixel
    return W / svg.getBoundingClientRect().width;
  }

  function distanceToSegment(p, a, b) {
    const dx = b[0] - a[0];
    const dy = b[1] - a[1];
    const length2 = dx * dx + dy * dy || 1;
    const t = Math.max(0, Math.min(1, ((p[0] - a[0]) * dx + (p[1] - a[1]) * dy) / length2));
    return Math.hypot(p[0] - (a[0] + t * dx), p[1] - (a[1] + t * dy));
  }

  function hit(p) {
    const reach = HIT * scale();
    for (let i = lines.length - 1; i >= 0; i -= 1) {
      const line = lines[i];
      if (Math.hypot(p[0] - line.x1, p[1] - line.y1) <= reach) return { kind: "end", index: i, end: 1 };
      if (Math.hypot(p[0] - line.x2, p[1] - line.y2) <= reach) return { kind: "end", index: i, end: 2 };
    }
    for (let i = lines.length - 1; i >= 0; i -= 1) {
      const line = lines[i];
      if (distanceToSegment(p, [line.x1, line.y1], [line.x2, line.y2]) <= reach * 0.8) return { kind: "line", index: i };
    }
    for (let m = masks.length - 1; m >= 0; m -= 1) {
      for (let c = 0; c < masks[m].length; c += 1) {
        if (Math.hypot(p[0] - masks[m][c][0], p[1] - masks[m][c][1]) <= reach) return { kind: "corner", mask: m, corner: c };
      }
    }
    for (let m = masks.length - 1; m >= 0; m -= 1) {
      if (m !== openMask && inside(p, masks[m])) return { kind: "mask", mask: m };
    }
    return null;
  }

  function inside(p, polygon) {
    let result = false;
    for (let i = 0, j = polygon.length - 1; i < polygon.length; j = i, i += 1) {
      const [xi, yi] = polygon[i];
      const [xj, yj] = polygon[j];
      if ((yi > p[1]) !== (yj > p[1]) && p[0] < ((xj - xi) * (p[1] - yi)) / (yj - yi) + xi) result = !result;
    }
    return result;
  }

  // --- drawing and the side panel ----------------------------------------------------------

  function render() {
    window.TrafficOverlay.draw(svg, lines, masks, {
      editing: true, selected, selectedMask, openMask, pending,
    });
    undoButton.disabled = !dirty();
    view.dataset.mode = mode;
    hint.textContent = hintText();
  }

  function hintText() {
    if (pending) return gettext("Now click the line's second point.");
    if (openMask !== null) return gettext("Click the next corner; click the first corner again to close the mask.");
    if (mode === "line") return gettext("Click the line's first point, or drag from it.");
    if (mode === "mask") return gettext("Click the first corner of the area to ignore.");
    return gettext("Click a line or a mask to select it; drag to move it.");
  }

  function coordsText(line) {
    const f = (v) => window.FlowSuite.format.number(v, 0);
    return "(" + f(line.x1) + ", " + f(line.y1) + ") → (" + f(line.x2) + ", " + f(line.y2) + ")";
  }

  function renderList() {
    const template = document.getElementById("line-item-template");
    list.replaceChildren();
    lines.forEach((line, index) => {
      const item = template.content.firstElementChild.cloneNode(true);
      item.dataset.index = index;
      item.style.setProperty("--tl-color", window.TrafficOverlay.color(index));
      item.classList.toggle("is-selected", index === selected);
      item.querySelectorAll("input[data-field]").forEach((input) => {
        input.value = line[input.dataset.field] || "";
        input.addEventListener("input", () => {
          line[input.dataset.field] = input.value;
          render();
        });
        input.addEventListener("focus", () => select(index, false));
      });
      item.querySelector('[data-field="coords"]').textContent = coordsText(line);
      item.querySelector('[data-action="swap"]').addEventListener("click", () => {
        [line.x1, line.y1, line.x2, line.y2] = [line.x2, line.y2, line.x1, line.y1];
        changed();
      });
      item.querySelector('[data-action="delete"]').addEventListener("click", () => removeLine(index));
      list.appendChild(item);
    });
    document.getElementById("no-lines").hidden = lines.length > 0;
    maskList.replaceChildren();
    masks.forEach((polygon, index) => {
      const row = document.createElement("div");
      row.className = "d-flex align-items-center justify-content-between small" + (index === selectedMask ? " fw-semibold" : "");
      const label = document.createElement("span");
      label.textContent = interpolate(ngettext("Mask %(number)s · %(corners)s corner", "Mask %(number)s · %(corners)s corners", polygon.length), { number: index + 1, corners: polygon.length }, true);
      const remove = document.createElement("button");
      remove.type = "button";
      remove.className = "btn btn-sm btn-link text-danger p-0";
      remove.textContent = gettext("Delete");
      remove.addEventListener("click", () => removeMask(index));
      row.append(label, remove);
      maskList.appendChild(row);
    });
    document.getElementById("no-masks").hidden = masks.length > 0;
  }

  function changed() {
    saved.hidden = true;
    renderList();
    render();
  }

  function select(index, focus) {
    if (selected === index && !focus) return;
    selected = index;
    selectedMask = null;
    list.querySelectorAll(".traffic-line-item").forEach((item) => {
      item.classList.toggle("is-selected", Number(item.dataset.index) === index);
    });
    render();
    if (focus && index !== null) {
      const input = list.querySelector('.traffic-line-item[data-index="' + index + '"] [data-field="name"]');
      if (input) { input.focus(); input.select(); }
    }
  }

  function newName() {
    const taken = new Set(lines.map((line) => line.name.trim().toLowerCase()));
    for (let n = lines.length + 1; ; n += 1) {
      const name = interpolate(gettext("Line %s"), [n]);
      if (!taken.has(name.toLowerCase())) return name;
    }
  }

  function addLine(a, b) {
    if (Math.hypot(b[0] - a[0], b[1] - a[1]) < 10) {
      hint.textContent = gettext("Too short: click two points further apart.");
      return;
    }
    lines.push({ id: null, name: newName(), x1: a[0], y1: a[1], x2: b[0], y2: b[1], in_label: "", out_label: "" });
    selected = lines.length - 1;
    changed();
    select(selected, true);
  }

  function removeLine(index) {
    const line = lines[index];
    if (line.has_counts && !window.confirm(interpolate(gettext("Delete “%s” and every count of it when you save?"), [line.name]))) return;
    lines.splice(index, 1);
    selected = null;
    changed();
  }

  function removeMask(index) {
    masks.splice(index, 1);
    selectedMask = null;
    if (openMask === index) openMask = null;
    changed();
  }

  function closeMask() {
    if (openMask === null) return;
    if (masks[openMask].length < 3) masks.splice(openMask, 1);
    openMask = null;
    changed();
  }

  // --- pointer ------------------------------------------------------------------------------

  svg.addEventListener("pointerdown", (event) => {
    if (event.button !== 0) return;
    event.preventDefault(); // keeps the focus where the editor puts it (a new line's name)
    const p = toFrame(event);
    errors.hidden = true;
    if (openMask !== null) {
      const polygon = masks[openMask];
      const first = polygon[0];
      if (polygon.length >= 3 && Math.hypot(p[0] - first[0], p[1] - first[1]) <= HIT * scale()) closeMask();
      else { polygon.push(p); changed(); }
      return;
    }
    const target = pending ? null : hit(p);
    if (target && target.kind === "end") {
      select(target.index, false);
      drag = { kind: "end", index: target.index, end: target.end, moved: false };
    } else if (target && target.kind === "line") {
      select(target.index, false);
      const line = lines[target.index];
      drag = { kind: "line", index: target.index, from: p, start: [line.x1, line.y1, line.x2, line.y2], moved: false };
    } else if (target && target.kind === "corner") {
      selectedMask = target.mask;
      selected = null;
      drag = { kind: "corner", mask: target.mask, corner: target.corner, moved: false };
      render();
    } else if (target && target.kind === "mask" && mode !== "mask") {
      selectedMask = target.mask;
      selected = null;
      renderList();
      render();
    } else if (mode === "line") {
      if (pending) {
        const a = pending;
        pending = null;
        addLine(a, p);
      } else {
        drag = { kind: "new", from: p, moved: false, screen: [event.clientX, event.clientY] };
      }
    } else if (mode === "mask") {
      masks.push([p]);
      openMask = masks.length - 1;
      selectedMask = openMask;
      changed();
    } else {
      selected = null;
      selectedMask = null;
      renderList();
      render();
    }
    if (drag) svg.setPointerCapture(event.pointerId);
  });

  svg.addEventListener("pointermove", (event) => {
    if (!drag) return;
    const p = toFrame(event);
    if (drag.kind === "new") {
      if (!drag.moved && Math.hypot(event.clientX - drag.screen[0], event.clientY - drag.screen[1]) < 6) return;
      drag.moved = true;
      window.TrafficOverlay.draw(svg, lines.concat([{ name: "", x1: drag.from[0], y1: drag.from[1], x2: p[0], y2: p[1] }]), masks, { editing: true });
      return;
    }
    drag.moved = true;
    if (drag.kind === "end") {
      const line = lines[drag.index];
      line["x" + drag.end] = p[0];
      line["y" + drag.end] = p[1];
    } else if (drag.kind === "line") {
      const line = lines[drag.index];
      const [x1, y1, x2, y2] = drag.start;
      const dx = Math.min(Math.max(p[0] - drag.from[0], -Math.min(x1, x2)), W - Math.max(x1, x2));
      const dy = Math.min(Math.max(p[1] - drag.from[1], -Math.min(y1, y2)), H - Math.max(y1, y2));
      Object.assign(line, { x1: round(x1 + dx), y1: round(y1 + dy), x2: round(x2 + dx), y2: round(y2 + dy) });
    } else if (drag.kind === "corner") {
      masks[drag.mask][drag.corner] = p;
    }
    render();
  });

  svg.addEventListener("pointerup", (event) => {
    if (!drag) return;
    const current = drag;
    drag = null;
    if (current.kind === "new") {
      if (current.moved) addLine(current.from, toFrame(event));
      else { pending = current.from; render(); }
      return;
    }
    if (current.moved) changed();
  });

  document.addEventListener("keydown", (event) => {
    if (event.target.closest("input, textarea, select")) return;
    if (event.key === "Escape") {
      pending = null;
      closeMask();
      render();
    } else if (event.key === "Enter") {
      closeMask();
    } else if (event.key === "Delete" || event.key === "Backspace") {
      if (selected !== null) removeLine(selected);
      else if (selectedMask !== null) removeMask(selectedMask);
    }
  });

  document.querySelectorAll('input[name="mode"]').forEach((radio) => {
    radio.addEventListener("change", () => {
      mode = radio.value;
      pending = null;
      closeMask();
      render();
    });
  });

  // --- what the counter sees: its own annotated frame as the background ----------------------

  const counterView = document.getElementById("counter-view");
  if (counterView && data.annotated_url && image) {
    const plain = { src: image.getAttribute("src"), alt: image.alt, hidden: image.hidden };
    const placeholder = view.querySelector(".traffic-no-snapshot");
    const caption = document.getElementById("counter-view-caption");
    counterView.addEventListener("change", () => {
      const on = counterView.checked;
      // The annotated frame is the counter's processing size: stretched to the view like the
      // plain snapshot, so the lines being edited stay where the counter has them.
      if (on) image.src = data.annotated_url;
      else if (plain.src) image.src = plain.src;
      image.alt = on ? gettext("What the counter sees") : plain.alt;
      image.hidden = on ? false : plain.hidden;
      if (placeholder) placeholder.hidden = on;
      if (caption) caption.hidden = !on;
      view.classList.toggle("is-counter-view", on);
    });
  }

  // --- saving -------------------------------------------------------------------------------

  async function save() {
    closeMask();
    errors.hidden = true;
    saved.hidden = true;
    saveButton.disabled = true;
    try {
      const response = await fetch(data.save_url, {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CSRFToken": window.FlowSuite.csrfToken() },
        body: JSON.stringify({ lines: lines.map(clean), masks }),
      });
      const body = await response.json().catch(() => ({}));
      if (!response.ok) {
        errors.replaceChildren(...(body.errors || [gettext("The lines could not be saved.")]).map((message) => {
          const line = document.createElement("div");
          line.textContent = message;
          return line;
        }));
        errors.hidden = false;
        return;
      }
      load(body);
      const version = document.getElementById("config-version");
      version.dataset.version = body.config_version;
      version.textContent = interpolate(gettext("Configuration version %s"), [body.config_version]);
      saved.textContent = body.message;
      saved.hidden = false;
      renderList();
      render();
    } catch (error) {
      errors.textContent = gettext("The server could not be reached: nothing was saved.");
      errors.hidden = false;
    } finally {
      saveButton.disabled = false;
    }
  }

  saveButton.addEventListener("click", save);
  undoButton.addEventListener("click", () => {
    const before = JSON.parse(original);
    const has = new Map(lines.map((line) => [line.id, line.has_counts]));
    before.lines.forEach((line) => { line.has_counts = has.get(line.id); });
    load(before);
    renderList();
    render();
  });
  window.addEventListener("beforeunload", (event) => {
    if (dirty()) event.preventDefault();
  });
  if (image && !image.hidden) image.addEventListener("load", render);

  load(data);
  renderList();
  render();
})();
