// The page of `wgan play`: panels that each show one run training on the server (wgan/play/server.py), and
// the controls that change them. Messages are those of wgan/play/protocol.py.

"use strict";

const ALGORITHM_SETTINGS = ["n_critic", "lr", "clip", "penalty_weight"]; // back to the new algorithm's defaults
const LABELS = { data: "data set", algorithm: "algorithm", n_critic: "n_critic", lr: "learning rate", clip: "clip c",
  penalty_weight: "penalty weight", batch_size: "batch size", width: "width", iterations: "iterations", seed: "seed" };
const FPS_WINDOW_MS = 2000; // frames per second are counted over the last 2 s
const FIRST_PANELS = ["gan", "wgan-gp"]; // the page opens on these, unless ?algorithms=a,b,... says otherwise

const panels = new Map(); // name -> { element, settings, running, series, describe }
let socket = null;
let hello = null;
let panelCount = 0;

function send(message) {
  if (socket && socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify(message));
}

function showPageError(text) {
  document.getElementById("page-error").textContent = text;
}

function element(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attributes)) {
    if (key === "class") node.className = value; else node.setAttribute(key, value);
  }
  node.append(...children);
  return node;
}

// The settings the form holds: a number where the text reads as one, the text itself otherwise (the server
// says what is wrong with it), null where empty or disabled (the server fills in the default).
function formSettings(panel) {
  const settings = {};
  for (const name of hello.editable) {
    const input = panel.element.querySelector(`[name="${name}"]`);
    const text = input.value.trim();
    if (input.disabled || text === "") settings[name] = null;
    else if (input.tagName === "SELECT") settings[name] = text;
    else settings[name] = Number.isNaN(Number(text)) ? text : Number(text);
  }
  return settings;
}

function addPanel(settings) {
  const name = `p${++panelCount}`;
  const controls = element("div", { class: "controls" });
  for (const setting of hello.editable) {
    let input;
    if (hello.choices[setting]) {
      input = element("select", { name: setting });
      for (const choice of hello.choices[setting]) input.append(element("option", { value: choice }, choice));
    } else {
      input = element("input", { name: setting, type: "text", inputmode: "decimal", autocomplete: "off" });
    }
    controls.append(element("label", { for: `${name}-${setting}` }, LABELS[setting] || setting));
    input.id = `${name}-${setting}`;
    controls.append(input);
  }
  const root = element("div", { class: "panel", id: `panel-${name}` },
    element("h2", {}, element("span", { class: "title" }, "starting…"),
      element("span", { class: "status" }, element("span", { class: "value-iteration" }, "0"), " it · ",
        element("span", { class: "value-rate" }, "0"), " it/s · ", element("span", { class: "value-fps" }, "0"),
        " frames/s")),
    element("canvas", { class: "landscape", width: 320, height: 320 }),
    element("div", { class: "numbers" }, element("span", { class: "value-estimate" }, "–"), " · ",
      element("span", { class: "value-w1" }, "–"), " · ", element("span", { class: "value-modes" }, "")),
    element("canvas", { class: "curves", width: 320, height: 140 }),
    element("div", { class: "buttons" },
      element("button", { class: "toggle" }, "Start"), element("button", { class: "step" }, "Step"),
      element("button", { class: "reset" }, "Reset"), element("button", { class: "remove" }, "Remove")),
    controls,
    element("div", { class: "error" }));
  document.getElementById("panels").append(root);
  const panel = { element: root, running: false, describe: null, frame: null, framesReceived: 0, arrivals: [],
    series: { estimate: new Series("estimate", COLOURS.estimate), w1: new Series("exact W1", COLOURS.w1, true) } };
  panels.set(name, panel);
  root.querySelector(".toggle").onclick = () => send({ action: panel.running ? "pause" : "start", panel: name });
  root.querySelector(".step").onclick = () => send({ action: "step", panel: name });
  root.querySelector(".reset").onclick = () => send({ action: "reset", panel: name });
  root.querySelector(".remove").onclick = () => {
    if (panel.describe) send({ action: "remove", panel: name });
    else { root.remove(); panels.delete(name); }
  };
  for (const input of controls.querySelectorAll("input, select")) {
    input.onchange = () => {
      if (input.name === "algorithm") {
        for (const setting of ALGORITHM_SETTINGS) controls.querySelector(`[name="${setting}"]`).value = "";
      }
      // a panel the server has not built yet (its settings were refused) is added anew
      send({ action: panel.describe ? "configure" : "add", panel: name, settings: formSettings(panel) });
    };
  }
  send({ action: "add", panel: name, settings });
}

