// The listener's page: polls GET /page/feed, and for each new delivery asks once for
// GET /page/side-by-side/{webhook-id}. Every value goes into the page as text (textContent),
// never as HTML: results carry whatever the query returned.
"use strict";

const POLL_MS = 1000;
const RETRY_MS = 2000;
const MAX_TRIES = 30;
const SHOWN_FIELDS = [
  "state", "rows", "row_count", "truncated", "error", "query_execution_id", "completed_at",
];
const VALUE_CHARS = 160;
const cards = new Map();

function element(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = String(text);
  return node;
}

function shown(value) {
  const text = value === undefined ? "—" : JSON.stringify(value);
  return text.length > VALUE_CHARS ? text.slice(0, VALUE_CHARS - 1) + "…" : text;
}

function parsed(body) {
  try {
    const value = JSON.parse(body);
    return value !== null && typeof value === "object" ? value : {};
  } catch (error) {
    return {};
  }
}

function pretty(body) {
  try {
    return JSON.stringify(JSON.parse(body), null, 2);
  } catch (error) {
    return body;
  }
}

function time(iso) {
  const moment = new Date(iso);
  return isNaN(moment) ? String(iso) : moment.toLocaleTimeString();
}

function side(title, subtitle) {
  const box = element("div", "side");
  box.append(element("h3", "", title), element("p", "subtitle", subtitle));
  const fields = element("table", "fields");
  const body = element("details", "body");
  body.append(element("summary", "", "whole body"), element("pre"));
  box.append(fields, body);
  return box;
}

function fill(box, body, byteCount) {
  const result = parsed(body);
  const table = box.querySelector("table");
  table.replaceChildren();
  for (const name of SHOWN_FIELDS) {
    const row = element("tr");
    row.append(element("th", "", name), element("td", "", shown(result[name])));
    table.append(row);
  }
  box.querySelector("summary").textContent = `whole body (${byteCount} bytes)`;
  box.querySelector("pre").textContent = pretty(body);
}

function newCard(delivery) {
  const card = element("article", "delivery");
  card.dataset.webhookId = delivery.webhook_id;
  const head = element("header", "head");
  head.append(
    element("span", "verdict ok", delivery.verdict),
    element("code", "webhook-id", delivery.webhook_id),
    element("span", delivery.state === "SUCCEEDED" ? "state ok" : "state bad", delivery.state || "?"),
    element("span", "meta",
      `rows ${delivery.row_count ?? "?"} · received ${time(delivery.received_at)}` +
      ` · attempts ${delivery.attempts}`),
  );
  const comparison = element("p", "comparison pending", "pulling the same promise…");
  const sides = element("div", "sides");
  sides.append(
    side("pushed", "POST /callback: the signed webhook, as stored"),
    side("pulled", "GET /restate/invocation/…/attach"),
  );
  const query = element("p", "query");
  card.append(head, query, comparison, sides);
  return card;
}

function showComparison(card, answer) {
  const comparison = card.querySelector(".comparison");
  const [pushedBox, pulledBox] = card.querySelectorAll(".side");
  fill(pushedBox, answer.pushed, answer.pushed_bytes);
  const query = parsed(answer.pushed).query;
  if (typeof query === "string") card.querySelector(".query").textContent = query.replace(/\s+/g, " ");
  if (answer.pull_url) {
    const subtitle = pulledBox.querySelector(".subtitle");
    subtitle.textContent = `GET ${new URL(answer.pull_url).pathname}`;
    subtitle.title = answer.pull_url;
  }
  if (answer.equal === null) {
    comparison.className = answer.final ? "comparison bad" : "comparison pending";
    comparison.textContent = `not pulled: ${answer.pull_problem}`;
    return;
  }
  fill(pulledBox, answer.pulled, answer.pulled_bytes);
  comparison.className = answer.equal ? "comparison good" : "comparison bad";
  comparison.textContent = answer.equal
    ? `pushed == pulled: the same ${answer.pushed_bytes} bytes`
    : `pushed != pulled: ${answer.pushed_bytes} bytes pushed, ${answer.pulled_bytes} pulled`;
}

async function compare(card, webhookId, tries) {
  try {
    const response = await fetch(`/page/side-by-side/${encodeURIComponent(webhookId)}`);
    const answer = await response.json();
    if (!response.ok) throw new Error(answer.error || `HTTP ${response.status}`);
    showComparison(card, answer);
    if (answer.equal !== null || answer.final) return;
  } catch (error) {
    const comparison = card.querySelector(".comparison");
    comparison.className = "comparison pending";
    comparison.textContent = `not compared yet: ${error.message}`;
  }
  if (tries + 1 < MAX_TRIES) setTimeout(() => compare(card, webhookId, tries + 1), RETRY_MS);
}

function showRejections(rejections) {
  const section = document.getElementById("rejections");
  section.hidden = rejections.length === 0;
  const list = document.getElementById("rejection-list");
  list.replaceChildren(...rejections.map((rejection) => {
    const item = element("li");
    item.append(
      element("span", "verdict bad", "rejected"),
      element("code", "webhook-id", rejection.webhook_id ?? "(no webhook-id)"),
      element("span", "meta", `${rejection.reason} · ${time(rejection.received_at)}`),
    );
    return item;
  }));
}

async function refresh() {
  const status = document.getElementById("status");
  try {
    const response = await fetch("/page/feed");
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    const feed = await response.json();
    const list = document.getElementById("deliveries");
    // The feed is newest first: add the new ones oldest first, each on top.
    for (const delivery of [...feed.deliveries].reverse()) {
      if (cards.has(delivery.webhook_id)) continue;
      const card = newCard(delivery);
      cards.set(delivery.webhook_id, card);
      list.prepend(card);
      compare(card, delivery.webhook_id, 0);
    }
    showRejections(feed.rejections);
    document.getElementById("empty").hidden = cards.size > 0;
    status.className = "status live";
    status.textContent =
      `watching: ${cards.size} shown, pulled from ${feed.ingress} · checked ${time(new Date().toISOString())}`;
  } catch (error) {
    status.className = "status down";
    status.textContent = `the listener did not answer (${error.message}); trying again`;
  }
  setTimeout(refresh, POLL_MS);
}

document.getElementById("callback-url").textContent =
  `"callback_url": "${window.location.origin}/callback"`;
refresh();
