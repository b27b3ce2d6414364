// The wasmfarm editor: CodeMirror 6, Pyodide in a worker booted from this server, requirements locked by the server.
import { basicSetup } from "codemirror";
import { EditorView, keymap } from "@codemirror/view";
import { python } from "@codemirror/lang-python";
import { syntaxHighlighting } from "@codemirror/language";
import { classHighlighter } from "@lezer/highlight";
import { createGallery } from "./gallery.js";
import { notice } from "./notice.js";
import { createOutput } from "./output.js";
import { createPackages, explainUnlockable } from "./packages.js";
import { createPreview } from "./preview.js";
import { wireProjectTransfer } from "./project_transfer.js";
import { SECRET_NAME, addSecret, fingerprint, renderSecretsPanel, secretsForRun } from "./secrets.js";
import { decodeState, encodeState, linkOptions, validFileName } from "./share.js";
import { installShortcuts } from "./shortcuts.js";
import { createWorkspace } from "./workspace.js";
import { createProgress, createStartup, snapshotSoon } from "./startup.js";
import { createErrorMarks, fileSwitch } from "./error_marks.js";
import { answerInput, clearSignal, createControl, interrupt } from "../../web/editor/run_control.js";

const $ = (id) => document.getElementById(id);
const config = JSON.parse($("wasmfarm-config").textContent);
const appMode = document.body.dataset.mode === "app"; // an opaque origin: no localStorage, no service worker
const output = createOutput($("output"), { appMode, onTraceback: (pre, text) => errorMarks.linkFrames(pre, text) });

const starter = () => ({
  files: { "main.py": 'print("Hello from Pyodide on wasmfarm")\n' },
  main: "main.py",
  requirements: "",
  runtime: config.runtimes[0],
  lockDigest: null,
});
const state = { ...starter(), current: "main.py" };
const errorMarks = createErrorMarks({ view: () => view, state, openFile: (name) => openFile(name) }); // gutter, jumps
let workspace = null; // the editor's autosave, fragment sync, share box and local projects (not in app mode)
let packages = null; // completion of requirements and imports offered as requirements (not in app mode)
let preview = null; // the live preview: the program as /app shows it, beside the code (not in app mode)
let view = null;
let worker = null;
let pageHost = null; // app mode: Pyodide on the page's own thread, so Python can build the page via `js`
let booted = null; // {runtime, requirements, lock, ran, secrets}: what the worker was booted with and has run
let control = null; // memory shared with the worker: Stop and input() reach a busy Python through it (run_control.js)
let starting = false; // a run is asking for secrets or booting
let running = null;
let stopping = false;
const STOP_GRACE_MS = 3000; // a program that ignores KeyboardInterrupt this long loses its interpreter
const WORKER_URL = new URL("worker.js", import.meta.url);
const progress = createProgress($("boot-progress"));
let startup = null; // background boot (startup.js; not in app mode)
let pendingBoot = null; // {key, promise, abandon}: the worker boot under way
const lockDigests = new WeakMap(); // lock -> the server's digest of it
let bootGeneration = 0; // which boot is the current one
let firstBootSettled;
const firstBoot = new Promise((resolve) => (firstBootSettled = resolve));

function setStatus(text) {
  $("status").textContent = text;
  document.body.dataset.status = text.split(" ")[0];
}

// Run and Stop show what is going on: Run is disabled while a run starts or runs (and says so), Stop only works then.
function showBusy(busy) {
  if (appMode) return;
  $("run").disabled = Boolean(busy);
  $("run").textContent = busy === "starting" ? "Starting…" : busy ? "Running…" : "Run";
  $("stop").disabled = busy !== "running";
}

// Worker -----------------------------------------------------------------------------------------------------------

async function keptLock(runtime, digest) {
  // A shared app first asks for exactly the lock it was made with: it keeps working when the mirror changes.
  try {
    const response = await fetch(`r/${runtime}/lock/${digest}`);
    if (response.ok) return response.json();
  } catch {
    // offline: fall through to the cached lock
  }
  return null;
}

// The last lock for the same requirements, for offline use; app mode (an opaque origin) has no localStorage.
const lockCache = {
  get: (key) => (appMode ? null : localStorage.getItem(key)),
  set: (key, lock) => appMode || localStorage.setItem(key, JSON.stringify(lock)),
};

