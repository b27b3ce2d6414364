// The editor's acceptance scenarios in Debian's Chromium (playwright-core). Prints one JSON line of findings.
// usage: node editor_scenarios.mjs <config.json>
//   config: { playwright, url, proxyTarget, artifacts }
import { mkdtempSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import path from "node:path";

const config = JSON.parse(readFileSync(process.argv[2], "utf8"));
const { chromium } = createRequire(path.join(config.playwright, "package.json"))("playwright-core");
const ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
              "--disable-component-update", "--disable-sync"];
const found = { requests: [], errors: [] };

async function browser() {
  const context = await chromium.launchPersistentContext(mkdtempSync(path.join(tmpdir(), "wasmfarm-editor-")), {
    executablePath: "/usr/bin/chromium", headless: true, args: ARGS, viewport: { width: 1280, height: 800 },
  });
  context.on("request", (request) => found.requests.push(request.url()));
  const page = context.pages()[0] ?? (await context.newPage());
  page.on("pageerror", (err) => found.errors.push(String(err)));
  return { context, page };
}

const status = (page) => page.locator("#status").textContent();
const output = (page) => page.locator("#output").innerText();

async function runAndWait(page) {
  await page.evaluate(() => { document.querySelector("#status").textContent = "queued"; });
  await page.click("#run");
  return waitDone(page);
}

async function waitDone(page, timeout = 120000) {
  await page.waitForFunction(() => /^(done|failed|stopped)/.test(document.querySelector("#status").textContent),
                             null, { timeout });
  return { status: await status(page), output: await output(page) };
}

// Waits for one of the editor's dialogs (#grant-dialog, #typed-dialog), answers it, returns what it said.
async function answer(page, dialog, button, typed) {
  await page.waitForSelector(`#${dialog}[open]`, { timeout: 120000 });
  const text = await page.locator(`#${dialog}`).innerText();
  if (typed !== undefined) await page.fill("#typed-secret", typed);
  await page.click(`#${button}`);
  return text;
}

async function runAnswering(page, dialog, button) {
  await page.evaluate(() => { document.querySelector("#status").textContent = "queued"; });
  await page.click("#run");
  const asked = await answer(page, dialog, button);
  return { asked, ...(await waitDone(page)) };
}

async function scenario(name, fn) {
  try {
    found[name] = await fn();
  } catch (err) {
    found[name] = { error: String(err && err.message ? err.message : err) };
  }
}

const first = await browser();
const page = first.page;
await page.goto(config.url);
await page.waitForFunction(() => window.wasmfarm !== undefined && document.body.dataset.status === "ready");
found.isolated = await page.evaluate(() => self.crossOriginIsolated);

await scenario("typed", async () => {
  await page.fill("#requirements", "msgpack");
  await page.click(".cm-content");
  await page.keyboard.press("Control+A");
  await page.keyboard.press("Delete");
  await page.keyboard.type('import msgpack\ndata = msgpack.packb({"answer": 42})\nprint("unpacked", msgpack.unpackb(data)["answer"])\n');
  await page.keyboard.press("Control+Enter");
  const result = await waitDone(page);
  await page.click("#share"); // the button shows the link box
  await page.waitForFunction(() => document.querySelector("#share-link").value.includes("#v1."));
  return { ...result, code: await page.evaluate(() => window.wasmfarm.code()),
           shareBoxVisible: await page.isVisible("#share-box") };
});
await page.screenshot({ path: path.join(config.artifacts, "editor.png") });

await scenario("shared", async () => {
  const link = await page.evaluate(() => window.wasmfarm.share()); // what the Share button does, awaited
  const fresh = await browser();
  await fresh.page.goto(link);
  const result = await waitDone(fresh.page);
  const restored = { code: await fresh.page.evaluate(() => window.wasmfarm.code()),
                     requirements: await fresh.page.inputValue("#requirements"),
                     lockSource: await fresh.page.evaluate(() => window.wasmfarmLockSource) };
  const appLink = await page.getAttribute("#app-link", "href");
  await fresh.page.goto(appLink);
  const app = await waitDone(fresh.page);
  await fresh.page.screenshot({ path: path.join(config.artifacts, "app-mode.png") });
  await fresh.context.close();
  return { link, ...result, restored, app };
});

