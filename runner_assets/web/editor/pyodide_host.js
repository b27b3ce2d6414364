// The Pyodide host of the wasmfarm editor: boots Pyodide from this server with a server-made lock, runs programs,
// streams output. It runs in a Web Worker for the editor (the page never freezes, Stop can interrupt) and on the
// page's own thread in app mode (so Python can build the page through the js module).
//
// post(message): {type: "booted", ms} | {type: "stdout"|"stderr", text} | {type: "html"|"image", data, mime?}
//                | {type: "input"} | {type: "error", text, full?} | {type: "done", ok, ms}
// stdout/stderr text is what Python wrote, newlines included, as it was written (worker_io.js); "input": input() waits
// for the page's answer (run_control.js); an error's text shows the program's frames only, full the whole traceback.
//
// A program gets only the secrets the user granted it (run({secrets})): as os.environ and through
// `from wasmfarm import get_secret`.
import { SIGINT, signalView } from "./run_control.js";
import { installIo } from "./worker_io.js";
import { userTraceback } from "./traceback.js";

// The server's origin from the URL: in app mode the document's own origin is opaque ("null").
const origin = new URL(globalThis.location.href).origin;

const proxied = (url) => `${origin}/proxy?url=${encodeURIComponent(url.href)}`;

// Cross-origin fetches (pyodide.http.pyfetch, js fetch) and XMLHttpRequests (requests through pyodide-http's patch)
// go through the server's CORS proxy.
export function routeThroughProxy(scope) {
  if (scope.XMLHttpRequest) {
    const open = scope.XMLHttpRequest.prototype.open;
    scope.XMLHttpRequest.prototype.open = function (method, url, ...rest) {
      const target = new URL(url, origin);
      const rewritten = target.origin !== origin && /^https?:$/.test(target.protocol) ? proxied(target) : url;
      return open.call(this, method, rewritten, ...rest);
    };
  }
  const realFetch = scope.fetch.bind(scope);
  scope.fetch = (input, init) => {
    const url = new URL(typeof input === "string" ? input : input.url, origin);
    if (url.origin !== origin && /^https?:$/.test(url.protocol)) {
      return realFetch(proxied(url), { method: init?.method ?? "GET" });
    }
    return realFetch(input, init);
  };
}

