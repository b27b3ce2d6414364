// Zip export and import, the examples gallery, keyboard shortcuts and their help overlay, in Debian's Chromium
// (playwright-core) with axe-core injected. One browser, one page. Prints one JSON line of findings.
// usage: node gallery_scenarios.mjs <config.json>
//   config: { playwright, axe: <axe.min.js path>, url: <server base URL, ends with "/">,
//             zips: {label: <path of a zip to import>}, artifacts: <dir> }
import { mkdtempSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import path from "node:path";

const config = JSON.parse(readFileSync(process.argv[2], "utf8"));
const { chromium } = createRequire(path.join(config.playwright, "package.json"))("playwright-core");
const AXE = readFileSync(config.axe, "utf8");
const EDITOR = `${config.url}editor`;
const found = { errors: [] };

const context = await chromium.launchPersistentContext(mkdtempSync(path.join(tmpdir(), "wasmfarm-gallery-")), {
  executablePath: "/usr/bin/chromium", headless: true, acceptDownloads: true, viewport: { width: 1280, height: 800 },
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync"],
});
const page = context.pages()[0] ?? (await context.newPage());
page.on("pageerror", (err) => found.errors.push(String(err)));

const ready = () => page.waitForFunction(
  () => window.wasmfarm !== undefined && /^(ready|done|failed)/.test(document.querySelector("#status").textContent));
const done = () => page.waitForFunction(
  () => /^(done|failed|stopped)/.test(document.querySelector("#status").textContent), null, { timeout: 120000 });
// A key or click that starts a run: the last run's "done …" is wiped first, so only a new run can say "done".
async function ranBy(action) {
  await page.evaluate(() => { document.querySelector("#status").textContent = "(waiting for the run)"; });
  await action();
  await done();
}
const status = () => page.locator("#status").textContent();
const code = () => page.evaluate(() => window.wasmfarm.code());
const saved = () => page.evaluate(() => window.wasmfarm.workspace.flush());
const names = () => page.locator("#projects option").allTextContents();
const selected = () => page.evaluate(() => document.querySelector("#projects").selectedOptions[0]?.textContent);
const program = () => page.evaluate(() => {
  const { files, main, requirements } = window.wasmfarm.state;
  return { files: { ...files }, main, requirements };
});
const note = () => page.evaluate(() => {
  const line = document.querySelector("#project-note");
  return { text: line.textContent, error: line.classList.contains("error"), role: line.getAttribute("role") };
});
const clearNote = () => page.evaluate(() => { document.querySelector("#project-note").textContent = ""; });
const noteSaid = () => page.waitForFunction(() => document.querySelector("#project-note").textContent !== "");
const focusBody = () => page.evaluate(() => {
  document.activeElement?.blur();
  return document.activeElement === document.body;
});
const openDialog = () => page.evaluate(() => document.querySelector("dialog[open]")?.id ?? null);

async function scenario(name, fn) {
  try {
    found[name] = await fn();
  } catch (err) {
    found[name] = { error: String(err && err.message ? err.message : err) };
  }
}

async function axe() {
  await page.evaluate(AXE);
  const result = await page.evaluate(() => window.axe.run(document, { resultTypes: ["violations"] }));
  return result.violations.filter((v) => v.impact === "serious" || v.impact === "critical")
    .map((v) => ({ id: v.id, impact: v.impact, targets: v.nodes.map((n) => n.target.join(" ")).slice(0, 5) }));
}

await page.goto(EDITOR);
await ready();

await scenario("exportImport", async () => {
  // A project of two files and a requirement, renamed, exported, then imported back as a new project.
  page.once("dialog", (dialog) => dialog.accept("zip me"));
  await page.click("#rename-project");
  await page.waitForFunction(() => document.querySelector("#projects").selectedOptions[0]?.textContent === "zip me");
  await page.evaluate(() => window.wasmfarm.setCode('from lib.helper import GREETING\nprint(GREETING, "é")\n'));
  page.once("dialog", (dialog) => dialog.accept("lib/helper.py"));
  await page.click("#add-file");
  await page.waitForFunction(() => window.wasmfarm.state.current === "lib/helper.py");
  await page.evaluate(() => window.wasmfarm.setCode('GREETING = "hello from a zip"\n'));
  await page.fill("#requirements", "msgpack\n");
  await saved();
  const exported = await program();
  const [download] = await Promise.all([page.waitForEvent("download"), page.click("#export-zip")]);
  const zip = readFileSync(await download.path());
  const exportNote = await note();
  const before = await names();
  await page.setInputFiles("#import-zip-file", await download.path());
  await page.waitForFunction((n) => document.querySelectorAll("#projects option").length === n, before.length + 1);
  await saved();
  return {
    exported, filename: download.suggestedFilename(), zip: zip.toString("base64"), exportNote, before,
    imported: await program(), after: await names(), selected: await selected(), importNote: await note(),
  };
});

await scenario("hostile", async () => {
  // Every refused archive: a message, and the projects, the open one and its files exactly as they were.
  const seen = {};
  for (const [label, file] of Object.entries(config.zips)) {
    if (label === "foreign") continue;
    const before = { names: await names(), program: await program(), code: await code(), selected: await selected() };
    await clearNote();
    await page.setInputFiles("#import-zip-file", file);
    await noteSaid();
    await page.waitForTimeout(200); // a project wrongly made would be listed by now
    await saved();
    const after = { names: await names(), program: await program(), code: await code(), selected: await selected() };
    seen[label] = { note: await note(), unchanged: JSON.stringify(before) === JSON.stringify(after), after };
  }
  return seen;
});

await scenario("foreign", async () => {
  // A zip made by another tool (Python's zipfile), of a folder: main.py and requirements.txt inside it.
  const before = await names();
  await clearNote();
  await page.setInputFiles("#import-zip-file", config.zips.foreign);
  await page.waitForFunction((n) => document.querySelectorAll("#projects option").length === n, before.length + 1);
  await saved();
  return { program: await program(), selected: await selected(), note: await note() };
});

await scenario("help", async () => {
  // "?" typed in the editor or a field is text; on the page it opens the help, which Esc closes; F1 too.
  await page.click(".cm-content");
  await page.keyboard.press("Control+End");
  await page.keyboard.type("#?");
  const inEditor = { dialog: await openDialog(), typed: (await code()).endsWith("#?") };
  await page.keyboard.press("Backspace");
  await page.keyboard.press("Backspace");
  await page.click("#requirements");
  await page.keyboard.press("End");
  await page.keyboard.type("?");
  const inField = { dialog: await openDialog(), typed: (await page.inputValue("#requirements")).endsWith("?") };
  await page.keyboard.press("Backspace");
  const bodyFocused = await focusBody();
  await page.keyboard.press("?");
  await page.waitForSelector("#shortcut-help[open]");
  const dialog = await page.evaluate(() => {
    const box = document.querySelector("#shortcut-help");
    return {
      modal: box.matches(":modal"), heading: box.querySelector("h2")?.textContent,
      labelledBy: document.getElementById(box.getAttribute("aria-labelledby"))?.textContent,
      rows: [...box.querySelectorAll("tbody tr")].map((row) => row.innerText),
    };
  });
  const axeOpen = await axe();
  await page.screenshot({ path: path.join(config.artifacts, "shortcut-help.png") });
  await page.keyboard.press("Escape");
  await page.waitForSelector("#shortcut-help:not([open])", { state: "attached" });
  const afterEsc = await openDialog();
  await focusBody();
  await page.keyboard.press("F1");
  await page.waitForSelector("#shortcut-help[open]");
  const byF1 = await openDialog();
  await page.click("#shortcut-help button");
  const afterClose = await openDialog();
  await page.click("#help");
  const byButton = await openDialog();
  await page.keyboard.press("Escape");
  return { inEditor, inField, bodyFocused, dialog, axeOpen, afterEsc, byF1, afterClose, byButton,
           status: await status() };
});

async function openExample(id) {
  const before = await names();
  await clearNote();
  await page.click("#examples");
  await page.waitForSelector("#gallery[open]");
  await page.click(`#gallery .example-open[data-example="${id}"]`);
  await page.waitForFunction((n) => document.querySelectorAll("#projects option").length === n, before.length + 1);
  await saved();
  return { before, after: await names(), selected: await selected(), program: await program(), note: await note(),
           dialog: await openDialog() };
}

// Ctrl+Enter with the focus on the page's body, not in the editor.
async function runFromBody() {
  const bodyFocused = await focusBody();
  await ranBy(() => page.keyboard.press("Control+Enter"));
  return { bodyFocused, status: await status(), output: await page.locator("#output").innerText() };
}

await scenario("gallery", async () => {
  await page.click("#examples");
  await page.waitForSelector("#gallery[open]");
  const listed = await page.evaluate(() => ({
    heading: document.querySelector("#gallery h2")?.textContent,
    modal: document.querySelector("#gallery").matches(":modal"),
    examples: [...document.querySelectorAll("#gallery .example-open")].map((b) => b.dataset.example),
  }));
  const axeOpen = await axe();
  await page.screenshot({ path: path.join(config.artifacts, "gallery.png") });
  await page.keyboard.press("Escape");
  await page.waitForSelector("#gallery:not([open])", { state: "attached" });
  return { listed, axeOpen, closed: await openDialog() };
});

await scenario("table", async () => {
  const opened = await openExample("rich-table");
  const ran = await runFromBody();
  const frame = page.frameLocator("#output iframe.out-html");
  const caption = await frame.locator("caption").textContent({ timeout: 10000 });
  const firstRow = await frame.locator("tbody tr").first().innerText();
  return { opened, ran, caption, firstRow, rows: await frame.locator("tbody tr").count() };
});

await scenario("plot", async () => {
  const opened = await openExample("msgpack-plot");
  const ran = await runFromBody();
  const frame = page.frameLocator("#output iframe.out-html");
  const svg = await frame.locator("svg").getAttribute("aria-label", { timeout: 10000 });
  await page.screenshot({ path: path.join(config.artifacts, "plot.png") });
  return { opened, ran, svg, lines: await frame.locator("svg polyline").count() };
});

await scenario("shortcuts", async () => {
  // Stop by Ctrl+. and by Esc from the page; Ctrl+Enter in the editor runs once; Ctrl+S saves at once.
  const stopped = {};
  await page.evaluate(() => window.wasmfarm.setCode(
    'import time\nprint("looping", flush=True)\nwhile True:\n    time.sleep(0.05)\n'));
  for (const key of ["Control+.", "Escape"]) {
    await focusBody();
    await page.keyboard.press("Control+Enter");
    await page.waitForFunction(() => document.querySelector("#output").textContent.includes("looping"), null,
                               { timeout: 120000 }); // the program runs: the key stops it, not its start
    await page.keyboard.press(key);
    await done();
    stopped[key] = await status();
  }
  await page.evaluate(() => window.wasmfarm.setCode('print("ran from the editor")\n'));
  await page.click(".cm-content");
  await ranBy(() => page.keyboard.press("Control+Enter"));
  const inEditor = { status: await status(), output: await page.locator("#output").innerText(),
                     code: await code() };
  await page.evaluate(() => window.wasmfarm.setCode('print("saved by Ctrl+S")\n'));
  await clearNote();
  await focusBody();
  await page.keyboard.press("Control+S");
  await noteSaid();
  const hash = await page.evaluate(() => location.hash);
  const savedCode = (await page.evaluate((h) => window.wasmfarm.decodeState(h), hash)).files["main.py"];
  return { stopped, inEditor, save: { note: await note(), savedCode } };
});

await scenario("app", async () => {
  // The app example: in the editor it says where its buttons are; as an app, Python builds them and they work.
  const opened = await openExample("button-app");
  await ranBy(() => page.click("#run"));
  const inEditor = { status: await status(), output: await page.locator("#output").innerText() };
  await page.evaluate(() => window.wasmfarm.share());
  const appLink = await page.getAttribute("#app-link", "href");
  await page.goto(appLink);
  await done();
  for (const label of ["+1", "+1", "+1", "-1"]) await page.click(`#app button:text-is("${label}")`);
  const counted = await page.locator("#count").textContent();
  await page.screenshot({ path: path.join(config.artifacts, "button-app.png") });
  await page.click('#app button:text-is("reset")');
  return { opened, inEditor, appStatus: await status(), counted, reset: await page.locator("#count").textContent() };
});

await context.close();
process.stdout.write(JSON.stringify(found) + "\n");
