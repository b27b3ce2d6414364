// The Pyodide host of the wasmfarm editor: boots Pyodide from this server with a server-made lock, runs programs,
// streams output. It runs in a Web Worker for the editor (the page never freezes, Stop can interrupt) and on the
// page's own thread in app mode (so Python can build the page through the js module).
//
// post(message): {type: "booted", ms} | {type: "stdout"|"stderr", text} | {type: "html"|"image", data, mime?}
//                | {type: "error", text} | {type: "done", ok, ms}

const origin = globalThis.location.origin;

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
import base64, builtins, io, sys

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

def _patch_matplotlib():
    if "matplotlib" not in sys.modules:
        return
    import matplotlib
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
// drops the snapshot and boots normally.
const SNAPSHOTS = "wasmfarm-snapshots";

async function cachedSnapshot(key) {
  try {
    const hit = await (await caches.open(SNAPSHOTS)).match(key);
    return hit ? new Uint8Array(await hit.arrayBuffer()) : null;
  } catch {
    return null;
  }
}

async function storeSnapshot(key, bytes) {
  try {
    await (await caches.open(SNAPSHOTS)).put(key, new Response(bytes, { headers: { "Content-Type": "application/octet-stream" } }));
  } catch {
    // storage full or unavailable: the next visit boots normally
  }
}

async function loadFromSnapshot(loadPyodide, options, key) {
  const snapshot = await cachedSnapshot(key);
  if (!snapshot) return null;
  try {
    return await loadPyodide({ ...options, _loadSnapshot: snapshot });
  } catch {
    await caches.open(SNAPSHOTS).then((cache) => cache.delete(key)).catch(() => {});
    return null;
  }
}

// In snapshot-making mode Pyodide wraps JS objects for serialisation, which breaks ordinary calls into `js`: the
// user's interpreter never runs in it. A throwaway interpreter makes the snapshot instead, after the first run.
async function makeSnapshotLater(loadPyodide, options, key) {
  try {
    const spare = await loadPyodide({ ...options, _makeSnapshot: true });
    await storeSnapshot(key, spare.makeMemorySnapshot());
  } catch {
    // no snapshot this time; the next visit boots normally
  }
}

export function createHost(post, { snapshots = false } = {}) {
  let pyodide = null;
  let pendingSnapshot = null; // made after the first run, when the user is reading output

  async function boot({ runtime, lock, interruptBuffer }) {
    const started = performance.now();
    const base = `${origin}/pyodide/${runtime}/`;
    const { loadPyodide } = await import(base + "pyodide.mjs");
    const options = { indexURL: base, packageBaseUrl: base, lockFileContents: lock ? JSON.stringify(lock) : undefined };
    const snapshotKey = `${base}__snapshot__`;
    const restored = snapshots ? await loadFromSnapshot(loadPyodide, options, snapshotKey) : null;
    pyodide = restored ?? (await loadPyodide(options));
    if (snapshots && !restored) pendingSnapshot = () => makeSnapshotLater(loadPyodide, options, snapshotKey);
    if (interruptBuffer) pyodide.setInterruptBuffer(interruptBuffer);
    pyodide.setStdout({ batched: (text) => post({ type: "stdout", text }) });
    pyodide.setStderr({ batched: (text) => post({ type: "stderr", text }) });
    pyodide.registerJsModule("wasmfarm_host", {
      post: (type, data, mime) => post(mime ? { type, data, mime } : { type, data }),
    });
    if (lock) {
      const names = Object.keys(lock.packages).filter((n) => n !== "micropip");
      const failures = [];
      await pyodide.loadPackage(names, { messageCallback: () => {}, errorCallback: (m) => failures.push(m) });
      if (failures.length) throw new Error(`could not load: ${failures.join("; ")}`);
    }
    await pyodide.runPythonAsync(PRELUDE);
    post({ type: "booted", ms: performance.now() - started, fromSnapshot: Boolean(restored) });
  }

  async function run({ files, main, env }) {
    const started = performance.now();
    try {
      for (const [name, source] of Object.entries(files)) pyodide.FS.writeFile(name, source);
      pyodide.globals.set("__wasmfarm_env", pyodide.toPy(env ?? {}));
      await pyodide.runPythonAsync(
        "import os, sys, importlib\nos.environ.update(__wasmfarm_env)\nimportlib.invalidate_caches()\n" +
          "for _m in [m for m in sys.modules if m + '.py' in os.listdir('.') and m != '__main__']: del sys.modules[_m]",
      );
      await pyodide.runPythonAsync(files[main], { filename: main });
      await pyodide.runPythonAsync("_patch_matplotlib()\nimport sys\n'matplotlib.pyplot' in sys.modules and __import__('matplotlib.pyplot').pyplot.show()");
      post({ type: "done", ok: true, ms: performance.now() - started });
      if (pendingSnapshot) setTimeout(pendingSnapshot, 500);
      pendingSnapshot = null;
    } catch (err) {
      post({ type: "error", text: String(err && err.message ? err.message : err) });
      post({ type: "done", ok: false, ms: performance.now() - started });
    }
  }

  return { boot, run };
}
