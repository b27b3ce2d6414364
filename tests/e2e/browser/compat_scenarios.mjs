// The /compat pages in Debian's Chromium (playwright-core): search with completion, open a project, build it from
// the page and follow the build to "works", then "try it" in the editor; an admin's scan of a list from the summary.
// Prints one JSON line of findings.
// usage: node compat_scenarios.mjs <config.json>
//   config: { playwright, url, project, token, adminToken, scanList, artifacts, buildTimeoutMs }
import { readFileSync } from "node:fs";
import path from "node:path";

import { openChromium } from "./chromium.mjs";

const config = JSON.parse(readFileSync(process.argv[2], "utf8"));
const found = { requests: [], errors: [] };
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const { context, page } = await openChromium(config, found, { profile: "wasmfarm-compat-" });

// The project page's state, read whenever the page is there (it reloads itself when a task ends).
async function projectState() {
  try {
    return await page.evaluate(() => ({
      status: document.querySelector("section.runtime .status")?.textContent ?? null,
      reason: document.querySelector("section.runtime .reason")?.textContent ?? null,
      task: document.querySelector("section.runtime .task")?.textContent ?? "",
      build: document.querySelector("section.runtime .build-live")?.textContent ?? "",
    }));
  } catch {
    return null; // navigating
  }
}

async function scenario(name, fn) {
  try {
    found[name] = await fn();
  } catch (err) {
    found[name] = { error: String(err && err.message ? err.message : err) };
  }
}

await scenario("search", async () => {
  await page.goto(`${config.url}compat`);
  const prefix = config.project.slice(0, 2);
  await page.fill("#search-box", prefix);
  await page.waitForSelector(`#suggestions option[value="${config.project}"]`, { state: "attached", timeout: 10000 });
  const suggestions = await page.$$eval("#suggestions option", (options) => options.map((o) => o.value));
  const counts = await page.locator("#counts").innerText();
  await page.fill("#search-box", config.project);
  await Promise.all([page.waitForURL(`**/compat/${config.project}`), page.press("#search-box", "Enter")]);
  return { prefix, suggestions, counts, url: page.url() };
});

await scenario("build", async () => {
  const before = await projectState();
  await page.fill("#token", config.token);
  await page.click("section.runtime button.action[data-kind='build']");
  const seen = [];
  const deadline = Date.now() + config.buildTimeoutMs;
  let state = null;
  while (Date.now() < deadline) {
    state = await projectState();
    if (state) {
      for (const line of [state.task, state.build]) if (line && !seen.includes(line)) seen.push(line);
      if (state.status === "works") break;
      if (/failed/.test(state.task)) break;
    }
    await sleep(1000);
  }
  await page.screenshot({ path: path.join(config.artifacts, "compat-project.png"), fullPage: true });
  return { before, seen, after: state, tryIt: await page.getAttribute("a.try-it", "href") };
});

await scenario("tryIt", async () => {
  await page.click("a.try-it");
  await page.waitForFunction(() => /^(done|failed|stopped)/.test(document.querySelector("#status")?.textContent ?? ""),
                             null, { timeout: 180000 });
  return {
    url: page.url(),
    status: await page.locator("#status").textContent(),
    requirements: await page.inputValue("#requirements"),
    output: await page.locator("#output").innerText(),
  };
});

await scenario("unlockable", async () => {
  await page.fill("#requirements", "no-such-thing-here");
  await page.evaluate(() => { document.querySelector("#status").textContent = "queued"; });
  await page.click("#run");
  await page.waitForFunction(() => /^(done|failed)/.test(document.querySelector("#status").textContent), null,
                             { timeout: 60000 });
  return {
    output: await page.locator("#output").innerText(),
    links: await page.$$eval("#output a", (links) => links.map((a) => a.href)),
  };
});

// An admin's scan of a list from the summary page: the page follows the scan's task (a job) and reloads when it ends.
await scenario("scan", async () => {
  await page.goto(`${config.url}compat`);
  await page.click("#scan summary");
  await page.fill("#scan-list", config.scanList);
  await page.fill("#scan-token", config.adminToken);
  const reloaded = page.waitForEvent("load", { timeout: 300000 });
  const [response] = await Promise.all([
    page.waitForResponse((r) => r.url().endsWith("/compat/-/scan") && r.request().method() === "POST"),
    page.click("#scan-start"),
  ]);
  const started = await response.json();
  await reloaded;
  const task = await page.evaluate(async (url) => (await fetch(url)).json(), started.url);
  await page.screenshot({ path: path.join(config.artifacts, "compat-scanned.png"), fullPage: true });
  return {
    status: response.status(),
    task: { state: task.state, progress: task.progress, counts: task.counts, kind: task.kind },
    counts: await page.locator("#counts").innerText(),
  };
});

await context.close();
process.stdout.write(JSON.stringify(found) + "\n");
