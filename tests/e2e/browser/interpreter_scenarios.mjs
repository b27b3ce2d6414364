// The editor's interpreter in Debian's Chromium (playwright-core), one page for every check: Stop in a busy loop, in
// time.sleep and in input(); output streaming between sleeps; input(); micropip from the mirror; buttons; short
// tracebacks; the restart when a program ignores Stop. Prints one JSON line of findings.
// usage: node interpreter_scenarios.mjs <config.json>
//   config: { playwright, url }
import { mkdtempSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import path from "node:path";

const config = JSON.parse(readFileSync(process.argv[2], "utf8"));
const { chromium } = createRequire(path.join(config.playwright, "package.json"))("playwright-core");
const ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
              "--disable-component-update", "--disable-sync"];
const found = { requests: [], errors: [] };

const context = await chromium.launchPersistentContext(mkdtempSync(path.join(tmpdir(), "wasmfarm-interp-")), {
  executablePath: "/usr/bin/chromium", headless: true, args: ARGS, viewport: { width: 1280, height: 800 },
});
context.on("request", (request) => found.requests.push(request.url()));
const page = context.pages()[0] ?? (await context.newPage());
page.on("pageerror", (err) => found.errors.push(String(err)));

const FINISHED = /^(done|failed|stopped)/;
const status = () => page.locator("#status").textContent();
const output = () => page.locator("#output").innerText(); // what is shown: a closed <details> adds its summary only
const buttons = () => page.evaluate(() => {
  const [run, stop] = [document.querySelector("#run"), document.querySelector("#stop")];
  return { run: run.disabled, runText: run.textContent, stop: stop.disabled };
});

async function click(code) {
  await page.evaluate((c) => window.wasmfarm.setCode(c), code);
  await page.evaluate(() => { document.querySelector("#status").textContent = "queued"; });
  await page.click("#run"); // waits until Run is enabled
}

// Runs a program that keeps running until stopped.
async function start(code) {
  await click(code);
  await page.waitForFunction(() => document.querySelector("#status").textContent.startsWith("running"), null,
                             { timeout: 120000 });
}

async function finished(timeout = 120000) {
  await page.waitForFunction((re) => new RegExp(re).test(document.querySelector("#status").textContent),
                             FINISHED.source, { timeout });
  return { status: await status(), output: await output() };
}

async function run(code) {
  await click(code);
  return finished();
}

// Clicks Stop; the time until Run is enabled again (the prompt is back), measured in the page.
const stopMs = () => page.evaluate(() => new Promise((resolve) => {
  const run = document.querySelector("#run");
  const clicked = performance.now();
  const watch = new MutationObserver(() => {
    if (!run.disabled) {
      watch.disconnect();
      resolve(performance.now() - clicked);
    }
  });
  watch.observe(run, { attributes: true });
  document.querySelector("#stop").click();
}));

// performance.now() in the page when each of `texts` first appears in the output.
const watchOutput = (texts) => page.evaluate((wanted) => {
  const pane = document.querySelector("#output");
  window.seen = {};
  new MutationObserver(() => {
    for (const text of wanted) if (!(text in window.seen) && pane.textContent.includes(text)) window.seen[text] = performance.now();
  }).observe(pane, { childList: true, subtree: true, characterData: true });
}, texts);

async function scenario(name, fn) {
  try {
    found[name] = await fn();
  } catch (err) {
    found[name] = { error: String(err && err.message ? err.message : err) };
  }
}

await page.goto(config.url);
await page.waitForFunction(() => window.wasmfarm !== undefined && document.body.dataset.status === "ready");
found.isolated = await page.evaluate(() => self.crossOriginIsolated);
found.idleButtons = await buttons();
found.statusRole = await page.evaluate(() => ({
  role: document.querySelector("#status").getAttribute("role"),
  live: document.querySelector("#status").getAttribute("aria-live"),
}));

await scenario("busyLoop", async () => {
  await start("marker = 'kept'\nn = 0\nwhile True:\n    n += 1\n");
  const during = await buttons();
  await page.keyboard.press("Control+Enter"); // Run while running: said, not silently ignored
  await page.evaluate(() => window.wasmfarm.run());
  const again = await status();
  await page.waitForTimeout(300);
  const ms = await stopMs();
  return { during, again, stopMs: ms, ...(await finished(10000)), after: await buttons() };
});

