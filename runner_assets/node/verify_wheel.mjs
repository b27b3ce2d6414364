// The import check of a verification: each wheel installed with micropip (its dependencies from the farm's index)
// into a Pyodide of its own, then every module the recipe names imported. Run inside the verification's sandbox by
// farm/verify/session.py.
//
// usage: node --expose-gc verify_wheel.mjs <config.json>
//   config: { pyodideDir, packageBaseUrl, indexUrls: [..], snapshot?, wheels: [{ wheel, imports: [..] }] }
// Prints one JSON line per wheel as it is done:
//   { index, installed: {name: version}, fetched: [{name, version, url, sha256}], imports: {module: ok|traceback},
//     error, seconds }
// and Pyodide's output on stderr as "[<index>] line".
//
// Isolation: with several wheels, the runtime boots once, a memory snapshot of the fresh interpreter is taken, and
// every wheel gets its own Pyodide restored from it (its own wasm memory, file system and sys.modules), so no wheel
// sees a module another one installed. Restoring takes about 0.2 s where a boot takes 2.5-3 s. With the farm's
// cached snapshot (config.snapshot) nothing boots at all.
import { readFileSync } from "node:fs";
import { pathToFileURL } from "node:url";
import path from "node:path";

const config = JSON.parse(readFileSync(process.argv[2], "utf8"));

// Every Pyodide of this process instantiates the same runtime module: compile it once, not once per wheel (V8
// compiles 9.6 MB of wasm on four background threads each time, about as much CPU as the check itself). Only the
// runtime's own pyodide.asm.wasm, recognised byte for byte, is kept; every instance still gets its own memory.
const runtimeWasm = readFileSync(path.join(config.pyodideDir, "pyodide.asm.wasm"));
const instantiate = WebAssembly.instantiate;
let runtimeModule = null;
WebAssembly.instantiate = async function (source, imports) {
  if (ArrayBuffer.isView(source) && source.byteLength === runtimeWasm.byteLength) {
    const bytes = Buffer.from(source.buffer, source.byteOffset, source.byteLength);
    if (bytes.equals(runtimeWasm)) {
      runtimeModule ??= await WebAssembly.compile(runtimeWasm);
      return { instance: await instantiate(runtimeModule, imports), module: runtimeModule };
    }
  }
  return instantiate.call(WebAssembly, source, imports);
};
const { loadPyodide } = await import(pathToFileURL(path.join(config.pyodideDir, "pyodide.mjs")).href);

const CHECK = `
import importlib, json, traceback
from importlib.metadata import distributions
import micropip

micropip.set_index_urls(list(cfg["indexUrls"]))
report = {"installed": {}, "fetched": [], "imports": {}}
try:
    await micropip.install("emfs:/tmp/wheels/" + cfg["wheelName"])
except BaseException:
    report["error"] = "micropip could not install " + cfg["wheelName"] + ":\\n" + traceback.format_exc(limit=-3)
else:
    report["installed"] = {name: p.version for name, p in micropip.list().items()}
    for dist in distributions():
        url = dist.read_text("PYODIDE_URL") or ""
        if url.startswith(("http://", "https://")):  # from the index (not the lock, not the wheel under test)
            report["fetched"].append({"name": dist.name, "version": dist.version, "url": url,
                                      "sha256": dist.read_text("PYODIDE_SHA256")})
    for module in cfg["imports"]:
        try:
            importlib.import_module(module)
            report["imports"][module] = "ok"
        except BaseException:
            report["imports"][module] = traceback.format_exc(limit=-3)
json.dumps(report)
`;

function options(index) {
  return {
    indexURL: config.pyodideDir + path.sep,
    packageCacheDir: config.pyodideDir,
    packageBaseUrl: config.packageBaseUrl,
    stdout: (line) => process.stderr.write(`[${index}] ${line}\n`),
    stderr: (line) => process.stderr.write(`[${index}] ${line}\n`),
  };
}

async function check(pyodide, index, item) {
  const out = { index, installed: {}, fetched: [], imports: {} };
  const started = performance.now();
  try {
    await pyodide.loadPackage("micropip", { messageCallback: () => {} });
    const name = path.basename(item.wheel);
    pyodide.FS.mkdirTree("/tmp/wheels");
    pyodide.FS.writeFile(`/tmp/wheels/${name}`, readFileSync(item.wheel));
    pyodide.globals.set("cfg", pyodide.toPy({ indexUrls: config.indexUrls, imports: item.imports, wheelName: name }));
    Object.assign(out, JSON.parse(await pyodide.runPythonAsync(CHECK)));
  } catch (err) {
    out.error = String(err && err.message ? err.message : err);
  }
  out.seconds = (performance.now() - started) / 1000;
  process.stdout.write(JSON.stringify(out) + "\n");
}

const wheels = config.wheels;

// Every wheel's Pyodide is restored from a snapshot: the farm's cached one (config.snapshot, made beforehand by
// snapshot_runtime.mjs in a sandbox that ran nothing else), else one made here by booting once. A single wheel with
// no cached snapshot just boots. A cached snapshot that does not restore is dropped (said on stderr) and the runtime
// boots, so a bad cache never fails a wheel.
let snapshot = config.snapshot ? readFileSync(config.snapshot) : null;
let cached = snapshot !== null;

async function fresh(index) {
  if (snapshot) {
    try {
      return await loadPyodide({ ...options(index), _loadSnapshot: snapshot });
    } catch (err) {
      if (!cached) throw err;
      process.stderr.write(`[boot] the cached runtime snapshot did not restore (${err}); booting instead\n`);
      snapshot = null;
      cached = false;
    }
  }
  if (wheels.length === 1) return loadPyodide(options(index));
  const base = await loadPyodide({ ...options("boot"), _makeSnapshot: true });
  snapshot = base.makeMemorySnapshot();
  return loadPyodide({ ...options(index), _loadSnapshot: snapshot });
}

for (const [index, item] of wheels.entries()) {
  let pyodide;
  try {
    pyodide = await fresh(index);
  } catch (err) {
    process.stdout.write(JSON.stringify({ index, error: `restoring the runtime failed: ${err}` }) + "\n");
    continue;
  }
  await check(pyodide, index, item);
  pyodide = null;
  globalThis.gc?.(); // the previous wheel's wasm memory goes before the next one is made
}
process.exit(0);
