// The scientific stack in the editor, in Debian's Chromium (playwright-core): a program that requires pandas and
// contourpy (built by this farm, locked and installed from the mirror) shows a DataFrame through its _repr_html_
// and prints contour figures. Prints one JSON line of findings.
// usage: node stack_scenarios.mjs <config.json>
//   config: { playwright, url, code, requirements, artifacts }
import { readFileSync } from "node:fs";
import path from "node:path";

import { openChromium } from "./chromium.mjs";

const config = JSON.parse(readFileSync(process.argv[2], "utf8"));
const found = { requests: [], errors: [] };
const { context, page } = await openChromium(config, found, { profile: "wasmfarm-stack-" });

try {
  await page.goto(`${config.url}editor`);
  await page.waitForFunction(() => window.wasmfarm !== undefined && document.body.dataset.status === "ready",
                             null, { timeout: 120000 });
  await page.fill("#requirements", config.requirements);
  await page.evaluate((code) => window.wasmfarm.setCode(code), config.code);
  await page.evaluate(() => { document.querySelector("#status").textContent = "queued"; });
  await page.click("#run");
  await page.waitForFunction(() => /^(done|failed|stopped)/.test(document.querySelector("#status").textContent),
                             null, { timeout: 300000 });
  found.status = await page.locator("#status").textContent();
  found.output = await page.locator("#output").innerText();
  const frame = page.frameLocator("#output iframe.out-html");
  found.header = await frame.locator("table.dataframe thead th").allTextContents();
  found.cells = await frame.locator("table.dataframe tbody td").allTextContents();
  await page.screenshot({ path: path.join(config.artifacts, "editor-dataframe.png"), fullPage: true });
} catch (err) {
  found.error = String(err && err.message ? err.message : err);
}
await context.close();
process.stdout.write(JSON.stringify(found) + "\n");