const PRELUDE = `
import asyncio, base64, builtins, io, sys, time

# Output as it is printed: line-buffered like a terminal's, without claiming to be one (isatty stays False).
sys.stdout.reconfigure(line_buffering=True)
sys.stderr.reconfigure(line_buffering=True)

def _install_sleep():
    try:
        from wasmfarm_io import sleep as wait
    except ImportError:  # no shared buffer (app mode, or a page that is not cross-origin isolated): Pyodide's own
        return
    def sleep(secs):
        if isinstance(secs, (str, bytes)) or not hasattr(type(secs), "__float__"):
            raise TypeError(f"'{type(secs).__name__}' object cannot be interpreted as an integer or float")
        if secs < 0:
            raise ValueError("sleep length must be non-negative")
        wait(float(secs))  # blocks until the time is up or Stop, which raises KeyboardInterrupt here
    sleep.__doc__ = time.sleep.__doc__
    time.sleep = sleep

_install_sleep()
del _install_sleep

def _wasmfarm_cancel_program():
    """Stop while the program awaits (asyncio.sleep, a fetch): its frame is suspended, and SIGINT would be raised in
    the event loop's own callbacks. As asyncio.Runner does on Ctrl+C, the program's task is cancelled instead, and
    run() reports KeyboardInterrupt. True if there was a task to cancel."""
    tasks = asyncio.all_tasks(asyncio.get_event_loop())
    return any([t.cancel() for t in tasks if getattr(t.get_coro(), "__qualname__", "") == "eval_code_async"])

# Stop raises KeyboardInterrupt in the program, which run() reports; with no handler Pyodide's event loop would
# rethrow it as an uncaught error too.
asyncio.get_event_loop()._keyboard_interrupt_handler = lambda: None

def _post(kind, data, mime=None):
    from wasmfarm_host import post
    post(kind, data, mime or "")

def display(obj):
    """Show rich output: HTML, SVG, PNG (bytes or objects with _repr_png_), matplotlib figures."""
    if hasattr(obj, "savefig"):
        buffer = io.BytesIO()
        obj.savefig(buffer, format="png", bbox_inches="tight")
        return _post("image", base64.b64encode(buffer.getvalue()).decode(), "image/png")
    for method, kind, mime in (("_repr_html_", "html", None), ("_repr_svg_", "html", None),
                               ("_repr_png_", "image", "image/png")):
        if hasattr(obj, method):
            value = getattr(obj, method)()
            if kind == "image" and isinstance(value, bytes):
                value = base64.b64encode(value).decode()
            return _post(kind, value, mime)
    if isinstance(obj, bytes) and obj[:8] == b"\\x89PNG\\r\\n\\x1a\\n":
        return _post("image", base64.b64encode(obj).decode(), "image/png")
    print(repr(obj))

builtins.display = display

def _install_matplotlib_backend():
    """matplotlib's default backend here (MPLBACKEND=module://wasmfarm_matplotlib_backend, the way matplotlib-inline
    plugs in): Agg draws, and plt.show() displays each open figure as PNG and closes it, as a notebook does; Agg's
    own show() only warns that it cannot show anything. The module is made when matplotlib imports it (matplotlib
    reads a backend's names from its namespace), so nothing of matplotlib is imported before a program does."""
    import importlib.util, os
    class Finder:
        name = "wasmfarm_matplotlib_backend"
        @classmethod
        def find_spec(cls, fullname, path=None, target=None):
            return importlib.util.spec_from_loader(fullname, cls) if fullname == cls.name else None
        @staticmethod
        def create_module(spec):
            return None
        @staticmethod
        def exec_module(module):
            from matplotlib.backend_bases import FigureManagerBase
            from matplotlib.backends.backend_agg import FigureCanvasAgg
            def show(*args, _display=display, **kwargs):  # the prelude's display, whatever a program names so
                import matplotlib.pyplot as plt
                for number in plt.get_fignums():
                    _display(plt.figure(number))
                plt.close("all")
            module.FigureCanvas, module.FigureManager, module.show = FigureCanvasAgg, FigureManagerBase, show
    sys.meta_path.append(Finder)
    os.environ.setdefault("MPLBACKEND", f"module://{Finder.name}")

_install_matplotlib_backend()
del _install_matplotlib_backend

def _install_wasmfarm_module():
    import os, types
    module = types.ModuleType("wasmfarm", "What the wasmfarm editor offers programs: get_secret(name, reason).")

    class SecretNotGranted(LookupError):
        """get_secret() of a secret the user did not give this program."""
        __module__, __qualname__ = "wasmfarm", "SecretNotGranted"

    granted, hint = {}, [""]

    def get_secret(name, reason=""):
        """The user's secret called name, if the user gave it to this program; the editor shows reason when asking."""
        if name not in granted:
            raise SecretNotGranted(f"the secret {name!r} was not given to this program: {hint[0]}")
        return granted[name]

    def start_run(secrets, how_to_grant):
        for name in granted:
            os.environ.pop(name, None)
        granted.clear()
        granted.update(secrets)
        os.environ.update(secrets)
        hint[0] = how_to_grant

    module.get_secret, module.SecretNotGranted = get_secret, SecretNotGranted
    sys.modules["wasmfarm"] = module
    return start_run

_wasmfarm_start_run = _install_wasmfarm_module()
del _install_wasmfarm_module

def _patch_matplotlib():
    """After a run: figures left open are shown. With the editor's backend its show() does that; a program that
    chose another backend gets Agg and a show() that displays."""
    if "matplotlib" not in sys.modules:
        return
    import matplotlib
    if matplotlib.get_backend() == "module://wasmfarm_matplotlib_backend":
        return
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    def show(*args, **kwargs):
        for number in plt.get_fignums():
            display(plt.figure(number))
        plt.close("all")
    plt.show = show
`;

// A memory snapshot of a freshly booted interpreter, kept in Cache Storage: later visits boot from it in a fraction
// of the time (Python's initialisation is the bulk of a boot). Pyodide's snapshot API is experimental, so any failure
// drops the snapshot and boots normally. In snapshot-making mode Pyodide wraps JS objects for serialisation, which
// breaks ordinary calls into `js`, so the user's interpreter never runs in it: a worker that runs no user code makes
// the snapshot (makeSnapshot), and user code never reaches Cache Storage (worker.js), so it cannot plant one.
const SNAPSHOTS = "wasmfarm-snapshots";

