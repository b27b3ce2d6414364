// Open a client's site (JupyterLite, PyScript) in Debian's Chromium and wait until the page shows a marker text;
// report every request the page, its workers and service workers made, and what the page showed.
//
// usage: node client_site.mjs <config.json>
//   config: { playwright: <path to playwright-core>, url, marker: <text to wait for>, failMarker?: <text that ends
//             the wait as a failure>, timeoutMs, allowedHosts: ["127.0.0.1:PORT", ...], screenshot?: <png path> }
// Host names other than 127.0.0.1 do not resolve in this browser (--host-resolver-rules), so a page that needs
// another origin cannot work by accident; every attempt is still reported in requests.
// Output: one JSON line { requests: [urls], failed: [urls], console: [messages], text, seconds, error }
import { readFileSync, mkdtempSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import path from "node:path";

const config = JSON.parse(readFileSync(process.argv[2], "utf8"));
const { chromium } = createRequire(path.join(config.playwright, "package.json"))("playwright-core");
const out = { requests: [], failed: [], console: [] };
const started = Date.now();
const context = await chromium.launchPersistentContext(mkdtempSync(path.join(tmpdir(), "wasmfarm-chromium-")), {
  executablePath: "/usr/bin/chromium",
  headless: true,
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"],
});
const seen = new Set();
const record = (request) => {
  const key = `${request.method()} ${request.url()}`;
  if (!seen.has(key)) { seen.add(key); out.requests.push(request.url()); }
};
context.on("request", record);  // pages and service workers
context.on("requestfailed", (request) => out.failed.push(`${request.url()} (${request.failure()?.errorText})`));
try {
  const page = context.pages()[0] ?? (await context.newPage());
  page.on("request", record);  // dedicated workers (the kernel's, PyScript's) report through their page
  page.on("console", (message) => out.console.push(`${message.type()}: ${message.text()}`));
  page.on("pageerror", (error) => out.console.push(`pageerror: ${error.message}`));
  await page.goto(config.url);
  const marker = config.marker;
  const failMarker = config.failMarker ?? "\u0000never";
  await page.waitForFunction(
    ([m, f]) => document.body && (document.body.innerText.includes(m) || document.body.innerText.includes(f)),
    [marker, failMarker],
    { timeout: config.timeoutMs ?? 120000, polling: 250 },
  );
  out.seconds = (Date.now() - started) / 1000;
  await page.waitForTimeout(300);  // let late requests (if any) show up
  out.text = await page.evaluate(() => document.body.innerText);
  if (config.screenshot) await page.screenshot({ path: config.screenshot });
} catch (err) {
  out.error = String(err && err.message ? err.message : err);
  try {
    const page = context.pages()[0];
    out.text = page ? await page.evaluate(() => document.body && document.body.innerText) : null;
    if (config.screenshot && page) await page.screenshot({ path: config.screenshot });
  } catch {}
} finally {
  await context.close();
}
process.stdout.write(JSON.stringify(out) + "\n");