function showPanel(name, message) {
  const panel = panels.get(name);
  if (!panel) return;
  const root = panel.element;
  panel.running = message.running;
  panel.describe = message;
  for (const [setting, value] of Object.entries(message.settings)) {
    const input = root.querySelector(`[name="${setting}"]`);
    input.disabled = value === null;
    input.value = value === null ? "" : value;
  }
  root.querySelector(".title").textContent = `${message.settings.algorithm} on ${message.settings.data}`;
  root.querySelector(".toggle").textContent = message.running ? "Pause" : "Start";
  root.querySelector(".value-iteration").textContent = message.iteration;
  root.querySelector(".error").textContent = message.note || "";
  if (message.iteration === 0) {
    panel.series.estimate.clear();
    panel.series.w1.clear();
  }
  panel.series.estimate.label = message.estimate_name;
}

function showFrame(name, frame) {
  const panel = panels.get(name);
  if (!panel || !panel.describe) return;
  const root = panel.element;
  const describe = panel.describe;
  panel.frame = frame;
  panel.framesReceived += 1;
  const now = performance.now();
  panel.arrivals = panel.arrivals.filter((time) => now - time < FPS_WINDOW_MS).concat([now]);
  drawLandscape(root.querySelector(".landscape"), describe.view, describe.landscape_size, frame.landscape,
    frame.real, frame.fake);
  panel.series.estimate.push(frame.iteration, frame.estimate);
  panel.series.w1.push(frame.iteration, frame.w1);
  drawLineChart(root.querySelector(".curves"), [panel.series.estimate, panel.series.w1], "");
  root.querySelector(".value-iteration").textContent = frame.iteration;
  root.querySelector(".value-rate").textContent = frame.rate.toFixed(1);
  root.querySelector(".value-fps").textContent = (1000 * (panel.arrivals.length - 1) / FPS_WINDOW_MS).toFixed(1);
  root.querySelector(".value-estimate").textContent = `${describe.estimate_name} ${frame.estimate.toFixed(3)}`;
  root.querySelector(".value-w1").textContent =
    `exact W1 ${frame.w1.toFixed(3)} (${describe.frame_samples} points a side)`;
  root.querySelector(".value-modes").textContent =
    frame.modes_total ? `modes ${frame.modes_covered}/${frame.modes_total}` : "";
}

function showError(message) {
  const panel = message.panel && panels.get(message.panel);
  if (!panel) {
    showPageError(message.message);
    return;
  }
  panel.element.querySelector(".error").textContent = message.message;
  if (message.running === false) {
    panel.running = false;
    panel.element.querySelector(".toggle").textContent = "Start";
  }
  if (!panel.describe) { // a panel the server could not build: its form shows what was asked for
    panel.element.querySelector(".title").textContent = "not started";
  }
}

// The first panels: those the address asks for (?algorithms=gan,wgan), known ones up to a page's number, and a
// line for the rest, or FIRST_PANELS.
function openPanels(asked) {
  const wanted = asked ? asked.split(",").map((name) => name.trim()).filter((name) => name) : FIRST_PANELS;
  const known = wanted.filter((name) => hello.choices.algorithm.includes(name));
  const problems = [];
  const unknown = wanted.filter((name) => !known.includes(name));
  if (unknown.length) problems.push(`the address asks for ${unknown.join(", ")}: the algorithms are ` +
    hello.choices.algorithm.join(", "));
  if (known.length > hello.max_panels) problems.push(`a page holds at most ${hello.max_panels} panels: ` +
    `${known.slice(hello.max_panels).join(", ")} left out`);
  for (const algorithm of known.slice(0, hello.max_panels)) addPanel({ algorithm });
  if (problems.length) showPageError(problems.join("; "));
}

function receive(event) {
  const message = JSON.parse(event.data);
  if (message.type === "hello") {
    hello = message;
    openPanels(new URLSearchParams(location.search).get("algorithms"));
  } else if (message.type === "panel") {
    showPanel(message.panel, message);
  } else if (message.type === "frame") {
    showFrame(message.panel, message);
  } else if (message.type === "removed") {
    const panel = panels.get(message.panel);
    if (panel) panel.element.remove();
    panels.delete(message.panel);
  } else if (message.type === "error") {
    showError(message);
  }
}

function connect() {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  socket = new WebSocket(`${scheme}://${location.host}/ws`);
  const status = document.getElementById("connection");
  socket.onopen = () => { status.textContent = "connected"; status.className = ""; };
  socket.onclose = () => {
    status.textContent = "disconnected from the server: restart `wgan play` and reload";
    status.className = "lost";
  };
  socket.onmessage = receive;
}

for (const [id, action] of [["start-all", "start"], ["pause-all", "pause"], ["step-all", "step"], ["reset-all", "reset"]]) {
  document.getElementById(id).onclick = () => send({ action, panel: "*" });
}
document.getElementById("add-panel").onclick = () => {
  if (panels.size >= hello.max_panels) showPageError(`a page holds at most ${hello.max_panels} panels`);
  else addPanel({ algorithm: "wgan" });
};
connect();
