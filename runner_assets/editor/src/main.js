// The wasmfarm editor: CodeMirror 6, Pyodide in a worker booted from this server, requirements locked by the server.
import { basicSetup } from "codemirror";
import { EditorView, keymap } from "@codemirror/view";
import { python } from "@codemirror/lang-python";
import { decodeState, encodeState } from "./share.js";

const $ = (id) => document.getElementById(id);
const config = JSON.parse($("wasmfarm-config").textContent);
const appMode = document.body.dataset.mode === "app";
const SECRETS_KEY = "wasmfarm.secrets";

const state = {
  files: { "main.py": 'print("Hello from Pyodide on wasmfarm")\n' },
  main: "main.py",
  current: "main.py",
  requirements: "",
  runtime: config.runtimes[0],
  lockDigest: null,
};
let view = null;
let worker = null;
let pageHost = null; // app mode: Pyodide on the page's own thread, so Python can build the page via `js`
let booted = null; // {runtime, requirements} the worker was booted with
let interrupt = null;
let running = null;

// Output ----------------------------------------------------------------------------------------------------------

function out(kind, text) {
  window.wasmfarmFirstOutput ??= performance.now(); // ms since navigation: what the benchmark reads
  const line = document.createElement(kind === "html" ? "div" : "pre");
  line.className = `out-${kind}`;
  if (kind === "html") line.innerHTML = text;
  else line.textContent = text;
  $("output").append(line);
  $("output").scrollTop = $("output").scrollHeight;
}

function outImage(data, mime) {
  const img = document.createElement("img");
  img.src = `data:${mime};base64,${data}`;
  img.className = "out-image";
  $("output").append(img);
}

function setStatus(text) {
  $("status").textContent = text;
  document.body.dataset.status = text.split(" ")[0];
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

async function serverLock(runtime, requirements) {
  const lines = requirements.split("\n").map((l) => l.split("#")[0].trim()).filter(Boolean);
  const key = `wasmfarm.lock.${runtime}.${lines.join(",")}`;
  let response;
  try {
    response = await fetch(`r/${runtime}/lock`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ requirements: lines.length ? lines : ["micropip"] }),
    });
  } catch (err) {
    const cached = localStorage.getItem(key); // offline: the lock this browser used last time
    if (cached) return JSON.parse(cached);
    throw err;
  }
  const body = await response.json();
  if (!response.ok) throw new Error(body.message ?? `lock failed: HTTP ${response.status}`);
  state.lockDigest = response.headers.get("X-Lock-Digest");
  window.wasmfarmLockSource = "resolved";
  localStorage.setItem(key, JSON.stringify(body));
  return body;
}

function startWorker() {
  worker?.terminate();
  worker = new Worker(new URL("worker.js", import.meta.url), { type: "module" });
  interrupt = self.crossOriginIsolated ? new Uint8Array(new SharedArrayBuffer(1)) : null;
  booted = null;
  return worker;
}

async function ensureWorker() {
  const wanted = { runtime: state.runtime, requirements: state.requirements.trim() };
  if ((worker || pageHost) && booted && booted.runtime === wanted.runtime && booted.requirements === wanted.requirements) return;
  setStatus("locking requirements…");
  const pinned = state.pinnedLock ? await keptLock(wanted.runtime, state.pinnedLock) : null;
  if (pinned) window.wasmfarmLockSource = "digest";
  const lock = pinned ?? (await serverLock(wanted.runtime, wanted.requirements));
  setStatus(`booting Pyodide ${wanted.runtime}…`);
  if (appMode) {
    const { createHost, routeThroughProxy } = await import(new URL("pyodide_host.js", import.meta.url).href);
    routeThroughProxy(globalThis);
    pageHost = createHost(handle);
    await pageHost.boot({ runtime: wanted.runtime, lock });
    booted = wanted;
    return;
  }
  const w = startWorker();
  await new Promise((resolve, reject) => {
    w.onmessage = ({ data }) => {
      if (data.type === "booted") {
        handle(data);
        resolve();
      }
      else if (data.type === "error") reject(new Error(data.text));
      else handle(data);
    };
    w.onerror = (event) => reject(new Error(event.message));
    w.postMessage({ type: "boot", runtime: wanted.runtime, lock, interruptBuffer: interrupt?.buffer });
  });
  booted = wanted;
  w.onmessage = ({ data }) => handle(data);
}

function handle(data) {
  if (data.type === "booted") {
    window.wasmfarmBoot = { ms: data.ms, fromSnapshot: data.fromSnapshot };
    return;
  }
  if (data.type === "stdout" || data.type === "stderr") out(data.type, data.text);
  else if (data.type === "html") out("html", data.data);
  else if (data.type === "image") outImage(data.data, data.mime);
  else if (data.type === "error") out("error", data.text);
  else if (data.type === "done") {
    setStatus(data.ok ? `done in ${Math.round(data.ms)} ms` : "failed");
    running?.(data.ok);
    running = null;
  }
}

function secrets() {
  try {
    return JSON.parse(localStorage.getItem(SECRETS_KEY) ?? "{}");
  } catch {
    return {};
  }
}

