// Boot the real Pyodide under Node, install packages with micropip from a wasmfarm index, run Python, print JSON.
//
// usage: node micropip_run.mjs <config.json>
//   config: { pyodideDir, packageCacheDir, packageBaseUrl, indexUrls: [..], install: [..], code }
// micropip itself is loaded from packageCacheDir (Node looks there before packageBaseUrl; it checks no hashes).
// Prints one JSON line: { ok, result, installed: {name: {version, source}}, error }.
import { readFileSync } from "node:fs";
import { pathToFileURL } from "node:url";
import path from "node:path";

const config = JSON.parse(readFileSync(process.argv[2], "utf8"));
const { loadPyodide } = await import(pathToFileURL(path.join(config.pyodideDir, "pyodide.mjs")).href);

const out = { ok: false };
try {
  const pyodide = await loadPyodide({
    indexURL: config.pyodideDir + path.sep,
    packageCacheDir: config.packageCacheDir,
    packageBaseUrl: config.packageBaseUrl,
    stdout: (line) => process.stderr.write(`[py] ${line}\n`),
    stderr: (line) => process.stderr.write(`[py:err] ${line}\n`),
  });
  await pyodide.loadPackage("micropip");
  pyodide.globals.set("index_urls", pyodide.toPy(config.indexUrls));
  pyodide.globals.set("to_install", pyodide.toPy(config.install));
  await pyodide.runPythonAsync(`
import micropip
micropip.set_index_urls(list(index_urls))
await micropip.install(list(to_install))
`);
  const installed = pyodide.runPython(`
import json, micropip
json.dumps({name: {"version": p.version, "source": p.source} for name, p in micropip.list().items()})
`);
  out.installed = JSON.parse(installed);
  out.result = await pyodide.runPythonAsync(config.code ?? "None");
  if (out.result !== undefined && out.result !== null && typeof out.result === "object" && out.result.toJs) {
    out.result = out.result.toJs();
  }
  out.ok = true;
} catch (err) {
  out.error = String(err && err.message ? err.message : err);
}
process.stdout.write(JSON.stringify(out) + "\n");
process.exit(out.ok ? 0 : 1);
