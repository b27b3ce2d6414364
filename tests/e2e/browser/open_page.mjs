// Open a page in Debian's Chromium with playwright-core; report what it computed and every request it made.
//
// usage: node open_page.mjs <config.json>
//   config: { playwright: <path to playwright-core>, url, timeoutMs, tamperLock?: <package name>,
//             screenshot?: <png path>, acceptEncoding?: <header value> }
// tamperLock rewrites that package's sha256 in every pyodide-lock.json the page fetches (the SRI check must catch it).
// Output: one JSON line { result, requests: [urls], console: [messages], bytes: <transferred>, error }
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";

const config = JSON.parse(readFileSync(process.argv[2], "utf8"));
const { chromium } = createRequire(path.join(config.playwright, "package.json"))("playwright-core");
const out = { requests: [], console: [] };
const context = await chromium.launchPersistentContext(mkdtempSync(path.join(tmpdir(), "wasmfarm-chromium-")), {
  executablePath: "/usr/bin/chromium",
  headless: true,
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync"],
});
try {
  const page = context.pages()[0] ?? (await context.newPage());
  page.on("request", (request) => out.requests.push(request.url()));
  page.on("console", (message) => out.console.push(`${message.type()}: ${message.text()}`));
  if (config.acceptEncoding) await page.setExtraHTTPHeaders({ "Accept-Encoding": config.acceptEncoding });
  out.bytes = 0;
  page.on("requestfinished", async (request) => {
    const sizes = await request.sizes().catch(() => null);
    if (sizes) out.bytes += sizes.responseBodySize + sizes.responseHeadersSize;
  });
  if (config.tamperLock) {
    await page.route("**/pyodide-lock.json", async (route) => {
      const response = await route.fetch();
      const lock = await response.json();
      lock.packages[config.tamperLock].sha256 = "0".repeat(64);
      await route.fulfill({ response, json: lock });
    });
  }
  await page.goto(config.url);
  await page.waitForFunction(() => window.wasmfarmResult !== undefined, null, { timeout: config.timeoutMs ?? 120000 });
  out.result = await page.evaluate(() => window.wasmfarmResult);
  await page.waitForTimeout(200);  // let the last requestfinished events report their sizes
  if (config.screenshot) await page.screenshot({ path: config.screenshot });
} catch (err) {
  out.error = String(err && err.message ? err.message : err);
} finally {
  await context.close();
}
process.stdout.write(JSON.stringify(out) + "\n");