async function serverLock(runtime, requirements) {
  const lines = requirements.split("\n").map((l) => l.split("#")[0].trim()).filter(Boolean);
  const key = `wasmfarm.lock.${runtime}.${lines.join(",")}`;
  let response;
  try {
    // Requirement lines as text/plain: a simple request, with no CORS preflight from app mode's opaque origin.
    const body = (lines.length ? lines : ["micropip"]).join("\n");
    response = await fetch(`r/${runtime}/lock`, { method: "POST", body });
  } catch (err) {
    const cached = lockCache.get(key); // offline: the lock this browser used last time
    if (cached) return JSON.parse(cached);
    throw err;
  }
  const body = await response.json();
  if (!response.ok) {
    // A requirement the mirror cannot lock: its compat page says what upstream has and whether it can be built.
    throw Object.assign(new Error(body.message ?? `lock failed: HTTP ${response.status}`), { compat: body.compat });
  }
  body && lockDigests.set(body, response.headers.get("X-Lock-Digest")); // the link's, once a program runs with it
  window.wasmfarmLockSource = "resolved";
  lockCache.set(key, body);
  return body;
}

function startWorker() {
  worker?.terminate();
  worker = new Worker(WORKER_URL, { type: "module" });
  control = self.crossOriginIsolated ? createControl() : null;
  booted = null;
  return worker;
}

// A worker that ran a program with secrets serves only that program with the same secrets, and one that ran other
// programs gets no secrets: a program can leave code behind in its interpreter to catch what the next one is given.
function reusable(wanted) {
  if (!booted || booted.runtime !== wanted.runtime || booted.requirements !== wanted.requirements) return false;
  if (!booted.ran || (!booted.secrets && !wanted.secrets)) return true;
  return booted.ran === wanted.program && booted.secrets === wanted.secrets;
}

function recordRun(wanted) {
  booted.ran = booted.ran && booted.ran !== wanted.program ? "several programs" : wanted.program;
  const names = new Set([...booted.secrets.split(","), ...wanted.secrets.split(",")]);
  booted.secrets = [...names].filter(Boolean).sort().join(",");
}

const replaced = () => Object.assign(new Error("the interpreter was replaced before it was ready"), { replaced: true });

// Another boot (other requirements, a restart) takes over: the one under way stops where it is and rejects.
function abandonBoot() {
  bootGeneration += 1;
  pendingBoot?.abandon(replaced());
  pendingBoot = null;
}

const bootKey = (wanted) => `${wanted.runtime}\n${wanted.requirements}\n${state.pinnedLock ?? ""}`;

// quiet: a background boot that leaves the status alone (after a restart, which the status reports).
async function ensureWorker(wanted, { quiet = false } = {}) {
  if ((worker || pageHost) && reusable(wanted)) return;
  if (pendingBoot?.key === bootKey(wanted)) {
    await pendingBoot.promise; // the background boot of the same requirements: Run waits for it
    if (reusable(wanted)) return;
  }
  abandonBoot();
  let reject = null;
  const promise = bootWorker(wanted, quiet, bootGeneration, (r) => (reject = r));
  pendingBoot = { key: bootKey(wanted), promise, abandon: (err) => reject?.(err) };
  try {
    await promise;
  } finally {
    if (pendingBoot?.promise === promise) pendingBoot = null;
    progress.stop();
    firstBootSettled();
  }
}

async function bootWorker(wanted, quiet, generation, onAbandon) {
  const status = quiet ? () => {} : setStatus;
  status("locking requirements…");
  const pinned = state.pinnedLock ? await keptLock(wanted.runtime, state.pinnedLock) : null;
  if (pinned) window.wasmfarmLockSource = "digest";
  const lock = pinned ?? (await serverLock(wanted.runtime, wanted.requirements));
  if (generation !== bootGeneration) throw replaced();
  status(`booting Pyodide ${wanted.runtime}…`);
  const fresh = { runtime: wanted.runtime, requirements: wanted.requirements, lock, ran: null, secrets: "",
                  lockDigest: pinned ? state.pinnedLock : lockDigests.get(lock) };
  if (appMode) {
    const { createHost, routeThroughProxy } = await import(new URL("pyodide_host.js", import.meta.url).href);
    routeThroughProxy(globalThis);
    pageHost = createHost(handle);
    await pageHost.boot({ runtime: wanted.runtime, lock });
    booted = fresh;
    return;
  }
  const w = startWorker();
  progress.start();
  await new Promise((resolve, reject) => {
    onAbandon(reject);
    w.onmessage = ({ data }) => {
      if (data.type === "booted") {
        handle(data);
        resolve();
      }
      else if (data.type === "error") reject(new Error(data.text));
      else if (data.type !== "done") handle(data); // a failed boot's "done": the caller reports the error
    };
    w.onerror = (event) => reject(new Error(event.message));
    w.postMessage({ type: "boot", runtime: wanted.runtime, lock, control });
  });
  booted = fresh;
  w.onmessage = ({ data }) => handle(data);
  if (!window.wasmfarmBoot?.fromSnapshot) snapshotSoon(WORKER_URL, fresh); // the next visits start warm
}

