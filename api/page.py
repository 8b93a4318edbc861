"""The Billing page: one HTML document with a small script (no build step) over the API.

Plan & Usage (bots with plan, status, balance, an information icon for notices, the Manage
dialog, owner change) and Orders & Invoices (orders, invoices, downloads) for an admin; a
member or shared user gets no Billing section at all, an Enterprise customer no Orders &
Invoices. Money arrives and leaves as integer cents; the script formats and parses decimal
text with integer arithmetic only.
"""

from __future__ import annotations

__all__ = ["BILLING_PAGE"]

BILLING_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>botbill - Billing</title>
<style>
 body { font-family: system-ui, sans-serif; margin: 2rem; color: #222; }
 table { border-collapse: collapse; margin: .5rem 0 1.5rem; }
 th, td { border: 1px solid #ccc; padding: .3rem .6rem; text-align: left; }
 td.money { text-align: right; font-variant-numeric: tabular-nums; }
 .info { cursor: help; display: inline-block; width: 1.1em; height: 1.1em; margin-left: .4rem;
         border-radius: 50%; background: #06c; color: #fff; font: bold .8em/1.1em serif;
         text-align: center; vertical-align: middle; }
 .info::before { content: "i"; }
 .error { color: #b00; } .ok { color: #070; }
 dialog { min-width: 28rem; } dialog section { margin: .6rem 0; }
 nav > * { margin-right: 1rem; }
</style>
</head>
<body>
<header><h1>botbill</h1><nav id="nav"></nav></header>
<section id="login">
  <label>Access token <input id="token" type="password" size="50"></label>
  <button id="login-button" type="button">Sign in</button>
  <p id="login-message" class="error"></p>
</section>
<main id="app"></main>
<dialog id="manage">
  <h2>Manage <span id="manage-bot"></span></h2>
  <div id="manage-summary"></div>
  <section><h3>Plan</h3>
    <select id="plan-select"></select>
    <button id="change-plan" type="button">Change plan</button></section>
  <section><h3>Add funds</h3>
    <label>Amount (USD) <input id="funds-amount" value="100.00" size="10"></label>
    <select id="funds-method"><option value="card">Card</option>
      <option value="wire_transfer">Wire transfer</option></select>
    <button id="add-funds" type="button">Add funds</button></section>
  <section><h3>Auto-reload</h3>
    <label><input id="reload-enabled" type="checkbox"> enabled</label>
    <label>below (USD) <input id="reload-threshold" value="20.00" size="8"></label>
    <label>reload (USD) <input id="reload-amount" value="100.00" size="8"></label>
    <button id="save-reload" type="button">Save</button></section>
  <section id="extension-section"><h3>Trial extension</h3>
    <label>days <input id="extension-days" value="14" size="4"></label>
    <button id="request-extension" type="button">Request an extension</button></section>
  <section><h3>Bot owner</h3>
    <select id="owner-select"></select>
    <button id="change-owner" type="button">Change owner</button></section>
  <p id="manage-message"></p>
  <button id="close-manage" type="button">Close</button>
</dialog>
<script>
"use strict";
const $ = (id) => document.getElementById(id);
let token = sessionStorage.getItem("botbill_token") || "";
let current = null;

function cents(value) {
  const sign = value < 0 ? "-" : "";
  const abs = Math.abs(value);
  const whole = String(Math.trunc(abs / 100)).replace(/\\B(?=(\\d{3})+(?!\\d))/g, ",");
  return sign + whole + "." + String(abs % 100).padStart(2, "0");
}
function toCents(text) {
  const match = /^\\s*(\\d{1,12})(?:\\.(\\d{1,2}))?\\s*$/.exec(text);
  if (!match) return null;
  return parseInt(match[1], 10) * 100 + parseInt((match[2] || "0").padEnd(2, "0"), 10);
}
function text(tag, value, cls) {
  const el = document.createElement(tag);
  el.textContent = value;
  if (cls) el.className = cls;
  return el;
}
async function api(path, options) {
  const opts = options || {};
  opts.headers = Object.assign({"Authorization": "Bearer " + token}, opts.headers || {});
  const response = await fetch(path, opts);
  let body = null;
  try { body = await response.json(); } catch (e) { body = null; }
  if (!response.ok) {
    const detail = body && (body.reason ? body.field + ": " + body.reason : body.detail);
    throw new Error(typeof detail === "string" ? detail : "HTTP " + response.status);
  }
  return body;
}
async function post(path, body) {
  const key = (crypto.randomUUID ? crypto.randomUUID() : String(Math.random()).slice(2));
  return api(path, {method: "POST", body: JSON.stringify(body),
                    headers: {"Content-Type": "application/json", "Idempotency-Key": key}});
}
function table(id, heads, rows) {
  const t = document.createElement("table");
  t.id = id;
  const head = t.insertRow();
  heads.forEach((h) => head.appendChild(text("th", h)));
  rows.forEach((cells) => {
    const row = t.insertRow();
    cells.forEach((cell) => {
      const td = row.insertCell();
      if (cell instanceof Node) td.appendChild(cell);
      else { td.textContent = cell.text !== undefined ? cell.text : cell;
             if (cell.cls) td.className = cell.cls; }
    });
  });
  return t;
}

async function load() {
  const app = $("app");
  app.replaceChildren();
  const me = await api("/api/me");
  $("login").hidden = true;
  const nav = $("nav");
  nav.replaceChildren(text("span", me.user_id + " (" + me.role + ", " + me.account_id + ")"));
  if (!me.billing) {
    app.appendChild(text("p", "Welcome. Billing is managed by your account's admins.",
                         "notice"));
    return;
  }
  const navLink = text("a", "Billing"); navLink.href = "#billing"; navLink.id = "nav-billing";
  nav.appendChild(navLink);
  const billing = document.createElement("section");
  billing.id = "billing";
  billing.appendChild(text("h2", "Billing"));
  const plans = document.createElement("section");
  plans.id = "plan-usage";
  plans.appendChild(text("h3", "Plan & Usage"));
  const bots = await api("/api/bots");
  plans.appendChild(table("bots-table", ["Bot", "Plan", "Status", "Balance (USD)", "Owner", ""],
    bots.map((bot) => {
      const name = document.createElement("span");
      name.textContent = bot.bot_id;
      if (bot.notices.length) {
        const icon = text("span", "", "info");
        icon.title = bot.notices.join("\\n");
        icon.setAttribute("aria-label", bot.notices.join("; "));
        icon.setAttribute("role", "img");
        icon.dataset.notices = bot.notices.join("\\n");
        name.appendChild(icon);
      }
      const manage = text("button", "Manage");
      manage.type = "button";
      manage.className = "manage";
      manage.dataset.bot = bot.bot_id;
      manage.addEventListener("click", () => openManage(bot.bot_id));
      return [name, bot.plan_id, bot.status, {text: cents(bot.balance_cents), cls: "money"},
              bot.owner_user_id, manage];
    })));
  billing.appendChild(plans);
  if (me.orders_and_invoices) {
    const orders = document.createElement("section");
    orders.id = "orders-invoices";
    orders.appendChild(text("h3", "Orders & Invoices"));
    const list = await api("/api/orders");
    orders.appendChild(table("orders-table",
      ["Order Id", "Bot", "Billing Date", "Cost (USD)", "Payment Method", "Payment Status"],
      list.map((o) => [o.order_id, o.bot_id, o.billing_date.slice(0, 10),
                       {text: cents(o.cost_cents), cls: "money"},
                       o.payment_method.replace("_", " "), o.payment_status])));
    const invoices = await api("/api/invoices");
    orders.appendChild(table("invoices-table",
      ["Invoice", "Period", "Status", "Total (USD)", "Download"],
      invoices.map((inv) => {
        const links = document.createElement("span");
        if (inv.downloadable) {
          ["pdf", "csv", "json"].forEach((fmt) => {
            const a = text("a", fmt.toUpperCase() + " ");
            a.href = "/api/invoices/" + encodeURIComponent(inv.invoice_id) +
                     "/download?format=" + fmt;
            a.className = "download-" + fmt;
            a.setAttribute("download", "");
            links.appendChild(a);
          });
        } else {
          links.textContent = "draft";
        }
        return [inv.invoice_id, inv.period, inv.status,
                {text: cents(inv.total_cents), cls: "money"}, links];
      })));
    billing.appendChild(orders);
  }
  app.appendChild(billing);
}

async function openManage(botId) {
  current = botId;
  const view = await api("/api/bots/" + encodeURIComponent(botId));
  $("manage-bot").textContent = botId;
  const quota = (n, q) => q === null ? String(n) : n + " of " + q + " included";
  const summary = $("manage-summary");
  summary.replaceChildren(
    text("p", "Current plan: " + view.bot.plan_id + " (" + view.bot.status + ")"),
    text("p", "This month (" + view.month + "): usage sessions " +
              quota(view.usage_sessions, view.included_usage_sessions) +
              ", alert sessions " + quota(view.alert_sessions, view.included_alert_sessions)),
    text("p", "Cost so far: USD " + cents(view.cost_so_far_cents)));
  if (view.trial_days_left !== null) {
    summary.appendChild(text("p", "Trial days left: " + view.trial_days_left));
  }
  view.bot.notices.forEach((n) => summary.appendChild(text("p", n, "notice")));
  const select = $("plan-select");
  select.replaceChildren(...view.plans.map((p) => {
    const o = text("option", p.plan_id + " (" + p.change + ", from " +
                             p.effective_at.slice(0, 10) + ")");
    o.value = p.plan_id;
    return o;
  }));
  const owners = $("owner-select");
  owners.replaceChildren(...view.account_users.map((u) => {
    const o = text("option", u); o.value = u; o.selected = u === view.bot.owner_user_id;
    return o;
  }));
  $("reload-enabled").checked = view.auto_reload_enabled;
  if (view.auto_reload_enabled) {
    $("reload-threshold").value = cents(view.auto_reload_threshold_cents).replace(/,/g, "");
    $("reload-amount").value = cents(view.auto_reload_amount_cents).replace(/,/g, "");
  }
  $("extension-section").hidden = view.bot.plan_id !== "trial";
  $("manage-message").textContent = "";
  if (!$("manage").open) $("manage").showModal();
}

async function act(doIt) {
  const message = $("manage-message");
  message.className = "";
  message.textContent = "";
  try {
    const answer = await doIt();
    message.className = "ok";
    message.textContent = "Accepted" + (answer.order_id ? ": order " + answer.order_id : "") +
      (answer.change ? ": " + answer.change + " effective " + answer.effective_at : "") +
      (answer.order_id ? "" : ", event " + answer.event_ids[0]);
  } catch (error) {
    message.className = "error";
    message.textContent = error.message;
  }
}
const path = (what) => "/api/bots/" + encodeURIComponent(current) + "/" + what;
$("change-plan").addEventListener("click", () => act(() =>
  post(path("plan"), {plan_id: $("plan-select").value})));
$("add-funds").addEventListener("click", () => act(() => {
  const amount = toCents($("funds-amount").value);
  if (amount === null) throw new Error("amount: write it like 100.00");
  return post(path("funds"), {amount_cents: amount, payment_method: $("funds-method").value});
}));
$("save-reload").addEventListener("click", () => act(() => {
  const threshold = toCents($("reload-threshold").value);
  const amount = toCents($("reload-amount").value);
  if (threshold === null || amount === null) throw new Error("amounts: write them like 100.00");
  return post(path("auto-reload"), {enabled: $("reload-enabled").checked,
                                    threshold_cents: threshold, amount_cents: amount});
}));
$("request-extension").addEventListener("click", () => act(() =>
  post(path("extensions"), {days: parseInt($("extension-days").value, 10)})));
$("change-owner").addEventListener("click", () => act(() =>
  post(path("owner"), {owner_user_id: $("owner-select").value})));
$("close-manage").addEventListener("click", () => { $("manage").close(); load(); });
$("login-button").addEventListener("click", () => {
  token = $("token").value.trim();
  sessionStorage.setItem("botbill_token", token);
  document.cookie = "botbill_token=" + encodeURIComponent(token) + "; path=/; SameSite=Strict";
  load().catch((error) => { $("login").hidden = false;
                            $("login-message").textContent = error.message; });
});
if (token) load().catch(() => { $("login").hidden = false; });
</script>
</body>
</html>
"""
