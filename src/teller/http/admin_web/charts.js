// The dashboard's charts: bars (a value per day) and lines (values over time) as inline SVG,
// drawn here from the admin API's figures (no library, nothing fetched from elsewhere).
// Amounts arrive as exact decimal strings; they are turned into BigInt base units and every
// bar height or point is an integer ratio of BigInts, so no amount passes through floating
// point. Each chart is an <svg role="img"> with a <title> and a <desc> (what it shows, the
// total), axis labels, and a <title> on every bar and point (its value, shown on hover and
// read by screen readers). The SVG is drawn for its container's width (options.width, in CSS
// pixels, so its text keeps its size on a phone) and scales with it (viewBox).
"use strict";

const NS = "http://www.w3.org/2000/svg";
const MIN_WIDTH = 280;
const MAX_WIDTH = 720;
const HEIGHT = 240;
const PAD = { top: 28, right: 14, bottom: 44, left: 64 };
const PLOT_H = HEIGHT - PAD.top - PAD.bottom;
const TICKS = [4, 5, 2, 1]; // the first that divides the axis' top gives even ticks
let counter = 0;

function svgNode(tag, attributes = {}, content) {
  const node = document.createElementNS(NS, tag);
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, String(value));
  if (content !== undefined) node.textContent = String(content);
  return node;
}

// "12.5" with 6 decimals -> 12500000n; anything that is no decimal -> 0n.
export function toUnits(text, decimals) {
  const match = /^(\d+)(?:\.(\d*))?$/.exec(String(text).trim());
  if (!match) return 0n;
  const fraction = (match[2] ?? "").slice(0, decimals).padEnd(decimals, "0");
  return BigInt(match[1] + fraction);
}

// 12500000n with 6 decimals -> "12.5" (exact; trailing zeros dropped).
export function fromUnits(units, decimals) {
  const digits = units.toString().padStart(decimals + 1, "0");
  const whole = digits.slice(0, digits.length - decimals);
  const fraction = digits.slice(digits.length - decimals).replace(/0+$/, "");
  return whole + (fraction ? `.${fraction}` : "");
}

// A round upper bound for the axis (1, 2 or 5 times a power of ten), at least `max`.
function niceMax(max) {
  return max <= 0n ? 1n : niceStep(max);
}

// The smallest 1, 2 or 5 times a power of ten that is at least `value` (at least 1).
function niceStep(value) {
  let step = 1n;
  for (;;) {
    for (const k of [1n, 2n, 5n]) if (step * k >= value) return step * k;
    step *= 10n;
  }
}

// A bar axis: from 0 to a round top, ticks evenly between.
function barAxis(max) {
  const top = niceMax(max);
  const count = BigInt(TICKS.find((n) => top % BigInt(n) === 0n));
  return { bottom: 0n, top, ticks: [...Array(Number(count) + 1).keys()].map((i) => (top * BigInt(i)) / count) };
}

// A line axis: round bounds around the values (from 0 when they are all equal), so a small
// change of a large balance shows.
function lineAxis(min, max) {
  if (min === max) return barAxis(max);
  const step = niceStep((max - min + 3n) / 4n);
  const bottom = (min / step) * step;
  const ticks = [bottom];
  while (ticks[ticks.length - 1] < max) ticks.push(ticks[ticks.length - 1] + step);
  return { bottom, top: ticks[ticks.length - 1], ticks };
}

// The y of `value` on `axis` (integer arithmetic).
function yOf(value, axis) {
  const span = axis.top - axis.bottom;
  return PAD.top + PLOT_H - Number(((value - axis.bottom) * BigInt(PLOT_H)) / span);
}

function plotWidth(options) {
  const width = Math.round(Math.min(Math.max(options.width ?? MAX_WIDTH, MIN_WIDTH), MAX_WIDTH));
  return { width, plot: width - PAD.left - PAD.right };
}

function frame(title, description, yLabel, xLabel, size) {
  counter += 1;
  const ids = { title: `chart-title-${counter}`, desc: `chart-desc-${counter}` };
  const svg = svgNode("svg", {
    viewBox: `0 0 ${size.width} ${HEIGHT}`,
    role: "img",
    "aria-labelledby": `${ids.title} ${ids.desc}`,
    class: "chart-svg",
    preserveAspectRatio: "xMidYMid meet",
  });
  svg.append(svgNode("title", { id: ids.title }, title), svgNode("desc", { id: ids.desc }, description));
  svg.append(
    svgNode("text", { class: "axis-label", x: 4, y: 12, "text-anchor": "start" }, yLabel),
    svgNode("text", { class: "axis-label", x: PAD.left + size.plot / 2, y: HEIGHT - 4,
      "text-anchor": "middle" }, xLabel),
  );
  return svg;
}

