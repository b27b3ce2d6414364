// A memory snapshot of a freshly booted runtime, for verifications to restore instead of booting
// (farm/verify/snapshot.py). Runs nothing but the runtime: no wheel, no test, no index. Run in the sandbox by
// farm/build/verify.py.
//
// usage: node snapshot_runtime.mjs <pyodideDir> <out>
import { writeFileSync } from "node:fs";
import { pathToFileURL } from "node:url";
import path from "node:path";

const [pyodideDir, out] = process.argv.slice(2);
const { loadPyodide } = await import(pathToFileURL(path.join(pyodideDir, "pyodide.mjs")).href);
const started = performance.now();
const pyodide = await loadPyodide({ indexURL: pyodideDir + path.sep, _makeSnapshot: true });
const snapshot = pyodide.makeMemorySnapshot();
writeFileSync(out, snapshot);
process.stderr.write(`snapshot of ${pyodideDir}: ${snapshot.length} bytes in ${Math.round(performance.now() - started)} ms\n`);
process.exit(0);