// A snapshot is kept per runtime and lock (the lock's packages are known to the interpreter from its boot on: the
// import hints of ModuleNotFoundError), under <runtime>/__snapshot__/<digest of the lock>; one per runtime, the newest.
async function lockDigest(lock) {
  const text = JSON.stringify(lock ?? null);
  if (globalThis.crypto?.subtle) {
    const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
    return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
  }
  let hash = 0x811c9dc5; // no crypto.subtle (plain http): FNV-1a and the length, enough for a cache key
  for (let i = 0; i < text.length; i++) hash = Math.imul(hash ^ text.charCodeAt(i), 0x01000193) >>> 0;
  return `fnv-${hash.toString(16)}-${text.length}`;
}

async function runtimeOptions(runtime, lock) {
  const base = `${origin}/pyodide/${runtime}/`;
  const { loadPyodide } = await import(base + "pyodide.mjs");
  const options = { indexURL: base, packageBaseUrl: base, lockFileContents: lock ? JSON.stringify(lock) : undefined };
  const snapshots = `${base}__snapshot__`;
  return { loadPyodide, options, snapshots, snapshotKey: `${snapshots}/${await lockDigest(lock)}` };
}

async function loadFromSnapshot(storage, loadPyodide, options, key) {
  try {
    const hit = await (await storage.open(SNAPSHOTS)).match(key);
    if (!hit) return null;
    return await loadPyodide({ ...options, _loadSnapshot: new Uint8Array(await hit.arrayBuffer()) });
  } catch {
    await storage.open(SNAPSHOTS).then((cache) => cache.delete(key)).catch(() => {});
    return null;
  }
}

// Makes the snapshot for this runtime and lock unless it is there; true when one was made.
export async function makeSnapshot(storage, { runtime, lock }) {
  const { loadPyodide, options, snapshots, snapshotKey } = await runtimeOptions(runtime, lock);
  const cache = await storage.open(SNAPSHOTS);
  if (await cache.match(snapshotKey)) return false;
  const spare = await loadPyodide({ ...options, _makeSnapshot: true });
  const headers = { "Content-Type": "application/octet-stream" };
  await cache.put(snapshotKey, new Response(spare.makeMemorySnapshot(), { headers }));
  for (const request of await cache.keys()) {
    if (request.url.startsWith(snapshots) && request.url !== snapshotKey) await cache.delete(request);
  }
  return true;
}