// Boots for the editor's current requirements in the background, so Run is instant ("ready" when it is). A worker
// that already has them is kept, whatever it ran: its variables are the user's.
async function warmUp({ quiet = false } = {}) {
  if (appMode || starting || running) return;
  saveCurrent();
  const wanted = { runtime: state.runtime, requirements: state.requirements.trim() };
  if (worker && booted?.runtime === wanted.runtime && booted.requirements === wanted.requirements) {
    if (!quiet && document.body.dataset.status === "not") setStatus("ready"); // back to what the worker has
    return;
  }
  try {
    await ensureWorker({ ...wanted, program: null, secrets: "" }, { quiet });
  } catch (err) {
    if (!quiet && !starting && !running && !err.replaced) setStatus(`not ready: ${err.message ?? err}`);
    return;
  }
  window.wasmfarmReady ??= performance.now(); // ms since navigation: what the benchmark reads
  if (!quiet && !starting && !running) setStatus("ready");
}

function handle(data) {
  if (data.type === "booted") {
    window.wasmfarmBoot = { ms: data.ms, fromSnapshot: data.fromSnapshot };
    return;
  }
  if (data.type === "progress") progress.update(data);
  else if (data.type === "stdout" || data.type === "stderr") output.stream(data.type, data.text);
  else if (data.type === "input") {
    const asking = control; // the answer goes to the worker that asked, not to one started since
    output.ask().then((answer) => asking === control && answerInput(asking, answer));
  }
  else if (data.type === "html") output.html(data.data);
  else if (data.type === "image") output.image(data.data, data.mime);
  else if (data.type === "error") {
    output.error(data.text, data.full);
    errorMarks.failed(data.text);
  }
  else if (data.type === "done") {
    output.flush();
    output.cancelInput();
    if (stopping && !data.ok) setStatus("stopped: KeyboardInterrupt (variables kept)");
    else setStatus(data.ok ? `done in ${Math.round(data.ms)} ms` : "failed");
    stopping = false;
    showBusy(false);
    running?.(data.ok);
    running = null;
  }
}

// The secrets this run may carry (asking the user), and the worker it may run in.
async function prepare(program) {
  const print = appMode ? "app" : await fingerprint(program);
  const granted = await secretsForRun(program, print, { appMode });
  if (!appMode) renderSecrets(); // with any grant just made
  const secrets = Object.keys(granted.secrets).sort().join(",");
  const wanted = {
    runtime: state.runtime, requirements: state.requirements.trim(), program: print ?? "unknown", secrets,
  };
  await ensureWorker(wanted);
  return { wanted, granted };
}

async function run() {
  saveCurrent();
  if (running || starting) {
    // Never ignored silently: the status (announced) says why nothing happens.
    const current = $("status").textContent.replace(/ — .*$/, "");
    setStatus(`${current} — ${running ? "already running: Stop it first" : "already starting"}`);
    return;
  }
  output.clear();
  errorMarks.clear();
  starting = true;
  showBusy("starting");
  let wanted, granted;
  try {
    ({ wanted, granted } = await prepare({ files: state.files, main: state.main, requirements: state.requirements }));
  } catch (err) {
    output.text("error", String(err.message ?? err));
    if (err.compat?.length) explainUnlockable(output.node, err.compat, state.runtime);
    setStatus("failed");
    showBusy(false);
    return;
  } finally {
    starting = false;
  }
  setStatus("running…");
  showBusy("running");
  if (control) clearSignal(control);
  recordRun(wanted);
  if (booted.lockDigest) state.lockDigest = booted.lockDigest; // not by a background boot: a reload keeps the link
  const finished = new Promise((resolve) => (running = resolve));
  const message = { type: "run", files: state.files, main: state.main, ...granted };
  if (pageHost) pageHost.run(message);
  else worker.postMessage(message);
  await finished;
  workspace?.changed(); // the link keeps the program (and now its lock digest): a reload brings it back
}

