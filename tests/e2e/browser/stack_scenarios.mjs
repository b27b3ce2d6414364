// The scientific stack in the editor, in Debian's Chromium (playwright-core): a program that requires pandas,
// contourpy and matplotlib (built by this farm, locked and installed from the mirror) shows a DataFrame through its
// _repr_html_, prints contour figures and shows a bar chart (plt.show: a PNG image), whose pixels are read back
// through a canvas. Prints one JSON line of findings.
// usage: node stack_scenarios.mjs <config.json>
//   config: { playwright, url, code, requirements, artifacts, bar_rgb: [r, g, b] }
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
  found.figure = await page.locator("#output img.out-image").first().evaluate(async (img, rgb) => {
    await img.decode();
    const canvas = Object.assign(document.createElement("canvas"), { width: img.naturalWidth, height: img.naturalHeight });
    const context = canvas.getContext("2d");
    context.drawImage(img, 0, 0);
    const { data } = context.getImageData(0, 0, canvas.width, canvas.height);
    const near = (i) => [0, 1, 2].every((c) => Math.abs(data[i + c] - rgb[c]) <= 8);
    let barPixels = 0;
    const columns = new Array(canvas.width).fill(false);
    for (let i = 0; i < data.length; i += 4) {
      if (near(i)) { barPixels += 1; columns[(i / 4) % canvas.width] = true; }
    }
    const runs = columns.filter((on, x) => on && !columns[x - 1]).length;  // separate bars, left to right
    return { width: canvas.width, height: canvas.height, bar_pixels: barPixels, bar_columns: runs,
             src: img.src.slice(0, 22) };
  }, config.bar_rgb);
  await page.screenshot({ path: path.join(config.artifacts, "editor-dataframe.png"), fullPage: true });
} catch (err) {
  found.error = String(err && err.message ? err.message : err);
}
await context.close();
process.stdout.write(JSON.stringify(found) + "\n");
