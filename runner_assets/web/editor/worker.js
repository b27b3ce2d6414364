// The editor's Web Worker: Python runs here, so the page never freezes; Stop interrupts it through a shared buffer.
// User code gets no storage of this origin: Cache Storage holds the service worker's copies of the editor and the
// interpreter snapshots, which a hostile program could otherwise replace, so both are taken away before it runs,
// with nested workers (a fresh global would have them back).
import { createHost, makeSnapshot, routeThroughProxy } from "./pyodide_host.js";

const storage = self.caches;
for (const name of ["caches", "indexedDB", "Worker"]) {
  for (let scope = self; scope; scope = Object.getPrototypeOf(scope)) delete scope[name];
  if (name in self) throw new Error(`worker.js could not take ${name} away from user code`);
}

routeThroughProxy(self);
const host = createHost((message) => postMessage(message), { storage });

// A Stop that reached Pyodide's event loop machinery instead of the program (it raced the interrupt message, which
// then cancels the program) is not an error of the worker.
self.addEventListener("error", (event) => {
  if (/KeyboardInterrupt/.test(event.message)) event.preventDefault();
});

self.onmessage = async ({ data }) => {
  try {
    if (data.type === "boot") await host.boot(data);
    else if (data.type === "run") await host.run(data);
    else if (data.type === "interrupt") host.interrupt();
    else if (data.type === "snapshot") {
      await makeSnapshot(storage, data);
      postMessage({ type: "snapshot" });
    }
  } catch (err) {
    postMessage({ type: "error", text: String(err && err.message ? err.message : err) });
    postMessage({ type: "done", ok: false, ms: 0 });
  }
};
