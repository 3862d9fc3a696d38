// The controller's console in a real browser (tests/integration/test_console_browser.py):
// Debian's chromium driven by puppeteer-core (pinned in package.json). Logs in with the
// admin token, reads what the page shows, takes screenshots (desktop and phone width),
// pauses the experiment through the page's own button and dialog, logs out, logs in with
// the viewer token and tries to change something. Prints one JSON object on the last line.
//
//   node console_browser.mjs --url URL --admin-token T --viewer-token T --experiment NAME
//        --chromium /usr/bin/chromium --screenshot-dir DIR
import { createRequire } from "node:module";
import path from "node:path";
import puppeteer from "puppeteer-core";

const require = createRequire(import.meta.url);
const args = {};
for (let i = 2; i < process.argv.length; i += 2) args[process.argv[i].replace(/^--/, "")] = process.argv[i + 1];
const out = { puppeteer_version: require("puppeteer-core/package.json").version, steps: [] };
const step = (name, data) => { out.steps.push(name); if (data !== undefined) out[name] = data; };
const text = (page, sel) => page.$eval(sel, (e) => e.textContent.trim());

async function waitText(page, sel, want, timeout = 20000) {
  await page.waitForFunction((s, w) => {
    const e = document.querySelector(s);
    return e && e.textContent.trim() === w;
  }, { timeout, polling: 200 }, sel, want);
}

async function login(page, token) {
  await page.waitForSelector("#login-form", { visible: true });
  await page.type("#token", token);
  await Promise.all([
    page.waitForResponse((r) => r.url().endsWith("/console/login")),
    page.click("#login-button"),
  ]);
  await page.waitForSelector("#exp-status", { visible: true, timeout: 20000 });
}

// What the page shows for the experiment: phase, routed share, and per task type the arms.
async function readPage(page) {
  return page.evaluate(() => {
    const t = (sel) => { const e = document.querySelector(sel); return e ? e.textContent.trim() : null; };
    const tasks = {};
    for (const card of document.querySelectorAll(".task[data-task]")) {
      const arm = (name) => {
        const row = card.querySelector(`tr[data-arm="${name}"]`);
        return row ? [...row.querySelectorAll("td")].map((td) => td.textContent.trim()) : null;
      };
      tasks[card.dataset.task] = {
        control: arm("control"), routed: arm("routed"),
        guardrails: [...card.querySelectorAll("svg.guardrail")].map((s) => `${s.dataset.metric}:${s.dataset.status}`),
        srm: t(`.task[data-task="${card.dataset.task}"] .check.srm`),
        balance: t(`.task[data-task="${card.dataset.task}"] .check.balance`),
      };
    }
    return {
      name: t("#exp-name"), status: t("#exp-status"), phase: t("#exp-phase"), routed: t("#exp-routed"),
      who: t("#who"), tasks, savings: t("#savings-pct"), timeline_rects: document.querySelectorAll("#timeline rect").length,
      decisions: document.querySelectorAll("#decisions tbody tr").length,
      overflow: document.documentElement.scrollWidth - window.innerWidth,
    };
  });
}

