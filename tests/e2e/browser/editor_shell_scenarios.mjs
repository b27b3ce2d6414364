// The editor never loses work; the landing pages, layout and accessibility. In Debian's Chromium (playwright-core),
// with axe-core from npm injected into the pages. Prints one JSON line of findings.
// usage: node editor_shell_scenarios.mjs <config.json>
//   config: { playwright, axe: <axe.min.js path>, url: <server base URL, ends with "/">, artifacts: <dir> }
import { mkdtempSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import path from "node:path";

const config = JSON.parse(readFileSync(process.argv[2], "utf8"));
const { chromium } = createRequire(path.join(config.playwright, "package.json"))("playwright-core");
const AXE = readFileSync(config.axe, "utf8");
const ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
              "--disable-component-update", "--disable-sync"];
const EDITOR = `${config.url}editor`;
const found = { errors: [] };

async function browser(viewport = { width: 1280, height: 800 }) {
  const context = await chromium.launchPersistentContext(mkdtempSync(path.join(tmpdir(), "wasmfarm-shell-")), {
    executablePath: "/usr/bin/chromium", headless: true, args: ARGS, viewport,
  });
  const page = context.pages()[0] ?? (await context.newPage());
  page.on("pageerror", (err) => found.errors.push(String(err)));
  return { context, page };
}

const ready = (page) => page.waitForFunction(
  () => window.wasmfarm !== undefined && document.body.dataset.status !== "loading…" &&
        /^(ready|done|failed|no program)/.test(document.querySelector("#status").textContent));
const done = (page) => page.waitForFunction(
  () => /^(done|failed|stopped)/.test(document.querySelector("#status").textContent), null, { timeout: 120000 });
const code = (page) => page.evaluate(() => window.wasmfarm.code());
const saved = (page) => page.evaluate(() => window.wasmfarm.workspace.flush());
const decoded = (page, link) => page.evaluate(async (l) => window.wasmfarm.decodeState(new URL(l).hash), link);

async function scenario(name, fn) {
  try {
    found[name] = await fn();
  } catch (err) {
    found[name] = { error: String(err && err.message ? err.message : err) };
  }
}

// axe-core's serious and critical violations on the page as it is: [{id, impact, targets}].
async function axe(page) {
  await page.evaluate(AXE);
  const result = await page.evaluate(() => window.axe.run(document, { resultTypes: ["violations"] }));
  return result.violations.filter((v) => v.impact === "serious" || v.impact === "critical")
    .map((v) => ({ id: v.id, impact: v.impact, targets: v.nodes.map((n) => n.target.join(" ")).slice(0, 5) }));
}

const { context, page } = await browser();
await context.grantPermissions(["clipboard-read", "clipboard-write"], { origin: new URL(config.url).origin });
await page.goto(EDITOR);
await ready(page);

await scenario("reload", async () => {
  const fresh = await code(page); // a first visit: the starter program
  await page.click(".cm-content");
  await page.keyboard.press("Control+A");
  await page.keyboard.type('print("kept across reloads")\n');
  await page.fill("#requirements", "msgpack");
  await saved(page);
  const hash = await page.evaluate(() => location.hash);
  await page.reload();
  await ready(page);
  return { fresh, hash, code: await code(page), requirements: await page.inputValue("#requirements"),
           status: await page.locator("#status").textContent(), hashAfter: await page.evaluate(() => location.hash) };
});

await scenario("sharedLink", async () => {
  // A link to another program, opened where an autosaved program exists: the link wins, runs, and survives a reload.
  const link = `${EDITOR}#` + await page.evaluate(() => window.wasmfarm.encodeState({
    files: { "main.py": 'print("shared program ran")\n' }, main: "main.py", requirements: "",
    runtime: window.wasmfarm.state.runtime, lockDigest: null }));
  await page.goto(link);
  await done(page);
  const ran = { code: await code(page), output: await page.locator("#output").innerText(),
                hash: await page.evaluate(() => location.hash) };
  await page.reload();
  await ready(page);
  await saved(page);
  const reloaded = { code: await code(page), hash: await page.evaluate(() => location.hash),
                     status: await page.locator("#status").textContent() };
  const projects = await page.locator("#projects option").allTextContents();
  return { link, ran, reloaded, projects };
});

await scenario("shareFollows", async () => {
  await page.click("#share");
  await page.waitForFunction(() => document.querySelector("#share-link").value.includes("#v1."));
  const before = await page.inputValue("#share-link");
  await page.click(".cm-content");
  await page.keyboard.press("Control+End");
  await page.keyboard.type('print("an edit after sharing")\n');
  const during = { link: await page.inputValue("#share-link"), copy: await page.isDisabled("#copy-link") };
  await page.waitForFunction((old) => {
    const value = document.querySelector("#share-link").value;
    return value.includes("#v1.") && value !== old;
  }, before);
  const after = await page.inputValue("#share-link");
  await page.click("#copy-link");
  const copied = await page.evaluate(() => navigator.clipboard.readText());
  return {
    before: await decoded(page, before), during, after: await decoded(page, after), afterLink: after, copied,
    hash: await page.evaluate(() => location.hash), embed: await page.inputValue("#embed-snippet"),
    appLink: await page.getAttribute("#app-link", "href"),
  };
});

await scenario("damaged", async () => {
  const own = await code(page);
  const seen = {};
  const escaping = await page.evaluate(() => window.wasmfarm.encodeState({
    files: { "../../escape.py": "print(1)\n" }, main: "../../escape.py", requirements: "", runtime: "314.0.7" }));
  for (const [name, fragment] of [["base64", "v1.%%%not-base64%%%"], ["deflate", "v1.AAAAAAAA"],
                                  ["version", "v9.abc"], ["fileName", escaping]]) {
    await page.goto(`${EDITOR}#${fragment}`);
    await ready(page);
    await page.waitForSelector("#link-error:not([hidden])");
    seen[name] = { message: await page.locator("#link-error").innerText(), code: await code(page),
                   role: await page.getAttribute("#link-error", "role") };
  }
  await page.goto(`${config.url}app#v1.AAAAAAAA`);
  await page.waitForSelector("#link-error:not([hidden])");
  seen.app = { message: await page.locator("#link-error").innerText() };
  return { own, ...seen };
});

