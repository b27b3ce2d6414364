// Verify a built wheel in a fresh Pyodide under Node: install it with micropip (its dependencies from the farm's
// index), import every module the recipe names, run every test_* function of the recipe's test file.
//
// usage: node verify_wheel.mjs <config.json>
//   config: { pyodideDir, packageCacheDir, packageBaseUrl, indexUrls: [..], wheel, imports: [..], testSource }
// Prints one JSON line: { ok, installed, imports: {name: ok|error}, tests: {name: ok|error}, error }.
import { readFileSync } from "node:fs";
import { pathToFileURL } from "node:url";
import path from "node:path";

const config = JSON.parse(readFileSync(process.argv[2], "utf8"));
const { loadPyodide } = await import(pathToFileURL(path.join(config.pyodideDir, "pyodide.mjs")).href);

const out = { ok: false, imports: {}, tests: {} };
try {
  const pyodide = await loadPyodide({
    indexURL: config.pyodideDir + path.sep,
    packageCacheDir: config.packageCacheDir,
    packageBaseUrl: config.packageBaseUrl,
    stdout: (line) => process.stderr.write(`[py] ${line}\n`),
    stderr: (line) => process.stderr.write(`[py:err] ${line}\n`),
  });
  await pyodide.loadPackage("micropip");
  const name = path.basename(config.wheel);
  pyodide.FS.writeFile(`/tmp/${name}`, readFileSync(config.wheel));
  pyodide.globals.set("cfg", pyodide.toPy({ ...config, wheelName: name }));
  const report = await pyodide.runPythonAsync(`
import importlib, json, traceback, micropip
micropip.set_index_urls(list(cfg["indexUrls"]))
await micropip.install("emfs:/tmp/" + cfg["wheelName"])
report = {"installed": {n: p.version for n, p in micropip.list().items()}, "imports": {}, "tests": {}}
for module in cfg["imports"]:
    try:
        importlib.import_module(module)
        report["imports"][module] = "ok"
    except BaseException:
        report["imports"][module] = traceback.format_exc(limit=-3)
if cfg.get("testSource"):
    namespace = {"__name__": "recipe_test"}
    exec(compile(cfg["testSource"], "test_recipe.py", "exec"), namespace)
    for test_name, func in sorted(namespace.items()):
        if test_name.startswith("test_") and callable(func):
            try:
                result = func()
                if hasattr(result, "__await__"):
                    await result
                report["tests"][test_name] = "ok"
            except BaseException:
                report["tests"][test_name] = traceback.format_exc(limit=-3)
json.dumps(report)
`);
  Object.assign(out, JSON.parse(report));
  out.ok = Object.values(out.imports).every((v) => v === "ok") && Object.values(out.tests).every((v) => v === "ok");
} catch (err) {
  out.error = String(err && err.message ? err.message : err);
}
process.stdout.write(JSON.stringify(out) + "\n");
process.exit(0);
