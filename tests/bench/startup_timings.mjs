// Start-up timings in Debian's Chromium for the editor benchmark (issue 14). Prints one JSON line.
// usage: node startup_timings.mjs <config.json>
//   config: { playwright, editorUrl, smokeUrl, rounds }
// Each round, in the order bare/editor on even rounds and editor/bare on odd ones, each in a fresh profile:
// - bare: the smoke page (Pyodide booted on the page from this server, then print(1)): navigation to done;
// - first: the editor opened with nothing to run: navigation to "ready" (background boot: lock, worker, Pyodide);
// - second: once the first visit's snapshot is stored, the editor again in the same profile: navigation to "ready".
//   The first visit ran nothing.
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import path from "node:path";

const config = JSON.parse(readFileSync(process.argv[2], "utf8"));
const { chromium } = createRequire(path.join(config.playwright, "package.json"))("playwright-core");
const ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
              "--disable-component-update", "--disable-sync"];
const TIMEOUT = { timeout: 180000 };

async function profile() {
  const dir = mkdtempSync(path.join(tmpdir(), "wasmfarm-startbench-"));
  const context = await chromium.launchPersistentContext(dir, {
    executablePath: "/usr/bin/chromium", headless: true, args: ARGS });
  const page = context.pages()[0] ?? (await context.newPage());
  return { page, close: async () => { await context.close(); rmSync(dir, { recursive: true, force: true }); } };
}

async function bare() {
  const { page, close } = await profile();
  await page.goto(config.smokeUrl);
  await page.waitForFunction(() => window.wasmfarmResult !== undefined, null, TIMEOUT);
  const result = await page.evaluate(() => window.wasmfarmResult);
  await close();
  if (!result.ok) throw new Error(`smoke page: ${JSON.stringify(result)}`);
  return { bare: result.sinceNavigation };
}

async function editorVisit(page) {
  await page.goto(config.editorUrl);
  await page.waitForFunction(() => window.wasmfarmReady !== undefined, null, TIMEOUT);
  return page.evaluate(() => ({ ready: window.wasmfarmReady, boot: window.wasmfarmBoot }));
}

async function editor() {
  const { page, close } = await profile();
  const first = await editorVisit(page);
  await page.waitForFunction(() => ["stored", "kept", "failed"].includes(window.wasmfarmSnapshot), null, TIMEOUT);
  const snapshot = await page.evaluate(() => window.wasmfarmSnapshot);
  await page.evaluate(() => navigator.serviceWorker.ready);
  await page.waitForTimeout(2000); // the service worker's precache (from the HTTP cache) settles
  await page.goto("about:blank");
  const second = await editorVisit(page);
  await close();
  if (first.boot.fromSnapshot || !second.boot.fromSnapshot) {
    throw new Error(`expected a cold then a warm boot, got ${JSON.stringify({ first, second, snapshot })}`);
  }
  return { first: first.ready, second: second.ready };
}

const result = { bare: [], first: [], second: [] };
for (let round = 0; round < config.rounds; round++) {
  const order = round % 2 === 0 ? [bare, editor] : [editor, bare];
  for (const measure of order) {
    for (const [key, ms] of Object.entries(await measure())) result[key].push(ms);
  }
}
process.stdout.write(JSON.stringify(result) + "\n");