await scenario("appUi", async () => {
  // App mode runs on the page's thread: Python builds the UI through the js module.
  await page.evaluate(() => window.wasmfarm.setCode(
    "import js\nbox = js.document.getElementById('app')\nbox.innerHTML = '<h1 id=\"made\">Built by Python</h1>'\nprint('ui ready')\n"));
  await page.fill("#requirements", "");
  await page.evaluate(() => window.wasmfarm.share());
  const appLink = await page.getAttribute("#app-link", "href");
  const fresh = await browser();
  await fresh.page.goto(appLink);
  const result = await waitDone(fresh.page);
  const heading = await fresh.page.locator("#made").textContent().catch(() => null);
  await fresh.page.screenshot({ path: path.join(config.artifacts, "app-ui.png") });
  await fresh.context.close();
  return { ...result, heading };
});

// A program that reports what it can get of the user's secrets (API_TOKEN=s3cr3t-value, OTHER=other-value): the
// environment, get_secret of a declared and of an undeclared name, the page's storage, whatever the last program
// left in the interpreter.
const NOSY = `import builtins, os, js
from wasmfarm import get_secret
print("fresh interpreter", not hasattr(builtins, "left_behind"))
builtins.left_behind = True
print("environ", sorted(k for k, v in os.environ.items() if v in ("s3cr3t-value", "other-value")))
for name, get in (("API_TOKEN", lambda: get_secret("API_TOKEN", "to prove a point")),
                  ("OTHER", lambda: get_secret("OTH" + "ER"))):
    try:
        print("get_secret", name, get())
    except Exception as err:
        print("get_secret", name, "refused", type(err).__name__, err)
for api in ("localStorage", "caches", "indexedDB", "Worker"):
    print(api, "reachable" if hasattr(js, api) else "absent")
`;

await scenario("secret", async () => {
  for (const [name, value] of [["API_TOKEN", "s3cr3t-value"], ["OTHER", "other-value"]]) {
    await page.fill("#secret-name", name);
    await page.fill("#secret-value", value);
    await page.click("#add-secret");
  }
  await page.evaluate(() => window.wasmfarm.setCode('import os\nfrom wasmfarm import get_secret\n' +
    'print("token", get_secret("API_TOKEN", "to call the API"), os.environ["API_TOKEN"])\n'));
  const allowed = await runAnswering(page, "grant-dialog", "grant-allow");
  const listed = await page.locator("#secret-list").innerText();
  const again = await runAndWait(page); // granted: no dialog this time
  const link = await page.evaluate(() => window.wasmfarm.share());
  const decoded = await page.evaluate((l) => window.wasmfarm.decodeState(new URL(l).hash), link);
  await page.click("#secret-list .grant button"); // revoke
  const revoked = { listed: await page.locator("#secret-list").innerText(),
                    ...(await runAnswering(page, "grant-dialog", "grant-deny")) };
  return { allowed, listed, again, link, decoded: JSON.stringify(decoded), revoked };
});

await scenario("hostileLink", async () => {
  // Someone else's link, opened in the browser that holds the secrets: it runs on opening and asks first.
  await page.evaluate((code) => window.wasmfarm.setCode(code), NOSY);
  const link = await page.evaluate(() => window.wasmfarm.share());
  const tab = await first.context.newPage();
  tab.on("pageerror", (err) => found.errors.push(String(err)));
  await tab.goto(link);
  const asked = await answer(tab, "grant-dialog", "grant-deny");
  const denied = await waitDone(tab);
  const allowed = await runAnswering(tab, "grant-dialog", "grant-allow");
  await tab.close();
  return { asked, denied, allowed };
});

await scenario("appSecrets", async () => {
  // App mode has an opaque origin: the page's storage throws; a secret is typed in and kept for this page only.
  await page.evaluate(() => window.wasmfarm.setCode(`import js, os
from wasmfarm import get_secret
print("typed", get_secret("API_TOKEN", "for the app"))
print("environ", sorted(k for k, v in os.environ.items() if v in ("s3cr3t-value", "other-value")))
for what, read in [("localStorage", lambda: js.localStorage.getItem("wasmfarm.secrets")),
                   ("cookie", lambda: js.document.cookie), ("indexedDB", lambda: js.indexedDB.open("x")),
                   ("caches", lambda: js.caches.keys())]:
    try:
        print(what, "read", read())
    except Exception as err:
        print(what, "refused", "SecurityError" in str(err))
print("origin", js.self.origin)
`));
  await page.evaluate(() => window.wasmfarm.share());
  const tab = await first.context.newPage();
  tab.on("pageerror", (err) => found.errors.push(String(err)));
  await tab.goto(await page.getAttribute("#app-link", "href"));
  const asked = await answer(tab, "typed-dialog", "typed-use", "typed-value");
  const result = await waitDone(tab);
  await tab.close();
  return { asked, ...result };
});

