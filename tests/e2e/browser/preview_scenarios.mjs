// The editor's live preview in Debian's Chromium (playwright-core): a program that builds its page with js.document
// runs in the preview frame (app mode), is out of date after an edit, re-runs on Ctrl+S and on "re-run"; the
// layout at 1280 and 390 px, axe-core, and who may frame what. One browser, one page. Prints one JSON line.
// usage: node preview_scenarios.mjs <config.json>
//   config: { playwright, axe: <axe.min.js path>, url: <server base URL, ends with "/">, artifacts: <dir>,
//             framer: <another origin's page framing its query's URLs>, unlisted: <a server with no embedders> }
import { mkdtempSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import path from "node:path";

const config = JSON.parse(readFileSync(process.argv[2], "utf8"));
const { chromium } = createRequire(path.join(config.playwright, "package.json"))("playwright-core");
const AXE = readFileSync(config.axe, "utf8");
const EDITOR = `${config.url}editor`;
const found = { errors: [], console: [] };

const context = await chromium.launchPersistentContext(mkdtempSync(path.join(tmpdir(), "wasmfarm-preview-")), {
  executablePath: "/usr/bin/chromium", headless: true, viewport: { width: 1280, height: 800 },
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync"],
});
const page = context.pages()[0] ?? (await context.newPage());
page.on("pageerror", (err) => found.errors.push(String(err)));
page.on("console", (m) => m.type() === "error" && found.console.push(m.text()));
found.wasm = []; // each fetch of the runtime's wasm: bytes that came over the network (0 from the HTTP cache)
page.on("requestfinished", async (request) => {
  if (!request.url().endsWith("pyodide.asm.wasm")) return;
  const sizes = await request.sizes().catch(() => null);
  found.wasm.push({ frame: request.frame().url().split("#")[0], bytes: sizes?.responseBodySize ?? null });
});

async function scenario(name, fn) {
  try {
    found[name] = await fn();
  } catch (err) {
    found[name] = { error: String(err && err.message ? err.message : err) };
  }
}

const program = (heading) => `import js
from pyodide.ffi import create_proxy

doc = js.document
root = doc.getElementById("app")
title = doc.createElement("h1")
title.id = "title"
title.textContent = "${heading}"
said = doc.createElement("p")
said.id = "said"
said.textContent = "not clicked"
button = doc.createElement("button")
button.id = "press"
button.textContent = "press me"

def clicked(event):
    said.textContent = f"clicked, heading {title.textContent!r}"

button.addEventListener("click", create_proxy(clicked))
root.append(title, button, said)
print("ui ready")
`;

const previewState = () => page.evaluate(() => ({
  state: document.querySelector("#preview").dataset.state, text: document.querySelector("#preview-state").textContent,
}));

// The preview's app frame once its program has finished; what it shows, and what a click on its button does.
async function previewed(started) {
  const handle = await page.waitForSelector("#preview-frame iframe");
  const frame = await handle.contentFrame();
  await frame.waitForFunction(() => /^(done|failed)/.test(document.querySelector("#status")?.textContent ?? ""),
                              null, { timeout: 120000 });
  const ms = Date.now() - started; // from the click (or key) that asked for it to the app's end
  const seen = await frame.evaluate(() => ({
    status: document.querySelector("#status").textContent, title: document.querySelector("#title")?.textContent,
    output: document.querySelector("#output").innerText, editLink: !document.querySelector("#edit-link").hidden,
    origin: self.origin,
  }));
  await frame.click("#press"); // a real click in the frame: Python's handler runs on the app's page thread
  await frame.waitForFunction(() => document.querySelector("#said").textContent !== "not clicked", null,
                              { timeout: 10000 });
  seen.ms = ms;
  seen.said = await frame.locator("#said").textContent();
  seen.src = await handle.getAttribute("src");
  seen.frameTitle = await handle.getAttribute("title");
  seen.sandbox = await handle.getAttribute("sandbox");
  seen.program = (await page.evaluate((src) => window.wasmfarm.decodeState(new URL(src).hash), seen.src)).files;
  return seen;
}

async function axe() {
  await page.evaluate(AXE);
  // The frame is another origin's document (the app page, checked on its own by the shell scenarios).
  const result = await page.evaluate(() => window.axe.run(document, { resultTypes: ["violations"], iframes: false }));
  return result.violations.filter((v) => v.impact === "serious" || v.impact === "critical")
    .map((v) => ({ id: v.id, impact: v.impact, targets: v.nodes.map((n) => n.target.join(" ")).slice(0, 5) }));
}

await page.goto(EDITOR);
await page.waitForFunction(() => window.wasmfarm !== undefined && /^ready/.test(document.querySelector("#status").textContent));

found.historyAtStart = await page.evaluate(() => history.length);

await scenario("closed", async () => ({
  hidden: await page.isHidden("#preview"), expanded: await page.getAttribute("#preview-toggle", "aria-expanded"),
  frames: await page.locator("#preview-frame iframe").count(),
}));

await scenario("first", async () => {
  await page.evaluate((code) => window.wasmfarm.setCode(code), program("Made with js.document"));
  const started = Date.now();
  await page.click("#preview-toggle");
  const seen = await previewed(started);
  seen.expanded = await page.getAttribute("#preview-toggle", "aria-expanded");
  seen.bar = await previewState();
  await page.screenshot({ path: path.join(config.artifacts, "preview-1280.png") });
  // The Share box's link is the program the preview runs.
  await page.click("#share");
  await page.waitForFunction(() => document.querySelector("#share-link").value.includes("#v1."));
  seen.shareLink = await page.inputValue("#share-link");
  return seen;
});

await scenario("layoutWide", async () => page.evaluate(() => {
  const box = (s) => document.querySelector(s).getBoundingClientRect().toJSON();
  return { code: box("#code"), preview: box("#preview"), scrollWidth: document.documentElement.scrollWidth, innerWidth };
}));

await scenario("axeOpen", async () => {
  const light = await axe();
  await page.emulateMedia({ colorScheme: "dark" });
  const dark = await axe();
  await page.emulateMedia({ colorScheme: "light" });
  return { light, dark };
});

await scenario("saveKey", async () => {
  // An edit: the preview says it is out of date (and keeps saying so while the edit waits to be saved) until
  // Ctrl+S re-runs it with the new program.
  const before = await page.getAttribute("#preview-frame iframe", "src");
  await page.evaluate((code) => window.wasmfarm.setCode(code), program("Changed by an edit"));
  const pending = { ...(await previewState()), axe: await axe() };
  await page.waitForTimeout(1000); // the autosave (0.4 s) has saved it: still out of date, no re-run on its own
  const saved = { ...(await previewState()), src: await page.getAttribute("#preview-frame iframe", "src") };
  await page.click(".cm-content");
  const started = Date.now();
  await page.keyboard.press("Control+s");
  await page.waitForFunction((old) => document.querySelector("#preview-frame iframe")?.getAttribute("src") !== old,
                              before);
  const seen = await previewed(started);
  return { before, pending, saved, ...seen, bar: await previewState() };
});

await scenario("undo", async () => {
  // Typing then deleting the same text: out of date, then current again (it is the program shown).
  await page.click(".cm-content");
  await page.keyboard.press("Control+End");
  await page.keyboard.type("# x");
  const typed = await previewState();
  for (let i = 0; i < 3; i++) await page.keyboard.press("Backspace");
  return { typed, undone: await previewState() };
});

await scenario("button", async () => {
  const before = await page.getAttribute("#preview-frame iframe", "src");
  await page.evaluate((code) => window.wasmfarm.setCode(code), program("Re-run by the button"));
  const pending = await previewState();
  const started = Date.now();
  await page.click("#preview-rerun");
  await page.waitForFunction((old) => document.querySelector("#preview-frame iframe")?.getAttribute("src") !== old,
                              before);
  const seen = await previewed(started);
  return { pending, ...seen, bar: await previewState(), history: await page.evaluate(() => history.length) };
});

await scenario("narrow", async () => {
  await page.setViewportSize({ width: 360, height: 740 });
  await page.waitForTimeout(300);
  const at360 = await page.evaluate(() => ({ scrollWidth: document.documentElement.scrollWidth, innerWidth }));
  await page.setViewportSize({ width: 390, height: 844 });
  await page.waitForTimeout(300);
  const seen = await page.evaluate(() => {
    const box = (s) => document.querySelector(s).getBoundingClientRect().toJSON();
    return { code: box("#code"), preview: box("#preview"), frame: box("#preview-frame iframe"),
             scrollWidth: document.documentElement.scrollWidth, innerWidth };
  });
  await page.screenshot({ path: path.join(config.artifacts, "preview-390.png"), fullPage: true });
  seen.axe = await axe();
  seen.at360 = at360;
  await page.setViewportSize({ width: 1280, height: 800 });
  return seen;
});

await scenario("close", async () => {
  await page.click("#preview-toggle");
  return { hidden: await page.isHidden("#preview"), frames: await page.locator("#preview-frame iframe").count(),
           expanded: await page.getAttribute("#preview-toggle", "aria-expanded") };
});

await scenario("framing", async () => {
  // Another origin's page (config.framer, an allowed app embedder on this server) frames the editor and the app,
  // and the app of a server that lists no embedder (config.unlisted): only this server's app may load.
  const refusedBefore = found.console.filter((m) => m.includes("frame-ancestors")).length; // the editor's own frames
  const targets = { editor: EDITOR, app: `${config.url}app`, unlisted: `${config.unlisted}app` };
  await page.goto(`${config.framer}?${new URLSearchParams(targets)}`);
  await page.waitForFunction((n) => document.querySelectorAll("iframe[data-loaded]").length === n,
                              Object.keys(targets).length, { timeout: 60000 }); // loaded or refused, each
  const seen = { refusedBefore };
  for (const id of Object.keys(targets)) {
    const frame = await (await page.$(`#${id}`)).contentFrame();
    seen[id] = await frame.evaluate(() => ({ url: location.href, title: document.title, editor: "wasmfarm" in window }))
      .catch((e) => ({ error: String(e) }));
  }
  return seen;
});

await context.close();
process.stdout.write(JSON.stringify(found) + "\n");
