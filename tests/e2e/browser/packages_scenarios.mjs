// Packages from the editor, in Debian's Chromium (playwright-core), one page: the requirements box completes a
// mirrored name; imports of mirrored modules are offered as requirements, a click adds one, and the run works; a
// requirement the mirror cannot serve shows the server's explanation and, per project, its compat verdict linked.
// Prints one JSON line of findings.
// usage: node packages_scenarios.mjs <config.json>
//   config: { playwright, url: <server base URL, ends with "/">, axe: <axe.min.js path>, code: <main.py importing
//             mirrored modules>, files: {<other files of the program>}, missing: [<requirement lines>],
//             unchecked: [<requirement lines>], upstream: [<requirement lines>] }
import { mkdtempSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import path from "node:path";

const config = JSON.parse(readFileSync(process.argv[2], "utf8"));
const { chromium } = createRequire(path.join(config.playwright, "package.json"))("playwright-core");
const ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
              "--disable-component-update", "--disable-sync"];
const found = { errors: [] };

async function scenario(name, fn) {
  try {
    found[name] = await fn();
  } catch (err) {
    found[name] = { error: String(err && err.message ? err.message : err) };
  }
}

const context = await chromium.launchPersistentContext(mkdtempSync(path.join(tmpdir(), "wasmfarm-packages-")), {
  executablePath: "/usr/bin/chromium", headless: true, args: ARGS, viewport: { width: 1280, height: 800 },
});
const page = context.pages()[0] ?? (await context.newPage());
page.on("pageerror", (err) => found.errors.push(String(err)));
const asked = [];
page.on("request", (request) => request.url().includes("/-/") && asked.push(new URL(request.url()).pathname));
const done = () => page.waitForFunction(
  () => /^(done|failed|stopped)/.test(document.querySelector("#status").textContent), null, { timeout: 180000 });
const requirements = () => page.inputValue("#requirements");

try {
  await page.goto(`${config.url}editor`);
  await page.waitForFunction(() => window.wasmfarm !== undefined && /^ready/.test(document.querySelector("#status").textContent));

  await scenario("completion", async () => {
    await page.fill("#requirements", "");
    await page.focus("#requirements");
    await page.keyboard.type("col");
    await page.waitForSelector("#requirement-options [role=option]", { timeout: 15000 });
    const options = await page.$$eval("#requirement-options [role=option]", (items) => items.map((i) => i.dataset.name));
    const box = await page.$eval("#requirements", (b) => ({ autocomplete: b.getAttribute("aria-autocomplete"),
                                                          controls: b.getAttribute("aria-controls") }));
    await page.keyboard.press("ArrowDown");
    const active = await page.$eval("#requirements", (b) => {
      const id = b.getAttribute("aria-activedescendant");
      return { id, name: id && document.getElementById(id)?.dataset.name,
               selected: id && document.getElementById(id)?.getAttribute("aria-selected") };
    });
    await page.keyboard.press("Enter");
    const value = await requirements();
    const listHidden = await page.$eval("#requirement-options", (l) => l.hidden);
    await page.keyboard.type(">=2"); // a version after the name: nothing to complete
    await page.waitForTimeout(500);
    const hiddenInVersion = await page.$eval("#requirement-options", (l) => l.hidden);
    return { options, box, active, value, listHidden, hiddenInVersion, afterVersion: await requirements() };
  });

  await scenario("imports", async () => {
    await page.fill("#requirements", "");
    await page.dispatchEvent("#requirements", "input");
    await page.evaluate(({ code, files }) => {
      Object.assign(window.wasmfarm.state.files, files); // the program's other files (imports of them need nothing)
      window.wasmfarm.setCode(code);
    }, config);
    await page.waitForFunction(() => document.querySelectorAll("#import-offers button").length >= 2, null,
                               { timeout: 15000 });
    const offered = await page.$$eval("#import-offers button", (bs) => bs.map((b) => b.dataset.project));
    const labels = await page.$$eval("#import-offers button", (bs) => bs.map((b) => b.textContent));
    for (const project of offered) {
      await page.click(`#import-offers button[data-project="${project}"]`);
    }
    await page.waitForFunction(() => document.querySelector("#import-offers").hidden, null, { timeout: 15000 });
    const added = await requirements();
    await page.click("#run");
    await done();
    return { offered, labels, added, status: await page.locator("#status").textContent(),
             output: await page.locator("#output").innerText(), saved: await page.evaluate(() => window.wasmfarm.state.requirements) };
  });

  // A requirement the mirror cannot serve: the run fails with the server's explanation, and a line per project it
  // names, linked to its compat page, with the verdict's words once the page's JSON has come.
  async function unservable(lines) {
    await page.fill("#requirements", lines.join("\n"));
    await page.dispatchEvent("#requirements", "input");
    await page.click("#run");
    await page.waitForFunction(() => document.querySelector("#status").textContent === "failed" &&
      document.querySelectorAll(".out-compat-project").length > 0 &&
      [...document.querySelectorAll(".out-compat-project")].every((l) => l.dataset.status), null, { timeout: 60000 });
    const projects = await page.$$eval(".out-compat-project", (items) => items.map((l) => ({
      project: l.dataset.project, status: l.dataset.status, text: l.innerText,
      href: l.querySelector("a").getAttribute("href"), linkText: l.querySelector("a").textContent })));
    return { status: await page.locator("#status").textContent(),
             explanation: await page.locator("#output pre.out-error").first().innerText(), projects };
  }
  await scenario("missing", () => unservable(config.missing));
  await scenario("unchecked", () => unservable(config.unchecked));
  await scenario("upstream", () => unservable(config.upstream));

  await scenario("axe", async () => {
    // The completion list and the offers, shown, pass axe-core (no serious or critical violation).
    await page.fill("#requirements", "");
    await page.focus("#requirements");
    await page.keyboard.type("gre");
    await page.waitForSelector("#requirement-options [role=option]", { timeout: 15000 });
    await page.keyboard.press("ArrowDown");
    await page.evaluate(readFileSync(config.axe, "utf8"));
    const result = await page.evaluate(() => window.axe.run(document, { resultTypes: ["violations"] }));
    return result.violations.filter((v) => v.impact === "serious" || v.impact === "critical")
      .map((v) => ({ id: v.id, impact: v.impact, targets: v.nodes.map((n) => n.target.join(" ")).slice(0, 5) }));
  });
} finally {
  found.asked = asked;
  await context.close();
}
process.stdout.write(JSON.stringify(found) + "\n");