await scenario("layout", async () => {
  const seen = {};
  for (const [width, height] of [[360, 740], [390, 844], [1280, 800]]) {
    await page.setViewportSize({ width, height });
    for (const [name, url] of [["editor", EDITOR], ["landing", config.url], ["app", `${config.url}app`]]) {
      await page.goto(url);
      if (name !== "landing") await ready(page);
      const shot = path.join(config.artifacts, `${name}-${width}.png`);
      await page.screenshot({ path: shot, fullPage: true });
      seen[`${name}-${width}`] = await page.evaluate(() => ({
        scrollWidth: document.documentElement.scrollWidth, innerWidth,
        aside: document.querySelector("aside")?.getBoundingClientRect().width ?? null,
        h1: document.querySelector("h1")?.textContent ?? null,
      }));
      seen[`${name}-${width}`].shot = shot;
    }
  }
  return seen;
});

await scenario("app", async () => {
  // /app without a program: a page pointing to the editor, nothing booted. With one: an "edit" link, unless &edit=0.
  const requests = [];
  page.on("request", (r) => requests.push(r.url()));
  await page.goto(`${config.url}app`);
  await ready(page);
  const empty = { text: await page.locator("#app-empty").innerText(), visible: await page.isVisible("#app-empty"),
                  editorHref: await page.getAttribute("#app-empty a", "href"),
                  booted: requests.some((u) => u.includes("pyodide.asm")), axe: await axe(page) };
  const fragment = await page.evaluate(() => location.hash); // none
  await page.goto(EDITOR);
  await ready(page);
  const link = await page.evaluate(() => window.wasmfarm.share());
  const appLink = await page.getAttribute("#app-link", "href");
  await page.goto(appLink);
  await done(page);
  const withProgram = { edit: await page.getAttribute("#edit-link", "href"), visible: await page.isVisible("#edit-link"),
                        output: await page.locator("#output").innerText(), axe: await axe(page) };
  await page.goto(`${appLink}&edit=0`);
  await page.waitForFunction(() => /^(running|booting|locking|done)/.test(document.querySelector("#status").textContent));
  const embedded = { visible: await page.isVisible("#edit-link") };
  return { empty, fragment, link, appLink, withProgram, embedded };
});

await scenario("projects", async () => {
  // Local projects: rename, new, open, delete (the browser's prompt and confirm answered), all kept over a reload.
  await page.goto(EDITOR);
  await ready(page);
  const names = () => page.locator("#projects option").allTextContents();
  const before = await names();
  const kept = await code(page);
  page.once("dialog", (dialog) => dialog.accept("renamed project"));
  await page.click("#rename-project");
  await page.waitForFunction(() => document.querySelector("#projects").selectedOptions[0]?.textContent === "renamed project");
  await page.click("#new-project");
  await page.waitForFunction((n) => document.querySelectorAll("#projects option").length === n, before.length + 1);
  const fresh = await code(page);
  await page.evaluate(() => window.wasmfarm.setCode('print("second project")\n'));
  await saved(page);
  await page.selectOption("#projects", { label: "renamed project" });
  await page.waitForFunction((c) => window.wasmfarm.code() === c, kept);
  const reopened = await code(page);
  page.once("dialog", (dialog) => dialog.accept());
  await page.click("#delete-project");
  await page.waitForFunction((n) => document.querySelectorAll("#projects option").length === n, before.length);
  await saved(page);
  const afterDelete = { names: await names(), code: await code(page) };
  await page.reload();
  await ready(page);
  await saved(page); // the list is filled once the reopened project is saved
  const reloaded = { names: await names(), code: await code(page) };
  await page.click("#duplicate-project");
  await page.waitForFunction((n) => document.querySelectorAll("#projects option").length === n, before.length + 1);
  const duplicated = { names: await names(), code: await code(page),
                       current: await page.evaluate(() => document.querySelector("#projects").selectedOptions[0].textContent) };
  return { before, kept, fresh, reopened, afterDelete, reloaded, duplicated };
});

await scenario("oldLink", async () => {
  // A link made when the editor lived at "/" ("/#v1.…"): the landing page sends it on to the editor.
  const fragment = await page.evaluate(() => window.wasmfarm.encodeState({
    files: { "main.py": 'print("an old link")\n' }, main: "main.py", requirements: "", runtime: "314.0.7" }));
  await page.goto(`${config.url}#${fragment}`);
  await page.waitForURL(/\/editor#v1\./);
  await page.waitForFunction(() => window.wasmfarm?.code?.() === 'print("an old link")\n');
  return { url: page.url(), sent: fragment };
});

await scenario("axe", async () => {
  await page.setViewportSize({ width: 1280, height: 800 });
  await page.goto(EDITOR);
  await ready(page);
  const editor = await axe(page);
  await page.click("#share");
  const shareOpen = await axe(page);
  await page.goto(config.url);
  const landing = await axe(page);
  await page.emulateMedia({ colorScheme: "dark" }); // the dark theme's colours too
  const landingDark = await axe(page);
  await page.goto(EDITOR);
  await ready(page);
  const editorDark = await axe(page);
  const background = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
  return { editor, shareOpen, landing, landingDark, editorDark, background };
});

await context.close();
process.stdout.write(JSON.stringify(found) + "\n");