async function main() {
  const browser = await puppeteer.launch({
    executablePath: args.chromium, headless: true,
    args: ["--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--no-first-run"],
  });
  out.browser_version = await browser.version();
  try {
    const page = await browser.newPage();
    const errors = [];
    page.on("pageerror", (e) => errors.push(String(e)));
    page.on("console", (m) => { if (m.type() === "error" && !/401|403/.test(m.text())) errors.push(m.text()); });
    await page.setViewport({ width: 1280, height: 900 });

    // 1. the page without a session: 401, a login form, nothing else
    const first = await page.goto(args.url, { waitUntil: "domcontentloaded" });
    step("first_status", first.status());
    await page.waitForSelector("#login-form", { visible: true });
    step("login_form_only", await page.evaluate(() => document.getElementById("app").hidden && !document.getElementById("login").hidden));

    // 2. a wrong token is refused on the page
    await page.type("#token", "not-the-token-not-the-token");
    await page.click("#login-button");
    await page.waitForFunction(() => document.getElementById("login-error").textContent.length > 0);
    step("wrong_token_message", await text(page, "#login-error"));
    await page.$eval("#token", (e) => { e.value = ""; });

    // 3. admin: the running experiment, its phase and arms
    await login(page, args["admin-token"]);
    await page.waitForFunction(() => document.querySelectorAll('.task[data-task] tr[data-arm="routed"] td.samples').length > 0 &&
      [...document.querySelectorAll('tr[data-arm="routed"] td.samples')].some((td) => td.textContent.trim() !== "0" && td.textContent.trim() !== "–"), { timeout: 30000, polling: 250 });
    const admin = await readPage(page);
    step("admin_view", admin);
    const cookies = await browser.cookies ? await browser.cookies() : await page.cookies();
    step("cookie", cookies.filter((c) => c.name === "sy_console").map((c) => ({ httpOnly: c.httpOnly, sameSite: c.sameSite, path: c.path, secure: c.secure }))[0] || null);
    step("document_cookie", await page.evaluate(() => document.cookie));

    // 4. screenshots: desktop, then a phone's width
    const dir = args["screenshot-dir"];
    await page.screenshot({ path: path.join(dir, "console.png"), fullPage: true });
    await page.setViewport({ width: 390, height: 844, isMobile: true, hasTouch: true, deviceScaleFactor: 2 });
    await new Promise((r) => setTimeout(r, 300));
    step("phone_overflow_px", await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth));
    await page.screenshot({ path: path.join(dir, "console-phone.png"), fullPage: false });
    await page.setViewport({ width: 1280, height: 900 }); // (isMobile changed: it reloads)
    await page.waitForSelector('#summary button[data-action="pause"]:not([disabled])', { visible: true, timeout: 20000 });

    // 5. pause through the page: button, dialog with a reason, the decision shown
    await page.click('#summary button[data-action="pause"]');
    await page.waitForSelector("#confirm[open]", { visible: true });
    // the reason is required: confirming without one keeps the dialog open
    await page.click("#confirm-ok");
    step("dialog_needs_reason", await page.$eval("#confirm", (d) => d.open));
    await page.type("#confirm-reason", "paused from the browser test");
    await page.click("#confirm-ok");
    await page.waitForSelector('#notice[data-action="pause"]', { timeout: 20000 });
    step("notice", await text(page, "#notice"));
    await waitText(page, "#exp-status", "paused");
    step("status_after_pause", await text(page, "#exp-status"));

    // 6. log out: back to the login form, the session gone
    await page.click("#logout");
    await page.waitForSelector("#login-form", { visible: true });
    step("after_logout", await page.evaluate(async () => (await fetch("console/session")).status));

    // 7. viewer: sees the same page, cannot change anything
    await login(page, args["viewer-token"]);
    await waitText(page, "#exp-status", "paused");
    const viewer = await readPage(page);
    step("viewer_view", viewer);
    step("viewer_buttons_disabled", await page.$$eval("button[data-action]", (bs) => bs.length > 0 && bs.every((b) => b.disabled)));
    step("viewer_post", await page.evaluate(async (name) => {
      const s = await (await fetch("console/session")).json();
      const r = await fetch(`admin/experiments/${encodeURIComponent(name)}/resume`, {
        method: "POST", headers: { "Content-Type": "application/json", "X-CSRF-Token": s.csrf_token },
        body: JSON.stringify({ reason: "viewer tries" }),
      });
      return { status: r.status, code: (await r.json()).error.code, role: s.role };
    }, args.experiment));
    await page.screenshot({ path: path.join(dir, "console-viewer.png"), fullPage: false });
    step("page_errors", errors);
  } finally {
    await browser.close();
  }
}

main().then(() => { console.log(JSON.stringify(out)); }, (e) => {
  out.error = String(e && e.stack ? e.stack : e);
  console.log(JSON.stringify(out));
  process.exit(1);
});
