// Timings in Debian's Chromium for the editor benchmark. Prints one JSON line.
// usage: node browser_timings.mjs <config.json>
//   config: { playwright, editorUrl, smokeUrl, rounds }
// For each round: a fresh profile opens the smoke page (bare Pyodide boot + one print) and, in another fresh profile,
// the editor with a share link that prints (cold), then the same link again in that profile (service worker warm).
import { mkdtempSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import path from "node:path";

const config = JSON.parse(readFileSync(process.argv[2], "utf8"));
const { chromium } = createRequire(path.join(config.playwright, "package.json"))("playwright-core");
const ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
              "--disable-component-update", "--disable-sync"];

async function profile() {
  const context = await chromium.launchPersistentContext(mkdtempSync(path.join(tmpdir(), "wasmfarm-bench-")), {
    executablePath: "/usr/bin/chromium", headless: true, args: ARGS });
  return { context, page: context.pages()[0] ?? (await context.newPage()) };
}

const result = { bare: [], cold: [], warm: [] };
for (let round = 0; round < config.rounds; round++) {
  const bare = await profile();
  await bare.page.goto(config.smokeUrl);
  await bare.page.waitForFunction(() => window.wasmfarmResult !== undefined, null, { timeout: 120000 });
  result.bare.push(await bare.page.evaluate(() => window.wasmfarmResult.sinceNavigation));
  await bare.context.close();

  const editor = await profile();
  await editor.page.goto(config.editorUrl);
  await editor.page.waitForFunction(() => window.wasmfarmFirstOutput !== undefined, null, { timeout: 120000 });
  result.cold.push(await editor.page.evaluate(() => window.wasmfarmFirstOutput));
  await editor.page.evaluate(() => navigator.serviceWorker.ready);
  await editor.page.waitForTimeout(5000); // let the service worker precache and the snapshot be stored
  await editor.page.goto("about:blank");
  await editor.page.goto(config.editorUrl);
  await editor.page.waitForFunction(() => window.wasmfarmFirstOutput !== undefined, null, { timeout: 120000 });
  result.warm.push(await editor.page.evaluate(() => window.wasmfarmFirstOutput));
  await editor.context.close();
}
process.stdout.write(JSON.stringify(result) + "\n");
