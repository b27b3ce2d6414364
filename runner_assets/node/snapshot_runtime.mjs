// A memory snapshot of a freshly booted runtime, for verifications to restore instead of booting
// (farm/verify/snapshot.py). Runs nothing but the runtime and its standard library: no wheel, no test, no index. Run in the sandbox by
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
// What micropip imports from the standard library, imported once here: every check imports micropip before the
// wheel under test, so each restored Pyodide starts where the check would have got to anyway (about 0.3 s less per
// wheel). micropip itself cannot be in the snapshot (loadPackage leaves JavaScript objects a snapshot cannot hold).
pyodide.runPython(`
import importlib
for name in ("asyncio", "email.parser", "email.message", "importlib.metadata", "tarfile", "zipfile", "html.parser",
             "ipaddress", "urllib.parse", "platform", "sysconfig", "hashlib", "json"):
    try:
        importlib.import_module(name)
    except ImportError:
        pass  # a runtime without it: the check imports what it needs itself
`);
const snapshot = pyodide.makeMemorySnapshot();
writeFileSync(out, snapshot);
process.stderr.write(`snapshot of ${pyodideDir}: ${snapshot.length} bytes in ${Math.round(performance.now() - started)} ms\n`);
process.exit(0);
