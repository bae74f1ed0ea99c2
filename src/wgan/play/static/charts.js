// Drawing for the pages of `wgan play` and `wgan watch`: line charts of numbers against iterations, and the
// critic's value landscape under real and generated points. Plain canvas 2-D, no library.

"use strict";

const COLOURS = { real: "#f28e2b", fake: "#1f77b4", estimate: "#1f77b4", w1: "#2ca02c", axis: "#555" };
const MAX_POINTS = 4000; // points kept per series: beyond, every other one is dropped (the curve's shape stays)

// A series of (iteration, value) pairs that stays under MAX_POINTS by thinning its oldest half.
class Series {
  constructor(label, colour, dashed = false) {
    Object.assign(this, { label, colour, dashed, xs: [], ys: [] });
  }
  push(x, y) {
    if (y === null || y === undefined || !Number.isFinite(y)) return;
    this.xs.push(x);
    this.ys.push(y);
    if (this.xs.length > MAX_POINTS) {
      this.xs = this.xs.filter((_, i) => i % 2 === 0);
      this.ys = this.ys.filter((_, i) => i % 2 === 0);
    }
  }
  clear() {
    this.xs = [];
    this.ys = [];
  }
  last() {
    return this.ys.length ? this.ys[this.ys.length - 1] : null;
  }
}

function niceNumber(value, digits = 3) {
  const magnitude = Math.abs(value);
  if (magnitude !== 0 && (magnitude < 1e-3 || magnitude >= 1e5)) return value.toExponential(digits - 2);
  return Number(value.toPrecision(digits)).toString();
}

// The labels of an axis from low to high: with as many digits as it takes to tell them apart (11.87 and 11.93,
// not 11.9 twice).
function axisLabels(low, high) {
  let digits = 3;
  while (digits < 8 && niceNumber(low, digits) === niceNumber(high, digits)) digits += 1;
  return [niceNumber(low, digits), niceNumber(high, digits)];
}

// Line chart of several Series against the iteration, with 0 on the y axis when the data come near it.
function drawLineChart(canvas, seriesList, title) {
  const context = canvas.getContext("2d");
  const width = canvas.width, height = canvas.height;
  const left = 48, right = 8, top = 18, bottom = 20;
  context.clearRect(0, 0, width, height);
  context.font = "11px sans-serif";
  context.fillStyle = COLOURS.axis;
  context.fillText(title, left, 12);
  const all = seriesList.filter((series) => series.xs.length > 0);
  if (all.length === 0) return;
  const xMax = Math.max(...all.map((series) => series.xs[series.xs.length - 1]), 1);
  // The y range covers what follows the first tenth of the iterations: the first critic steps of a run can
  // read a hundred times what follows, and would flatten the rest of the curve (drawn clipped).
  const shown = all.map((series) => series.ys.filter((_, i) => series.xs[i] >= 0.1 * xMax));
  const ranged = shown.some((values) => values.length > 1) ? shown.filter((values) => values.length > 0) : all.map((series) => series.ys);
  let yMin = Math.min(...ranged.map((values) => Math.min(...values)));
  let yMax = Math.max(...ranged.map((values) => Math.max(...values)));
  if (yMin > 0 && yMin < 0.5 * yMax) yMin = 0;
  if (yMax === yMin) { yMax += 1; yMin -= 1; }
  const pad = 0.05 * (yMax - yMin);
  yMin -= pad; yMax += pad;
  const px = (x) => left + (x / xMax) * (width - left - right);
  const py = (y) => top + (1 - (y - yMin) / (yMax - yMin)) * (height - top - bottom);
  context.strokeStyle = "#ccc";
  context.beginPath();
  context.moveTo(left, top); context.lineTo(left, height - bottom); context.lineTo(width - right, height - bottom);
  context.stroke();
  if (yMin < 0 && yMax > 0) {
    context.setLineDash([2, 3]);
    context.beginPath(); context.moveTo(left, py(0)); context.lineTo(width - right, py(0)); context.stroke();
    context.setLineDash([]);
  }
  context.fillStyle = COLOURS.axis;
  const [lowLabel, highLabel] = axisLabels(yMin + pad, yMax - pad);
  context.fillText(highLabel, 2, top + 8);
  context.fillText(lowLabel, 2, height - bottom);
  context.fillText("0", left - 4, height - 6);
  const xLabel = `${Math.round(xMax)} iterations`;
  context.fillText(xLabel, width - right - context.measureText(xLabel).width, height - 6);
  let legendX = left + context.measureText(title).width + 12;
  for (const series of all) {
    context.strokeStyle = series.colour;
    context.lineWidth = 1.5;
    context.setLineDash(series.dashed ? [5, 3] : []);
    context.save();
    context.beginPath();
    context.rect(left, top, width - left - right, height - top - bottom);
    context.clip();
    context.beginPath();
    series.xs.forEach((x, i) => (i === 0 ? context.moveTo(px(x), py(series.ys[i])) : context.lineTo(px(x), py(series.ys[i]))));
    context.stroke();
    context.restore();
    context.beginPath(); context.moveTo(legendX, 8); context.lineTo(legendX + 16, 8); context.stroke();
    context.setLineDash([]);
    context.fillStyle = COLOURS.axis;
    context.fillText(series.label, legendX + 20, 12);
    legendX += 28 + context.measureText(series.label).width;
  }
  context.lineWidth = 1;
}

// The critic's values on a size x size grid (row 0 at the bottom of the view) as a grey shading, light where
// the critic scores high, with the real and generated points over it.
function drawLandscape(canvas, view, size, values, real, fake) {
  const context = canvas.getContext("2d");
  const width = canvas.width, height = canvas.height;
  context.clearRect(0, 0, width, height);
  if (values) {
    const low = Math.min(...values), high = Math.max(...values), span = high - low || 1;
    const shade = new ImageData(size, size);
    for (let row = 0; row < size; row++) {
      for (let column = 0; column < size; column++) {
        const grey = 70 + Math.round(170 * (values[row * size + column] - low) / span);
        const at = 4 * ((size - 1 - row) * size + column);
        shade.data.set([grey, grey, grey, 255], at);
      }
    }
    const small = document.createElement("canvas");
    small.width = size; small.height = size;
    small.getContext("2d").putImageData(shade, 0, 0);
    context.imageSmoothingEnabled = true;
    context.drawImage(small, 0, 0, width, height);
  }
  const [lowCorner, highCorner] = view;
  const px = (x) => ((x - lowCorner[0]) / (highCorner[0] - lowCorner[0])) * width;
  const py = (y) => height - ((y - lowCorner[1]) / (highCorner[1] - lowCorner[1])) * height;
  for (const [points, colour] of [[real, COLOURS.real], [fake, COLOURS.fake]]) {
    if (!points) continue;
    context.fillStyle = colour;
    for (const [x, y] of points) context.fillRect(px(x) - 1.5, py(y) - 1.5, 3, 3);
  }
}