// Stop raises KeyboardInterrupt in the program (computing, in time.sleep or in input()), which keeps its variables;
// only a program that ignores it for STOP_GRACE_MS loses its interpreter, and the output says so.
async function stop() {
  if (!running || stopping) return;
  if (control && worker) {
    stopping = true;
    interrupt(control); // a program computing, sleeping or in input()
    worker.postMessage({ type: "interrupt" }); // a program suspended in an await (pyodide_host.js)
    const stopped = await Promise.race([
      new Promise((resolve) => {
        const previous = running;
        running = (ok) => { previous?.(ok); resolve(true); };
      }),
      new Promise((resolve) => setTimeout(() => resolve(false), STOP_GRACE_MS)),
    ]);
    if (stopped) return;
    output.text("note", `Stop was ignored for ${STOP_GRACE_MS / 1000} s (KeyboardInterrupt caught?): the interpreter ` +
      "was restarted, and the program's variables are gone.");
  }
  restart("stopped (interpreter restarted)");
}

function restart(message = "restarted") {
  worker?.terminate();
  abandonBoot();
  worker = null;
  booted = null;
  stopping = false;
  output.cancelInput();
  showBusy(false);
  const pending = running;
  running = null;
  pending?.(false);
  setStatus(message);
  setTimeout(() => warmUp({ quiet: true })); // the next Run finds a fresh interpreter ready
}

// Files, editor, state ---------------------------------------------------------------------------------------------

function saveCurrent() {
  if (view && state.files[state.current] !== view.state.doc.toString()) state.pinnedLock = null; // edited: re-lock
  if (view) state.files[state.current] = view.state.doc.toString();
  const requirements = $("requirements")?.value ?? state.requirements;
  const runtime = $("runtime")?.value || state.runtime;
  if (requirements !== state.requirements || runtime !== state.runtime) {
    state.pinnedLock = null;
    state.lockDigest = null; // the last lock was for other requirements: a link must not carry it
  }
  state.requirements = requirements;
  state.runtime = runtime;
}

// Puts the state (a project just opened) into the editor.
function showState() {
  if (!config.runtimes.includes(state.runtime)) state.runtime = config.runtimes[0]; // a link from another server
  $("runtime").value = state.runtime;
  $("requirements").value = state.requirements;
  view?.dispatch({ changes: { from: 0, to: view.state.doc.length, insert: state.files[state.current] } });
  renderTabs();
  packages?.refresh();
  startup?.relockSoon(); // another project: its requirements
}

function renderTabs() {
  const tabs = $("tabs");
  if (!tabs) return;
  tabs.replaceChildren(
    ...Object.keys(state.files).map((name) => {
      const tab = document.createElement("button");
      tab.textContent = name;
      tab.className = name === state.current ? "tab active" : "tab";
      tab.onclick = () => openFile(name);
      return tab;
    }),
  );
}

function openFile(name) {
  saveCurrent();
  state.current = name;
  view.dispatch({ changes: { from: 0, to: view.state.doc.length, insert: state.files[name] }, annotations: fileSwitch.of(true) });
  errorMarks.fileShown();
  renderTabs();
  workspace?.changed(); // the open tab is a setting too
}

function addFile() {
  const name = prompt("New file name (e.g. helpers.py)");
  if (!name || state.files[name] !== undefined) return;
  if (!validFileName(name)) {
    output.text("error", `${JSON.stringify(name)} is not a file name here: use letters, digits, "_", "-", "." and "/"`);
    return;
  }
  state.files[name] = "";
  openFile(name);
  workspace?.changed();
}

function renderSecrets() {
  renderSecretsPanel($("secret-list"), renderSecrets);
}

function storeSecret() {
  const name = $("secret-name").value.trim();
  if (!SECRET_NAME.test(name)) return;
  addSecret(name, $("secret-value").value);
  $("secret-name").value = "";
  $("secret-value").value = "";
  renderSecrets();
}

