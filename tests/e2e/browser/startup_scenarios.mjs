// Editor start-up and errors in Debian's Chromium (playwright-core), one browser profile: a first visit that runs
// nothing (the background boot, its progress bar, the snapshot), a second visit (warm from the snapshot), Run, a
// requirements change, a failing program (gutter mark, frames that jump). Prints one JSON line of findings.
// usage: node startup_scenarios.mjs <config.json>
//   config: { playwright, url }
import { mkdtempSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import path from "node:path";

const config = JSON.parse(readFileSync(process.argv[2], "utf8"));
const { chromium } = createRequire(path.join(config.playwright, "package.json"))("playwright-core");
const ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
              "--disable-component-update", "--disable-sync"];
const found = { errors: [] };

const context = await chromium.launchPersistentContext(mkdtempSync(path.join(tmpdir(), "wasmfarm-startup-")), {
  executablePath: "/usr/bin/chromium", headless: true, args: ARGS, viewport: { width: 1280, height: 800 },
});
// What the progress bar shows, sampled every frame from the start of each page (a real observer, not the code's word).
await context.addInitScript(() => {
  window.progressSeen = [];
  const sample = () => {
    const bar = document.querySelector("#boot-progress");
    if (bar) {
      const last = window.progressSeen.at(-1);
      const now = { hidden: bar.hidden, value: bar.value, max: bar.max, position: bar.position };
      if (!last || JSON.stringify(last) !== JSON.stringify(now)) window.progressSeen.push(now);
    }
    requestAnimationFrame(sample);
  };
  requestAnimationFrame(sample);
});
const page = context.pages()[0] ?? (await context.newPage());
page.on("pageerror", (err) => found.errors.push(String(err)));
let runs = 0;
page.on("request", (request) => {
  if (request.method() === "POST" && request.url().endsWith("/lock")) found.locks = (found.locks ?? 0) + 1;
});

const status = () => page.locator("#status").textContent();
const output = () => page.locator("#output").innerText();
const waitStatus = (re, timeout = 120000) =>
  page.waitForFunction((source) => new RegExp(source).test(document.querySelector("#status").textContent),
                       re.source, { timeout });

async function scenario(name, fn) {
  try {
    found[name] = await fn();
  } catch (err) {
    found[name] = { error: String(err && err.message ? err.message : err) };
  }
}

// Clicks Run; ms from the click to `text` in the output, measured in the page.
async function runUntil(text) {
  runs += 1;
  const ms = await page.evaluate((wanted) => new Promise((resolve) => {
    const pane = document.querySelector("#output");
    const clicked = performance.now();
    const watch = new MutationObserver(() => {
      if (pane.textContent.includes(wanted)) {
        watch.disconnect();
        resolve(performance.now() - clicked);
      }
    });
    watch.observe(pane, { childList: true, subtree: true, characterData: true });
    document.querySelector("#run").click();
  }), text);
  await waitStatus(/^(done|failed)/);
  return ms;
}

const visit = async () => {
  await page.goto(config.url);
  await waitStatus(/^ready$/);
  await page.waitForFunction(() => window.progressSeen.at(-1)?.hidden === true); // sampled once more, hidden
  return {
    status: await status(),
    ready: await page.evaluate(() => window.wasmfarmReady),
    boot: await page.evaluate(() => window.wasmfarmBoot),
    progress: await page.evaluate(() => window.progressSeen),
    hiddenNow: await page.locator("#boot-progress").isHidden(),
    label: await page.getAttribute("#boot-progress", "aria-label"),
    runsSoFar: runs,
  };
};

await scenario("firstVisit", async () => {
  const first = await visit(); // nothing clicked, nothing run
  await page.waitForFunction(() => ["stored", "kept", "failed"].includes(window.wasmfarmSnapshot), null,
                             { timeout: 120000 });
  return { ...first, snapshot: await page.evaluate(() => window.wasmfarmSnapshot) };
});

await scenario("secondVisit", () => visit());

await scenario("run", async () => {
  const ms = await runUntil("Hello from Pyodide");
  return { ms, status: await status(), output: await output() };
});

await scenario("relock", async () => {
  await page.fill("#requirements", "msgpack");
  await page.waitForFunction(() => document.querySelector("#status").textContent !== "ready" ||
                             !document.querySelector("#boot-progress").hidden, null, { timeout: 10000 });
  await waitStatus(/^ready$/);
  await page.evaluate(() => window.wasmfarm.setCode("import msgpack\nprint('packed', len(msgpack.packb([1, 2])))\n"));
  const ms = await runUntil("packed");
  return { ms, status: await status(), output: await output(), boot: await page.evaluate(() => window.wasmfarmBoot) };
});

const marks = () => page.evaluate(() => ({
  tab: document.querySelector(".tab.active")?.textContent,
  errorLines: [...document.querySelectorAll(".cm-error-line")].map((line) => line.textContent),
  markers: [...document.querySelectorAll(".cm-error-gutter .cm-error-marker")].map((m) => m.title),
  cursorLine: document.querySelector(".cm-lineNumbers .cm-activeLineGutter")?.textContent,
}));

await scenario("failing", async () => {
  await page.fill("#requirements", "");
  page.once("dialog", (dialog) => dialog.accept("helpers.py"));
  await page.click("#add-file");
  await page.waitForFunction(() => document.querySelector(".tab.active")?.textContent === "helpers.py");
  await page.evaluate(() => window.wasmfarm.setCode("def boom(x):\n    y = x + 1\n    return 1 / x\n"));
  await page.click(".tab >> text=main.py");
  await page.evaluate(() => window.wasmfarm.setCode("from helpers import boom\n\nprint('before')\nboom(0)\n"));
  await runUntil("ZeroDivisionError");
  const marked = await marks();
  const frames = await page.locator("#output .out-frame").allTextContents();
  await page.click('#output .out-frame >> text=main.py');
  const jumped = await marks();
  await page.click('#output .out-frame >> text=helpers.py');
  const back = await marks();
  await page.keyboard.type("# edited ");
  const edited = await marks();
  return { status: await status(), output: await output(), marked, frames, jumped, back, edited };
});

await context.close();
process.stdout.write(JSON.stringify(found) + "\n");
