// The kiosk page: one screen at a time, rendered from the kiosk's view; live progress over
// server-sent events. No framework, no build step. Every write carries the CSRF token from
// the page's meta tag; the cookie is HttpOnly, so this script never sees it.
"use strict";

const csrf = document.querySelector('meta[name="csrf-token"]').content;
const STRINGS = JSON.parse(document.getElementById("strings").textContent);
const $ = (id) => document.getElementById(id);
// Latency of each progress event, stamped by the kiosk, shown here (read by the benchmark).
window.kioskLatenciesMs = [];
let view = null;

function say(key, fields = {}) {
  return (STRINGS.text[key] || key).replace(/\{(\w+)\}/g, (_, name) => fields[name] ?? "");
}

function fingerName(key) {
  return STRINGS.fingers[key] || key;
}

async function post(action, body = {}) {
  const response = await fetch("/api/" + action, {
    method: "POST",
    credentials: "same-origin",
    headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
    body: JSON.stringify(body),
  });
  const answer = await response.json().catch(() => ({}));
  if (answer.view) render(answer.view);
  return answer;
}

function render(next) {
  view = next;
  for (const section of document.querySelectorAll("main > section")) {
    section.hidden = section.id !== "screen-" + view.screen;
  }
  $("sign-out").hidden = !view.operator;
  $("operator").textContent = view.operator ? say("page.signed_in_as", view.operator) : "";
  for (const el of document.querySelectorAll(".person-name")) {
    el.textContent = view.person ? view.person.name : "";
  }
  renderNotice(view.notice);
  renderNotes(view.operator_notes);
  renderCaptured(view.captured);
  if (view.instruction) showInstruction(view.instruction, false);
  document.body.dataset.screen = view.screen;
  focusScreen();
}

function focusScreen() {
  const section = $("screen-" + view.screen);
  const field = section && section.querySelector("input:not([type=hidden])");
  if (field && document.activeElement === document.body) field.focus();
}

function renderNotice(notice) {
  const box = $("notice");
  box.hidden = !notice;
  box.textContent = notice ? notice.text : "";
  box.className = notice ? "tone-" + notice.tone : "";
}

function renderNotes(notes) {
  const list = $("operator-notes");
  list.replaceChildren(...(notes || []).map((text) => item(text)));
  $("operator-details").open = (notes || []).length > 0;
}

function renderCaptured(captured) {
  $("captured").textContent = captured.length
    ? say("page.captured", { fingers: captured.map(fingerName).join(", ") }) : "";
  $("finish").hidden = captured.length === 0;
}

function item(text) {
  const li = document.createElement("li");
  li.textContent = text;
  return li;
}

function showInstruction(event, measure) {
  const box = $("instruction");
  box.textContent = event.text;
  box.className = "instruction tone-" + event.tone;
  box.dataset.key = event.key;
  $("steps").max = event.steps || 1;
  $("steps").value = event.step || 0;
  for (const digit of document.querySelectorAll(".digit")) {
    digit.classList.toggle("chosen", digit.id === "f-" + event.finger);
  }
  if (measure) {
    // Measured when the browser is about to paint the change: what the person sees.
    requestAnimationFrame(() => {
      const shownAt = performance.timeOrigin + performance.now();
      window.kioskLatenciesMs.push(shownAt - event.stamped_at * 1000);
    });
  }
}

function listen() {
  const source = new EventSource("/api/events");
  source.addEventListener("state", (e) => render(JSON.parse(e.data)));
  source.addEventListener("progress", (e) => showInstruction(JSON.parse(e.data), true));
  source.addEventListener("operator", (e) => {
    $("operator-notes").append(item(JSON.parse(e.data).text));
    $("operator-details").open = true;
  });
  source.onopen = () => { document.body.dataset.live = "yes"; };
}

function fingerButtons() {
  const group = $("finger-buttons");
  for (const [key, name] of Object.entries(STRINGS.fingers)) {
    const button = document.createElement("button");
    button.type = "button";
    button.textContent = name;
    button.dataset.finger = key;
    button.addEventListener("click", () => post("finger", { finger: key }));
    group.append(button);
  }
}

function onSubmit(id, action, fields) {
  $(id).addEventListener("submit", async (e) => {
    e.preventDefault();
    const data = Object.fromEntries(new FormData(e.target));
    const answer = await post(action, data);
    if (fields) fields(answer, e.target);
  });
}

function showResults(answer) {
  const list = $("search-results");
  list.replaceChildren(...(answer.results || []).map((person) => {
    const li = document.createElement("li");
    const button = document.createElement("button");
    button.type = "button";
    button.textContent = person.name;
    button.addEventListener("click", async () => showRecord((await post("person", { person_id: person.id })).person));
    li.append(button);
    return li;
  }));
}

function showRecord(person) {
  const box = $("person-record");
  box.replaceChildren();
  if (!person) return;
  if (person.roles.includes("fingerprint-exempt")) box.append(para(say("page.exempt")));
  box.append(heading(say("page.zones")));
  const zones = person.grants.map((g) => g.zone_name);
  box.append(para(zones.length ? zones.join(", ") : say("page.no_zones")));
  box.append(heading(say("page.enrolled")));
  const list = document.createElement("ul");
  for (const finger of person.fingers) list.append(fingerRow(finger));
  box.append(list);
}

function fingerRow(finger) {
  const li = item(fingerName(finger.name) + " ");
  li.append(actionButton(say("page.reenrol"), async () => {
    const reference = $("consent-reference").value;
    if (!reference) { $("consent-reference").focus(); return; }
    await post("consent", { reference });
    post("finger", { finger: finger.name, replaces: finger.id });
  }));
  li.append(actionButton(say("page.delete"), () => post("delete-finger", { finger_id: finger.id })));
  return li;
}

function actionButton(label, onClick) {
  const button = document.createElement("button");
  button.type = "button";
  button.className = "secondary small";
  button.textContent = label;
  button.addEventListener("click", onClick);
  return button;
}

function para(text) { const p = document.createElement("p"); p.textContent = text; return p; }
function heading(text) { const h = document.createElement("h3"); h.textContent = text; return h; }

function wire() {
  fingerButtons();
  onSubmit("form-sign-in", "sign-in", (_, form) => form.reset());
  onSubmit("form-search", "search", showResults);
  onSubmit("form-new-person", "person", (_, form) => form.reset());
  onSubmit("form-consent", "consent", (_, form) => form.reset());
  $("sign-out").addEventListener("click", () => post("sign-out"));
  $("unable").addEventListener("click", () => post("unable"));
  $("finish").addEventListener("click", () => post("finish"));
  for (const button of document.querySelectorAll("[data-action]")) {
    button.addEventListener("click", () => post(button.dataset.action));
  }
  // The kiosk must not be navigated away from: no context menu, no drag-out of links.
  document.addEventListener("contextmenu", (e) => e.preventDefault());
}

document.addEventListener("DOMContentLoaded", async () => {
  wire();
  render(await (await fetch("/api/state", { credentials: "same-origin" })).json());
  listen();
});