await scenario("stream", async () => {
  await watchOutput(["tick 0", "tick 1", "tick 2", "loop end"]);
  const result = await run("import time\nfor i in range(3):\n    print('tick', i)\n    time.sleep(1)\nprint('loop end')\n");
  return { ...result, seen: await page.evaluate(() => window.seen) };
});

await scenario("sleepLoop", async () => {
  await watchOutput(["slept 1"]);
  await start("import time\nfor i in range(100):\n    print('slept', i)\n    time.sleep(1)\n");
  await page.waitForFunction(() => "slept 1" in window.seen, null, { timeout: 10000 });
  await page.waitForTimeout(300); // inside the second sleep
  const ms = await stopMs();
  return { stopMs: ms, ...(await finished(10000)) };
});

await scenario("awaitLoop", async () => {
  // Suspended in an await: the program's task is cancelled and KeyboardInterrupt reported (as asyncio.run does).
  await watchOutput(["awaited 1"]);
  await start("import asyncio\nfor a in range(100):\n    print('awaited', a)\n    await asyncio.sleep(1)\n");
  await page.waitForFunction(() => "awaited 1" in window.seen, null, { timeout: 10000 });
  await page.waitForTimeout(300);
  const ms = await stopMs();
  return { stopMs: ms, ...(await finished(10000)) };
});

await scenario("globalsKept", () => run("print('globals', marker, n > 0, i, a)\n"));

await scenario("input", async () => {
  await start("name = input('your name? ')\nage = input('age? ')\nprint(f'hello {name}, {int(age) + 1} next year')\n");
  const field = page.locator("#output input");
  await field.waitFor({ timeout: 10000 });
  const label = await field.getAttribute("aria-label");
  const focused = await page.evaluate(() => document.activeElement === document.querySelector("#output input"));
  await page.keyboard.type("Ada Lovelace é");
  await page.keyboard.press("Enter");
  await page.locator("#output input").waitFor({ timeout: 10000 });
  await page.fill("#output input", "36");
  await page.press("#output input", "Enter");
  return { label, focused, ...(await finished(10000)) };
});

await scenario("inputStopped", async () => {
  await start("answer = input('waiting? ')\n");
  await page.locator("#output input").waitFor({ timeout: 10000 });
  const ms = await stopMs();
  return { stopMs: ms, ...(await finished(10000)), fieldLeft: await page.locator("#output input").count() };
});

await scenario("micropip", async () => {
  // Not among the requirements: micropip installs it (and colorname>=2) from this mirror's index.
  const result = await run("import micropip\nawait micropip.install('greet')\nimport greet\n" +
    "print('micropip', greet.hello(), micropip.__name__)\n");
  return result;
});

await scenario("traceback", async () => {
  const result = await run("def inner():\n    return 1 / 0\n\ninner()\n");
  const full = await page.locator("#output details.out-full-traceback").evaluate((d) => {
    d.open = true;
    return d.innerText;
  });
  return { ...result, full };
});

await scenario("syntaxError", () => run("print('never'\n"));

// A KeyboardInterrupt raised in the event loop's own callbacks, as a SIGINT that raced Stop's message is: it cannot
// reach the program, so the program is cancelled and told, and the worker reports no uncaught error.
await scenario("lostInterrupt", () => run("import asyncio\nloop = asyncio.get_event_loop()\n" +
  "loop._keyboard_interrupt_handler = None\ndef boom():\n    raise KeyboardInterrupt\nloop.call_soon(boom)\n" +
  "await asyncio.sleep(5)\nprint('not reached')\n"));

await scenario("ignored", async () => {
  // A program that catches KeyboardInterrupt: Stop restarts the interpreter after a grace period, and says so.
  await start("import time\nwhile True:\n    try:\n        time.sleep(5)\n    except KeyboardInterrupt:\n        pass\n");
  await page.waitForTimeout(300);
  const ms = await stopMs();
  const stopped = { stopMs: ms, ...(await finished(10000)) };
  return { stopped, next: await run("print('fresh', 'marker' in globals())\n") };
});

await context.close();
process.stdout.write(JSON.stringify(found) + "\n");