// App mode: the program of the link; a friendly page when there is none or it is damaged.
async function restoreApp() {
  const edit = $("edit-link");
  if (!location.hash) {
    $("app-empty").hidden = false;
    return false;
  }
  try {
    const shared = await decodeState(location.hash);
    Object.assign(state, shared, { current: shared.main, pinnedLock: shared.lockDigest ?? null });
    if (!state.runtime || !config.runtimes.includes(state.runtime)) state.runtime = config.runtimes[0];
  } catch (err) {
    showLinkError(err.message);
    return false;
  }
  if (edit && linkOptions(location.hash).edit) {
    edit.href = `editor#${location.hash.slice(1).split("&")[0]}`;
    edit.hidden = false;
  }
  return true;
}

function showLinkError(message) {
  const box = $("link-error");
  box.textContent = message;
  box.hidden = false;
}

function registerServiceWorker() {
  if (!("serviceWorker" in navigator) || !config.serviceWorker) return;
  const script = `${config.serviceWorker}?${config.runtimes.map((r) => `runtime=${encodeURIComponent(r)}`).join("&")}`;
  try {
    navigator.serviceWorker.register(script, { scope: config.scope }).catch(() => {});
  } catch {
    // app mode: an opaque origin has no service worker (reading navigator.serviceWorker throws)
  }
}

async function main() {
  let restored = false;
  if (appMode) {
    restored = await restoreApp();
    addEventListener("hashchange", () => location.reload()); // another program: a fresh page runs it
  }
  else {
    $("runtime").replaceChildren(
      ...config.runtimes.map((r) => Object.assign(document.createElement("option"), { value: r, textContent: r })),
    );
    view = new EditorView({
      doc: state.files[state.current],
      parent: $("editor"),
      extensions: [
        keymap.of([{ key: "Mod-Enter", run: () => (run(), true) }]),
        basicSetup,
        errorMarks.extension,
        python(),
        syntaxHighlighting(classHighlighter), // tok-* classes, coloured by editor.css for light and dark
        EditorView.contentAttributes.of({ "aria-label": "code editor (Python)" }),
        EditorView.contentAttributes.of({ tabindex: "0" }), // axe: a scrolled code area has focusable content
        EditorView.updateListener.of((update) => update.docChanged && (workspace?.changed(), packages?.refresh())),
        EditorView.updateListener.of((update) => update.docChanged && preview?.changed()),
      ],
    });
    workspace = createWorkspace({
      $, state, starter, sync: saveCurrent, show: showState,
      onError: (message, isLink) => (isLink ? showLinkError(message) : output.text("error", message)),
      onOpened: () => run(),
    });
    packages = createPackages({
      box: $("requirements"), runtime: () => $("runtime").value || state.runtime, changed: () => workspace.changed(),
      files: () => ({ ...state.files, [state.current]: view.state.doc.toString() }),
    });
    restored = await workspace.start();
    startup = createStartup({ warm: warmUp });
    for (const id of ["requirements", "runtime"]) {
      $(id).addEventListener("input", () => (workspace.changed(), packages.refresh(), startup.relockSoon()));
    }
    renderSecrets();
    $("run").onclick = run;
    $("stop").onclick = stop;
    showBusy(false);
    $("restart").onclick = () => restart();
    workspace.wire();
    $("add-file").onclick = addFile;
    $("add-secret").onclick = storeSecret;
    preview = createPreview({ $, workspace, program: () => (saveCurrent(), state) });
    for (const id of ["requirements", "runtime"]) $(id).addEventListener("input", () => preview.changed());
    preview.wire();
    wireProjectTransfer({ $, state, sync: saveCurrent, workspace });
    $("examples").onclick = createGallery({ openNew: workspace.openNew }).show;
    const save = async () => {
      await workspace.flush();
      await workspace.persistNow();
      notice("Saved in this browser; the link follows.");
    };
    $("help").onclick = installShortcuts({ run, stop, save, isRunning: () => Boolean(running || starting) }).help;
  }
  const share = () => workspace.openShare();
  window.wasmfarm = {
    run, stop, restart, share, state, decodeState, encodeState, workspace,
    code: () => view?.state.doc.toString(),
    setCode: (code) => view.dispatch({ changes: { from: 0, to: view.state.doc.length, insert: code } }),
  };
  if (appMode) {
    registerServiceWorker();
    setStatus(restored ? "ready" : "no program to run");
    if (restored) await run();
    return;
  }
  // The service worker precaches the runtime once the boot has fetched it (from the HTTP cache, then): it does not
  // compete with the boot for the network and the two cores.
  Promise.race([firstBoot, new Promise((resolve) => setTimeout(resolve, 30000))]).then(registerServiceWorker);
  await (restored ? run() : warmUp());
}

main();
