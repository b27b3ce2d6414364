// Stop timings in Debian's Chromium for the editor benchmark. Prints one JSON line.
// usage: node stop_timings.mjs <config.json>
//   config: { playwright, editorUrl, rounds }
// One page: each round runs a busy loop, clicks Stop after 300 ms and takes the time, in the page, from the click to
// Run being enabled again (the prompt is back, KeyboardInterrupt shown); and, as the reference, from clicking Run on
// `pass` to the same point (the editor's own round trip for a program that does nothing).
import { mkdtempSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import path from "node:path";

const config = JSON.parse(readFileSync(process.argv[2], "utf8"));
const { chromium } = createRequire(path.join(config.playwright, "package.json"))("playwright-core");
const ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
              "--disable-component-update", "--disable-sync"];

const context = await chromium.launchPersistentContext(mkdtempSync(path.join(tmpdir(), "wasmfarm-bench-")), {
  executablePath: "/usr/bin/chromium", headless: true, args: ARGS });
const page = context.pages()[0] ?? (await context.newPage());
await page.goto(config.editorUrl);
await page.waitForFunction(() => window.wasmfarm !== undefined && document.body.dataset.status === "ready");

// Clicks `button`; ms until Run is enabled again, measured in the page.
const untilPromptBack = (button) => page.evaluate((id) => new Promise((resolve) => {
  const run = document.querySelector("#run");
  const clicked = performance.now();
  const watch = new MutationObserver(() => {
    if (!run.disabled) {
      watch.disconnect();
      resolve(performance.now() - clicked);
    }
  });
  watch.observe(run, { attributes: true });
  document.querySelector(id).click();
}), button);

const setCode = (code) => page.evaluate((c) => window.wasmfarm.setCode(c), code);
const result = { stop: [], trivial: [] };
await setCode("pass\n");
await untilPromptBack("#run"); // boots the interpreter: not timed
for (let round = 0; round < config.rounds; round++) {
  await setCode("n = 0\nwhile True:\n    n += 1\n");
  await page.click("#run");
  await page.waitForFunction(() => document.querySelector("#status").textContent.startsWith("running"));
  await page.waitForTimeout(300);
  result.stop.push(await untilPromptBack("#stop"));
  const status = await page.locator("#status").textContent();
  if (!status.startsWith("stopped: KeyboardInterrupt")) throw new Error(`Stop did not interrupt: ${status}`);
  await setCode("pass\n");
  result.trivial.push(await untilPromptBack("#run"));
}
await context.close();
process.stdout.write(JSON.stringify(result) + "\n");