// The y axis: gridlines and labels at its ticks (`format` turns units into text).
function yAxis(svg, scale, format, size) {
  const axis = svgNode("g", { class: "axis", "aria-hidden": "true" });
  for (const value of scale.ticks) {
    const y = yOf(value, scale);
    axis.append(
      svgNode("line", { class: "grid", x1: PAD.left, x2: PAD.left + size.plot, y1: y, y2: y }),
      svgNode("text", { class: "tick", x: PAD.left - 6, y: y + 4, "text-anchor": "end" }, format(value)),
    );
  }
  svg.append(axis);
}

function xTick(svg, x, label) {
  svg.append(svgNode("text", { class: "tick", x, y: PAD.top + PLOT_H + 16, "text-anchor": "middle",
    "aria-hidden": "true" }, label));
}

// Bars: items [{label, value (BigInt units), title}], one bar each, left to right.
// options: {title, description, yLabel, xLabel, decimals, every (a tick label every n bars)}.
export function barChart(items, options) {
  const size = plotWidth(options);
  const svg = frame(options.title, options.description, options.yLabel, options.xLabel, size);
  const max = items.reduce((most, item) => (item.value > most ? item.value : most), 0n);
  const top = barAxis(max);
  yAxis(svg, top, (value) => fromUnits(value, options.decimals ?? 0), size);
  const slot = size.plot / Math.max(items.length, 1);
  const every = options.every ?? 1;
  const bars = svgNode("g", { class: "bars" });
  items.forEach((item, i) => {
    const x = PAD.left + i * slot;
    const y = yOf(item.value, top);
    const bar = svgNode("rect", {
      class: item.value > 0n ? "bar" : "bar bar-zero",
      x: x + slot * 0.15,
      y: Math.min(y, PAD.top + PLOT_H - 1),
      width: slot * 0.7,
      height: Math.max(PAD.top + PLOT_H - y, 1),
      "data-label": item.label,
      "data-value": fromUnits(item.value, options.decimals ?? 0),
    });
    bar.append(svgNode("title", {}, item.title));
    bars.append(bar);
    // Labelled from the last bar (today) back, every `every` bars.
    if ((items.length - 1 - i) % every === 0) xTick(svg, x + slot / 2, item.short ?? item.label);
  });
  svg.append(bars);
  return svg;
}

// Lines: series [{name, className, points: [{at (Unix seconds), value (BigInt), title}]}]
// over the time from `from` to `to`; each point is a circle with its own title.
export function lineChart(series, options) {
  const size = plotWidth(options);
  const svg = frame(options.title, options.description, options.yLabel, options.xLabel, size);
  const all = series.flatMap((s) => s.points).map((p) => p.value);
  const max = all.reduce((most, v) => (v > most ? v : most), 0n);
  const min = all.reduce((least, v) => (v < least ? v : least), max);
  const top = lineAxis(min, max);
  yAxis(svg, top, (value) => fromUnits(value, options.decimals ?? 0), size);
  const span = Math.max(options.to - options.from, 1);
  const xOf = (at) => PAD.left + Math.round(((at - options.from) * size.plot) / span);
  for (const [at, anchor] of [[options.from, "start"], [options.to, "end"]]) {
    const label = svgNode("text", { class: "tick", x: xOf(at), y: PAD.top + PLOT_H + 16,
      "text-anchor": anchor, "aria-hidden": "true" }, options.timeLabel(at));
    svg.append(label);
  }
  series.forEach((line, index) => {
    const group = svgNode("g", { class: `series series-${index}`, "data-series": line.name });
    const path = line.points.map((p) => `${xOf(p.at)},${yOf(p.value, top)}`);
    if (path.length > 1) {
      group.append(svgNode("polyline", { class: "line", points: path.join(" "), fill: "none" }));
    }
    for (const p of line.points) {
      const point = svgNode("circle", { class: "point", cx: xOf(p.at), cy: yOf(p.value, top), r: 3,
        "data-value": fromUnits(p.value, options.decimals ?? 0) });
      point.append(svgNode("title", {}, p.title));
      group.append(point);
    }
    svg.append(group);
  });
  return svg;
}

// A legend for the series of a line chart (HTML, next to the SVG).
export function legend(series) {
  const list = document.createElement("ul");
  list.className = "legend";
  series.forEach((line, index) => {
    const item = document.createElement("li");
    item.className = `legend-item series-${index}`;
    item.textContent = line.name;
    list.append(item);
  });
  return list;
}