async function run() {
  saveCurrent();
  if (running) return;
  $("output").replaceChildren();
  try {
    await ensureWorker();
  } catch (err) {
    out("error", String(err.message ?? err));
    setStatus("failed");
    return;
  }
  setStatus("running…");
  if (interrupt) interrupt[0] = 0;
  const finished = new Promise((resolve) => (running = resolve));
  const program = { type: "run", files: state.files, main: state.main, env: secrets() };
  if (pageHost) pageHost.run(program);
  else worker.postMessage(program);
  await finished;
  if (!appMode) history.replaceState(null, "", location.pathname + location.search);
}

async function stop() {
  if (!running) return;
  if (interrupt) {
    interrupt[0] = 2; // SIGINT: Python raises KeyboardInterrupt at its next check
    const stopped = await Promise.race([
      new Promise((resolve) => {
        const previous = running;
        running = (ok) => { previous?.(ok); resolve(true); };
      }),
      new Promise((resolve) => setTimeout(() => resolve(false), 1000)),
    ]);
    if (stopped) return;
  }
  restart("stopped (worker restarted)");
}

function restart(message = "restarted") {
  worker?.terminate();
  worker = null;
  booted = null;
  const pending = running;
  running = null;
  pending?.(false);
  setStatus(message);
}

// Files, editor, state ---------------------------------------------------------------------------------------------

function saveCurrent() {
  if (view && state.files[state.current] !== view.state.doc.toString()) state.pinnedLock = null; // edited: re-lock
  if (view) state.files[state.current] = view.state.doc.toString();
  const requirements = $("requirements")?.value ?? state.requirements;
  if (requirements !== state.requirements) state.pinnedLock = null;
  state.requirements = requirements;
  state.runtime = $("runtime")?.value ?? state.runtime;
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
  view.dispatch({ changes: { from: 0, to: view.state.doc.length, insert: state.files[name] } });
  renderTabs();
}

function addFile() {
  const name = prompt("New file name (e.g. helpers.py)");
  if (!name || state.files[name] !== undefined) return;
  state.files[name] = "";
  openFile(name);
}

async function share() {
  saveCurrent();
  const fragment = await encodeState(state);
  const link = `${location.origin}${location.pathname}#${fragment}`;
  $("share-link").value = link;
  $("app-link").href = `${location.origin}${location.pathname.replace(/[^/]*$/, "")}app#${fragment}`;
  $("share-box").hidden = false;
  return link;
}

function renderSecrets() {
  const list = $("secret-list");
  if (!list) return;
  list.replaceChildren(
    ...Object.keys(secrets()).map((name) => {
      const row = document.createElement("li");
      row.textContent = `${name} = ••••••`;
      const remove = document.createElement("button");
      remove.textContent = "remove";
      remove.onclick = () => {
        const all = secrets();
        delete all[name];
        localStorage.setItem(SECRETS_KEY, JSON.stringify(all));
        renderSecrets();
      };
      row.append(" ", remove);
      return row;
    }),
  );
}

function addSecret() {
  const name = $("secret-name").value.trim();
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) return;
  localStorage.setItem(SECRETS_KEY, JSON.stringify({ ...secrets(), [name]: $("secret-value").value }));
  $("secret-name").value = "";
  $("secret-value").value = "";
  renderSecrets();
}

async function restoreFromFragment() {
  if (!location.hash) return false;
  try {
    const shared = await decodeState(location.hash);
    if (!shared) return false;
    Object.assign(state, shared, { current: shared.main, pinnedLock: shared.lockDigest ?? null });
    return true;
  } catch (err) {
    out("error", `this link could not be opened: ${err.message}`);
    return false;
  }
}

async function main() {
  const restored = await restoreFromFragment();
  if (!appMode) {
    $("runtime").replaceChildren(
      ...config.runtimes.map((r) => Object.assign(document.createElement("option"), { value: r, textContent: r })),
    );
    $("runtime").value = state.runtime;
    $("requirements").value = state.requirements;
    view = new EditorView({
      doc: state.files[state.current],
      parent: $("editor"),
      extensions: [
        keymap.of([{ key: "Mod-Enter", run: () => (run(), true) }]),
        basicSetup,
        python(),
      ],
    });
    renderTabs();
    renderSecrets();
    $("run").onclick = run;
    $("stop").onclick = stop;
    $("restart").onclick = () => restart();
    $("share").onclick = share;
    $("add-file").onclick = addFile;
    $("add-secret").onclick = addSecret;
  }
  window.wasmfarm = {
    run, stop, restart, share, state, decodeState,
    code: () => view?.state.doc.toString(),
    setCode: (code) => view.dispatch({ changes: { from: 0, to: view.state.doc.length, insert: code } }),
  };
  if ("serviceWorker" in navigator && config.serviceWorker) {
    const worker = `${config.serviceWorker}?${config.runtimes.map((r) => `runtime=${encodeURIComponent(r)}`).join("&")}`;
    navigator.serviceWorker.register(worker, { scope: config.scope }).catch(() => {});
  }
  setStatus("ready");
  if (restored || appMode) await run();
}

main();