await scenario("stop", async () => {
  await page.evaluate(() => window.wasmfarm.setCode("n = 0\nwhile True:\n    n += 1\n"));
  await page.click("#run");
  await page.waitForFunction(() => document.querySelector("#status").textContent.startsWith("running"));
  await page.waitForTimeout(500);
  const started = Date.now();
  await page.click("#stop");
  await page.waitForFunction(() => !document.querySelector("#status").textContent.startsWith("running"), null,
                             { timeout: 10000 });
  const stopMs = Date.now() - started;
  const afterStop = { status: await status(page), output: await output(page) };
  await page.evaluate(() => window.wasmfarm.setCode('print("still usable")\n'));
  return { stopMs, afterStop, next: await runAndWait(page) };
});

await scenario("proxy", async () => {
  await page.evaluate((target) => window.wasmfarm.setCode(
    "from pyodide.http import pyfetch\n" +
    `r = await pyfetch("${target}echo")\n` +
    'print("proxied", r.status, (await r.json())["path"])\n' +
    'r = await pyfetch("http://169.254.169.254/latest/meta-data/")\n' +
    'print("metadata", r.status, (await r.json())["error"])\n' +
    'r = await pyfetch("http://127.0.0.1:9/")\n' +
    'print("loopback", r.status)\n'), config.proxyTarget);
  return runAndWait(page);
});

await scenario("rich", async () => {
  await page.fill("#requirements", "");
  await page.evaluate(() => window.wasmfarm.setCode(
    "class Table:\n    def _repr_html_(self):\n        return '<table id=\"rich\"><tr><td>cell</td></tr></table>'\n" +
    "display(Table())\nprint('before error')\n1 / 0\n"));
  const result = await runAndWait(page);
  const cell = await page.frameLocator("#output iframe.out-html").locator("#rich td").textContent().catch(() => null);
  await page.fill("#requirements", "nothing-like-it");
  const unresolvable = await runAndWait(page);
  await page.fill("#requirements", "");
  return { ...result, cell, unresolvable };
});

await scenario("htmlPayload", async () => {
  // HTML output runs in a sandboxed frame: its scripts run there, and cannot reach the editor's page or storage.
  const payload = '<div id="tall" style="height:300px">tall</div><img src="x" onerror="' +
    "document.body.dataset.handler='ran';" +
    "try { parent.document.body.dataset.pwned = 'yes' } catch (e) { document.body.dataset.parent = e.name }" +
    "try { localStorage.setItem('pwned', 'yes') } catch (e) { document.body.dataset.storage = e.name }" +
    '"><script>document.body.dataset.script = "ran"<\/script>';
  const code = `class Markup:\n    def _repr_html_(self):\n        return ${JSON.stringify(payload)}\ndisplay(Markup())\n`;
  await page.evaluate((c) => window.wasmfarm.setCode(c), code);
  const result = await runAndWait(page);
  const frame = await (await page.waitForSelector("#output iframe.out-html")).contentFrame();
  await frame.waitForURL(/\/runner\/editor\/output\.html$/);
  await frame.waitForFunction(() => document.body.dataset.handler === "ran" && document.body.dataset.script === "ran");
  await page.waitForTimeout(300); // the frame's last height report
  return {
    ...result,
    inFrame: await frame.evaluate(() => ({ ...document.body.dataset, origin: self.origin })),
    editor: await page.evaluate(() => ({ pwned: document.body.dataset.pwned ?? null,
                                          stored: localStorage.getItem("pwned") })),
    frameHeight: await page.evaluate(() => document.querySelector("iframe.out-html").getBoundingClientRect().height),
  };
});

await scenario("offline", async () => {
  // After the first visit the service worker serves the editor, runtime and wheels: cut the network and reload.
  await page.evaluate(() => navigator.serviceWorker.ready);
  await first.context.setOffline(true);
  await page.reload();
  await page.waitForFunction(() => window.wasmfarm !== undefined && document.body.dataset.status === "ready");
  await page.evaluate(() => window.wasmfarm.setCode(
    'import sys, js\nprint("offline ok", sys.version_info[:2], js.Math.max(2, 7), js.JSON.stringify(js.Object.new()))\n'));
  const result = await runAndWait(page);
  await first.context.setOffline(false);
  return { ...result, boot: await page.evaluate(() => window.wasmfarmBoot) };
});

await first.context.close();
process.stdout.write(JSON.stringify(found) + "\n");
