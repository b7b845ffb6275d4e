// Counting lines (and masks) drawn over a camera's snapshot, in the camera's frame pixels: an
// <svg class="traffic-overlay" viewBox="0 0 W H"> laid over the picture. Each line shows its
// name at its first point and an arrow for "in": crossing from the right side to the left
// side, seen standing on the first point looking towards the second (the contract's rule:
// side = dx * (py - y1) - dy * (px - x1) going from > 0 to < 0).
(function () {
  "use strict";
  const NS = "http://www.w3.org/2000/svg";
  const COLORS = ["#f59e0b", "#22d3ee", "#f472b6", "#a3e635", "#c084fc", "#fb923c", "#60a5fa", "#facc15"];

  function color(index) {
    return COLORS[index % COLORS.length];
  }

  function el(name, attrs, parent) {
    const node = document.createElementNS(NS, name);
    Object.entries(attrs || {}).forEach(([key, value]) => node.setAttribute(key, value));
    if (parent) parent.appendChild(node);
    return node;
  }

  // The "in" arrow: across the line, from its right side to its left side.
  function inArrow(line, size) {
    const dx = line.x2 - line.x1;
    const dy = line.y2 - line.y1;
    const length = Math.hypot(dx, dy) || 1;
    const nx = dy / length; // the left normal in image coordinates (y grows downwards)
    const ny = -dx / length;
    // At 40% of the way, not the middle: lines that cross at their middles keep apart arrows.
    const mx = line.x1 + (line.x2 - line.x1) * 0.4;
    const my = line.y1 + (line.y2 - line.y1) * 0.4;
    return {
      tail: [mx - nx * size, my - ny * size],
      head: [mx + nx * size, my + ny * size],
      normal: [nx, ny],
    };
  }

  function side(line, x, y) {
    return (line.x2 - line.x1) * (y - line.y1) - (line.y2 - line.y1) * (x - line.x1);
  }

  function text(parent, x, y, content, attrs) {
    const node = el("text", Object.assign({ x, y, class: "tl-text" }, attrs || {}), parent);
    node.textContent = content;
    return node;
  }

  function drawLine(svg, line, index, unit, options) {
    const group = el("g", { class: "tl-line" + (options.selected === index ? " is-selected" : ""),
      "data-index": index, "data-name": line.name, style: "--tl-color: " + color(index) }, svg);
    const points = { x1: line.x1, y1: line.y1, x2: line.x2, y2: line.y2 };
    el("line", Object.assign({ class: "tl-halo" }, points), group);
    el("line", Object.assign({ class: "tl-stroke" }, points), group);
    const arrow = inArrow(line, 26 * unit);
    const [hx, hy] = arrow.head;
    const [nx, ny] = arrow.normal;
    const px = -ny; // along the line
    const py = nx;
    const back = 12 * unit;
    const wide = 8 * unit;
    const shaft = { x1: arrow.tail[0], y1: arrow.tail[1], x2: hx - nx * back * 0.6, y2: hy - ny * back * 0.6 };
    const arrowGroup = el("g", { class: "tl-arrow", "data-direction": "in" }, group);
    el("line", Object.assign({ class: "tl-halo tl-arrow-halo" }, shaft), arrowGroup);
    el("line", Object.assign({ class: "tl-arrow-shaft" }, shaft), arrowGroup);
    el("polygon", {
      class: "tl-arrow-head",
      points: [
        [hx, hy],
        [hx - nx * back + px * wide, hy - ny * back + py * wide],
        [hx - nx * back - px * wide, hy - ny * back - py * wide],
      ].map((p) => p.join(",")).join(" "),
    }, arrowGroup);
    const inText = line.in_label ? gettext("in") + " · " + line.in_label : gettext("in");
    // The label beyond the head, or above it when that would leave the frame.
    const frameWidth = Number(svg.dataset.width);
    let sideways = Math.abs(nx) > Math.abs(ny);
    if (sideways && (nx > 0 ? hx > frameWidth * 0.75 : hx < frameWidth * 0.25)) sideways = false;
    const anchor = sideways ? (nx > 0 ? "start" : "end") : "middle";
    const labelX = Math.min(Math.max(hx + nx * (sideways ? 5 : 0) * unit, 60 * unit), frameWidth - 60 * unit);
    const labelY = sideways || Math.abs(ny) > 0.5 ? hy + ny * 12 * unit + 5 * unit : hy - 12 * unit;
    text(arrowGroup, sideways ? hx + nx * 5 * unit : labelX, labelY, inText,
      { class: "tl-text tl-in-label", "font-size": 14 * unit, "text-anchor": anchor });
    el("circle", { class: "tl-end tl-end-1", cx: line.x1, cy: line.y1, r: (options.editing ? 7 : 4.5) * unit }, group);
    el("circle", { class: "tl-end tl-end-2", cx: line.x2, cy: line.y2, r: (options.editing ? 7 : 4.5) * unit }, group);
    // The name just past the first point, along the line (inside the frame), on its right
    // side: the "in" arrow and its label are on the left.
    const length = Math.hypot(line.x2 - line.x1, line.y2 - line.y1) || 1;
    const ux = (line.x2 - line.x1) / length;
    const uy = (line.y2 - line.y1) / length;
    const nameX = line.x1 + ux * 12 * unit - nx * 14 * unit;
    const nameY = line.y1 + uy * 12 * unit - ny * 14 * unit + 5 * unit;
    text(group, nameX, nameY, line.name,
      { class: "tl-text tl-name", "text-anchor": ux >= 0 ? "start" : "end", "font-size": 15 * unit });
    return group;
  }

  function drawMask(svg, polygon, index, unit, options) {
    if (!polygon.length) return;
    const closed = options.openMask !== index;
    const attrs = {
      class: "tl-mask" + (options.selectedMask === index ? " is-selected" : "") + (closed ? "" : " is-open"),
      "data-mask": index,
      points: polygon.map((p) => p.join(",")).join(" "),
    };
    el(closed ? "polygon" : "polyline", attrs, svg);
    if (options.editing) {
      polygon.forEach(([x, y], corner) => {
        el("circle", { class: "tl-mask-corner", cx: x, cy: y, r: 5 * unit, "data-mask": index, "data-corner": corner }, svg);
      });
    }
  }

  // Draw `lines` ([{name, x1, y1, x2, y2, in_label}]) and `masks` ([[[x, y], ...]]) on `svg`.
  function draw(svg, lines, masks, options) {
    options = options || {};
    const width = Number(svg.dataset.width);
    const height = Number(svg.dataset.height);
    const unit = Math.max(width, height) / 640; // sizes as on a 640 px wide frame
    while (svg.firstChild) svg.removeChild(svg.firstChild);
    (masks || []).forEach((polygon, index) => drawMask(svg, polygon, index, unit, options));
    (lines || []).forEach((line, index) => drawLine(svg, line, index, unit, options));
    if (options.pending) {
      el("circle", { class: "tl-pending", cx: options.pending[0], cy: options.pending[1], r: 6 * unit }, svg);
    }
  }

  window.TrafficOverlay = { draw, inArrow, side, color };
})();
