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
let record = null;

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
  const entered = !view || view.screen !== next.screen;
  view = next;
  for (const section of document.querySelectorAll("main > section")) {
    section.hidden = section.id !== "screen-" + view.screen;
  }
  $("sign-out").hidden = !view.operator;
  $("operator").textContent = view.operator ? say("page.signed_in_as", view.operator) : "";
  // Shown to an admin only; the kiosk refuses them from anyone else all the same.
  for (const el of document.querySelectorAll(".admin-only")) {
    el.hidden = !(view.operator && view.operator.admin);
  }
  for (const el of document.querySelectorAll(".person-name")) {
    el.textContent = view.person ? view.person.name : "";
  }
  renderNotice(view.notice);
  renderNotes(view.operator_notes);
  renderCaptured(view);
  renderFingers(view);
  renderRecord(view);
  if (entered && view.screen === "consent") showWindow(view.window);
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

function renderCaptured(v) {
  const named = (key) => v.duress.includes(key)
    ? say("page.duress_mark", { finger: fingerName(key) }) : fingerName(key);
  $("captured").textContent = v.captured.length
    ? say("page.captured", { fingers: v.captured.map(named).join(", ") }) : "";
  $("finish").hidden = v.captured.length === 0;
}

// Each finger button says whether that finger is enrolled already or captured, not sent.
function renderFingers(v) {
  for (const button of $("finger-buttons").children) {
    const key = button.dataset.finger;
    const stored = v.enrolled.find((f) => f.name === key);
    const ready = v.captured.includes(key);
    button.classList.toggle("enrolled", Boolean(stored) && !ready);
    button.classList.toggle("ready", ready);
    button.classList.toggle("duress", v.duress.includes(key) || Boolean(stored && stored.duress));
    const marks = [ready ? say("page.mark_ready") : stored ? say("page.mark_enrolled") : ""];
    if (v.duress.includes(key) || (stored && stored.duress && !ready)) marks.push(say("page.mark_duress"));
    button.querySelector("small").textContent = marks.filter(Boolean).join(", ");
  }
}

// The validity window: epoch seconds on the wire, the kiosk's local time in the fields.
function showWindow(win) {
  for (const [id, key] of [["valid-from", "valid_from"], ["valid-until", "valid_until"]]) {
    const epoch = win ? win[key] : null;
    $(id).value = localInput(epoch);
    $(id).dataset.shown = $(id).value;  // unchanged: the stored instant goes back as it was
    $(id).dataset.epoch = epoch == null ? "" : String(epoch);
  }
}

function localInput(epoch) {
  if (epoch == null) return "";
  const d = new Date(epoch * 1000);
  const two = (n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${two(d.getMonth() + 1)}-${two(d.getDate())}T${two(d.getHours())}:${two(d.getMinutes())}`;
}

function windowField(id) {
  const input = $(id);
  if (input.value === input.dataset.shown) return input.dataset.epoch ? Number(input.dataset.epoch) : null;
  return input.value ? new Date(input.value).getTime() / 1000 : null;
}

function consentBody() {
  const body = { reference: $("consent-reference").value };
  if (view.operator && view.operator.admin) {
    body.valid_from = windowField("valid-from");
    body.valid_until = windowField("valid-until");
  }
  return body;
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
    button.append(name, document.createElement("small"));
    button.dataset.finger = key;
    button.addEventListener("click", () => chooseFinger(key));
    group.append(button);
  }
}

// An enrolled finger chosen again is re-enrolled: the stored one goes once the new one is sent.
function chooseFinger(key) {
  const stored = view.enrolled.find((f) => f.name === key);
  const body = { finger: key };
  if (stored && !view.captured.includes(key)) body.replaces = stored.id;
  // A duress finger enrolled again stays the duress finger (an admin's choice, like the first).
  if ($("duress").checked || (body.replaces && stored.duress)) body.duress = true;
  $("duress").checked = false;
  post("finger", body);
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
    button.addEventListener("click", async () => {
      record = (await post("person", { person_id: person.id })).person || null;
      if (view) render(view);
    });
    li.append(button);
    return li;
  }));
}

// The chosen person's record (roles, zones) from the server; the fingers come from the view.
function renderRecord(v) {
  const box = $("person-record");
  if (!record || !v.person || record.id !== v.person.id) { box.replaceChildren(); return; }
  const zones = record.grants.map((g) => g.zone_name);
  const list = document.createElement("ul");
  for (const finger of v.enrolled) list.append(fingerRow(finger, v));
  box.replaceChildren(
    ...(record.roles.includes("fingerprint-exempt") ? [para(say("page.exempt"))] : []),
    heading(say("page.zones")), para(zones.length ? zones.join(", ") : say("page.no_zones")),
    heading(say("page.enrolled")), list);
}

function fingerRow(finger, v) {
  const li = item(finger.duress ? say("page.duress_mark", { finger: fingerName(finger.name) })
    : fingerName(finger.name));
  if (v.operator && v.operator.admin) {  // the server lets only an admin delete a finger
    li.append(actionButton(say("page.delete"), () => post("delete-finger", { finger_id: finger.id })));
  }
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

// A refused sign-in keeps the typed name: only the password is asked for again.
function keepName(answer, form) {
  if (answer.view && answer.view.operator) { form.reset(); return; }
  form.elements.password.value = "";
  form.elements.password.focus();
}

function para(text) { const p = document.createElement("p"); p.textContent = text; return p; }
function heading(text) { const h = document.createElement("h3"); h.textContent = text; return h; }

function wire() {
  fingerButtons();
  onSubmit("form-sign-in", "sign-in", keepName);
  onSubmit("form-search", "search", showResults);
  onSubmit("form-new-person", "person", (_, form) => form.reset());
  $("form-consent").addEventListener("submit", async (e) => {
    e.preventDefault();
    const answer = await post("consent", consentBody());
    if (answer.view && answer.view.consent) e.target.reset();
  });
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
