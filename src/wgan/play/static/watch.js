// The page of `wgan watch`: a run folder's metrics and newest figure as `wgan train` writes them
// (wgan/play/server.py, watch_app).

"use strict";

// Evaluation metrics, by preference: the first one a run logs is charted. An image run logs the Frechet distance
// (which picks its best checkpoint) beside the pixels' W1.
const EVALUATIONS = [["eval/fd", "Frechet distance"], ["eval/w1", "exact W1"], ["eval/pixel_sliced_w1", "sliced W1"]];
const estimate = new Series("critic's estimate (training batches)", COLOURS.estimate);
let evaluation = null;
let run = null;

function redraw() {
  drawLineChart(document.getElementById("estimate-chart"), [estimate], "");
  if (evaluation) drawLineChart(document.getElementById("evaluation-chart"), [evaluation], "");
}

function addRows(rows) {
  for (const row of rows) {
    if ("train/estimate" in row) estimate.push(row.iteration, row["train/estimate"]);
    if (!evaluation) {
      const found = EVALUATIONS.find(([key]) => key in row);
      if (found) evaluation = new Series(found[1], COLOURS.w1, true);
    }
    if (evaluation) {
      const found = EVALUATIONS.find(([, label]) => label === evaluation.label);
      if (found[0] in row) evaluation.push(row.iteration, row[found[0]]);
    }
  }
  const last = rows.length ? rows[rows.length - 1] : null;
  if (last && run) {
    const parts = [`iteration ${last.iteration} of ${run.iterations}`];
    if (estimate.last() !== null) parts.push(`estimate ${estimate.last().toFixed(4)}`);
    if (evaluation && evaluation.last() !== null) parts.push(`${evaluation.label} ${evaluation.last().toFixed(4)}`);
    parts.push(`updated ${new Date().toLocaleTimeString()}`);
    document.getElementById("latest").textContent = parts.join(" · ");
    if (last.iteration >= run.iterations) {  // done, unless a resume extends it: the page keeps following
      status.textContent = "finished (following, should a resume extend it)";
    }
  }
}

function receive(event) {
  const message = JSON.parse(event.data);
  if (message.type === "run") {
    run = message;
    document.getElementById("run-name").textContent = message.name;
    document.getElementById("run-settings").textContent =
      `${message.algorithm} on ${message.data}, ${message.iterations} iterations, evaluated every ${message.eval_every}`;
  } else if (message.type === "rows") {
    if (message.restart) {
      estimate.clear();
      if (evaluation) evaluation.clear();
    }
    addRows(message.rows);
    redraw();
  } else if (message.type === "figure") {
    document.getElementById("figure").src = `${message.url}?t=${Date.now()}`;
    document.getElementById("figure").hidden = false;
    document.getElementById("figure-name").textContent = message.name;
  } else if (message.type === "error") {
    document.getElementById("page-error").textContent = message.message;
  }
}

const socket = new WebSocket(`${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/ws`);
const status = document.getElementById("connection");
socket.onopen = () => { status.textContent = "following"; status.className = ""; };
socket.onclose = () => { status.textContent = "disconnected: restart `wgan watch` and reload"; status.className = "lost"; };
socket.onmessage = receive;