// storage: the CacheStorage snapshots are read from (the worker's, taken before user code can run), or none.
export function createHost(post, { storage = null } = {}) {
  let pyodide = null;
  let startRun = null; // the Python side of run(): the granted secrets into os.environ and wasmfarm.get_secret
  let flush = () => {}; // output held back for a few ms (worker_io.js)
  let micropipIndex = null; // the mirror's index for this runtime, set on micropip when a program imports it
  let signal = null; // the SIGINT word of the control buffer
  let cancelProgram = null;
  let program = null; // while a run runs: {cancelled} by Stop while it awaited

  // control: the SharedArrayBuffer shared with the page (run_control.js), or none (app mode).
  async function boot({ runtime, lock, control }) {
    const started = performance.now();
    const { loadPyodide, options, snapshotKey } = await runtimeOptions(runtime, lock);
    const restored = storage ? await loadFromSnapshot(storage, loadPyodide, options, snapshotKey) : null;
    pyodide = restored ?? (await loadPyodide(options));
    signal = control ? signalView(control) : null;
    if (signal) pyodide.setInterruptBuffer(signal); // Stop writes SIGINT in it
    flush = installIo(pyodide, post, control);
    micropipIndex = `${origin}/r/${encodeURIComponent(runtime)}/simple/{package_name}/`; // micropip's URL template
    pyodide.registerJsModule("wasmfarm_host", {
      post: (type, data, mime) => post(mime ? { type, data, mime } : { type, data }),
    });
    if (lock) {
      const names = Object.keys(lock.packages).filter((n) => n !== "micropip");
      const failures = [];
      await pyodide.loadPackage(names, { messageCallback: () => {}, errorCallback: (m) => failures.push(m) });
      if (failures.length) throw new Error(`could not load: ${failures.join("; ")}`);
    }
    await pyodide.runPythonAsync(PRELUDE, { filename: "<wasmfarm>" }); // a name traceback.js leaves out
    // What a run goes through before the program (finding its imports parses it with ast) is done here once: V8
    // compiles code at first use, and a restored interpreter has run little of its own (its first program took
    // ~0.9 s longer than the next; after a full boot ~0.1 s). Run is then instant once "ready", and a Stop pressed
    // early lands in the program, not in the run's preparation.
    await warmUpRun();
    startRun = pyodide.globals.get("_wasmfarm_start_run");
    pyodide.globals.delete("_wasmfarm_start_run");
    cancelProgram = pyodide.globals.get("_wasmfarm_cancel_program");
    pyodide.globals.delete("_wasmfarm_cancel_program");
    post({ type: "booted", ms: performance.now() - started, fromSnapshot: Boolean(restored) });
  }

  async function warmUpRun() {
    await pyodide.runPythonAsync(
      "import os, sys, importlib\nimportlib.invalidate_caches()\n[m for m in sys.modules if m + '.py' in os.listdir('.')]\n" +
        "def _wasmfarm_warm():\n    return sum(i * i for i in range(1000))\n_wasmfarm_warm()\ndel _wasmfarm_warm",
      { filename: "<wasmfarm>" },
    );
    await pyodide.loadPackagesFromImports("import os\n", { messageCallback: () => {} });
    flush();
  }

  // secrets: {name: value} the user granted this program; howToGrant: what get_secret says when a name is missing.
  async function run({ files, main, secrets, howToGrant }) {
    const started = performance.now();
    program = { cancelled: false };
    try {
      for (const [name, source] of Object.entries(files)) pyodide.FS.writeFile(name, source);
      const granted = pyodide.toPy(secrets ?? {});
      startRun(granted, howToGrant ?? "");
      granted.destroy();
      await pyodide.runPythonAsync(
        "import os, sys, importlib\nimportlib.invalidate_caches()\n" +
          "for _m in [m for m in sys.modules if m + '.py' in os.listdir('.') and m != '__main__']: del sys.modules[_m]",
      );
      await loadImported(files);
      await pyodide.runPythonAsync(files[main], { filename: main });
      await pyodide.runPythonAsync("_patch_matplotlib()\nimport sys\n'matplotlib.pyplot' in sys.modules and __import__('matplotlib.pyplot').pyplot.show()");
      flush();
      post({ type: "done", ok: true, ms: performance.now() - started });
    } catch (err) {
      flush();
      let full = String(err && err.message ? err.message : err);
      if (program.cancelled && err.type === "CancelledError") full = full.replace(/\n[^\n]*CancelledError[^\n]*\n?$/, "\nKeyboardInterrupt\n");
      const text = userTraceback(full);
      post(text === full ? { type: "error", text } : { type: "error", text, full });
      post({ type: "done", ok: false, ms: performance.now() - started });
    } finally {
      program = null;
    }
  }

  // The page's Stop message. The worker receives it only while Python is not running (a busy loop, time.sleep and
  // input() block the worker: SIGINT reaches them through the shared buffer first, and this message then finds the
  // run over), so a program still running now is suspended in an await.
  // lost: the SIGINT was raised in the event loop's own callbacks, out of the program's reach (worker.js).
  function interrupt({ lost = false } = {}) {
    if (!program || !signal) return;
    if (!lost && Atomics.load(signal, 0) !== SIGINT) return; // Python took the SIGINT: the program has it
    Atomics.store(signal, 0, 0); // taken here: not raised in the event loop's callbacks, nor in the call below
    if (cancelProgram()) program.cancelled = true;
    else if (!lost) Atomics.store(signal, 0, SIGINT); // nothing to cancel: left for Python's next check
  }

  // Packages of the lock that the program imports and the boot did not load: micropip (in every lock the server
  // makes, left out of the boot to keep it fast). micropip then installs from this mirror, never from PyPI.
  async function loadImported(files) {
    const failures = [];
    for (const [name, source] of Object.entries(files)) {
      if (!name.endsWith(".py")) continue;
      await pyodide.loadPackagesFromImports(source, { messageCallback: () => {}, errorCallback: (m) => failures.push(m) });
    }
    if (failures.length) throw new Error(`could not load: ${failures.join("; ")}`);
    if (micropipIndex && pyodide.loadedPackages.micropip) {
      const micropip = pyodide.pyimport("micropip");
      micropip.set_index_urls(micropipIndex);
      micropip.destroy();
      micropipIndex = null; // once: a program may set its own afterwards
    }
  }

  return { boot, run, interrupt };
}
