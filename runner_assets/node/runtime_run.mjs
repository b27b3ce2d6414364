// Boot Pyodide under Node from a mirror, load packages from its lock, run Python, print one JSON line.
//
// usage: node runtime_run.mjs <config.json>
//   config: { indexURL, lockFileURL?, packageBaseUrl, packageCacheDir, allowedOrigin, loadPackages: [..], code }
// Every fetch to an origin other than allowedOrigin is refused and reported: the mirror must be enough.
// Output: { ok, result, fetched: [urls], denied: [urls], messages: [..], error }
import { readFileSync } from "node:fs";
import { pathToFileURL } from "node:url";
import path from "node:path";

const config = JSON.parse(readFileSync(process.argv[2], "utf8"));
const out = { ok: false, fetched: [], denied: [], messages: [] };

const realFetch = globalThis.fetch;
globalThis.fetch = async (input, init) => {
  const url = String(input instanceof Request ? input.url : input);
  if (/^https?:/.test(url) && new URL(url).origin !== config.allowedOrigin) {
    out.denied.push(url);
    throw new Error(`refused: ${url} is not on the mirror (${config.allowedOrigin})`);
  }
  out.fetched.push(url);
  return realFetch(input, init);
};

try {
  const { loadPyodide } = await import(pathToFileURL(path.join(config.indexURL, "pyodide.mjs")).href);
  const pyodide = await loadPyodide({
    indexURL: config.indexURL,
    lockFileURL: config.lockFileURL,
    packageBaseUrl: config.packageBaseUrl,
    packageCacheDir: config.packageCacheDir,
    stdout: (line) => process.stderr.write(`[py] ${line}\n`),
    stderr: (line) => process.stderr.write(`[py:err] ${line}\n`),
  });
  const failures = [];
  await pyodide.loadPackage(config.loadPackages, {
    messageCallback: (m) => out.messages.push(m),
    errorCallback: (m) => { out.messages.push(m); failures.push(m); },
  });
  if (failures.length) throw new Error(`loadPackage failed: ${failures.join("; ")}`);
  let result = await pyodide.runPythonAsync(config.code ?? "None");
  if (result && typeof result === "object" && result.toJs) result = result.toJs();
  out.result = result;
  out.ok = true;
} catch (err) {
  out.error = String(err && err.message ? err.message : err);
}
process.stdout.write(JSON.stringify(out) + "\n");
process.exit(out.ok ? 0 : 1);
