// The editor's Web Worker: Python runs here, so the page never freezes; Stop interrupts it through a shared buffer.
// User code gets no storage of this origin: Cache Storage holds the service worker's copies of the editor and the
// interpreter snapshots, which a hostile program could otherwise replace, so both are taken away before it runs,
// with nested workers (a fresh global would have them back).
import { meterFetches } from "./boot_progress.js";
import { createHost, makeSnapshot, routeThroughProxy } from "./pyodide_host.js";

const storage = self.caches;
for (const name of ["caches", "indexedDB", "Worker"]) {
  for (let scope = self; scope; scope = Object.getPrototypeOf(scope)) delete scope[name];
  if (name in self) throw new Error(`worker.js could not take ${name} away from user code`);
}

routeThroughProxy(self);
let meter = null; // bytes fetched while booting (the page's progress bar), reported before "booted"
const host = createHost((message) => {
  if (message.type === "booted") meter?.stop();
  postMessage(message);
}, { storage });

// A Stop whose SIGINT Python raised in its event loop's own callbacks (a race with the interrupt message) never
// reached the program: it is not an error of the worker, and the program is cancelled as if it had been.
// (Pyodide runs the loop's callbacks as promises: the error arrives as an unhandled rejection.)
function lostInterrupt(event, error) {
  if (!/KeyboardInterrupt/.test(String(error?.message ?? error))) return;
  event.preventDefault();
  host.interrupt({ lost: true });
}
self.addEventListener("unhandledrejection", (event) => lostInterrupt(event, event.reason));
self.addEventListener("error", (event) => lostInterrupt(event, event.error ?? event.message));

self.onmessage = async ({ data }) => {
  try {
    if (data.type === "boot") {
      meter = meterFetches(self, (bytes) => postMessage({ type: "progress", ...bytes }));
      try {
        await host.boot(data);
      } finally {
        meter.stop(); // before user code runs: its fetches are its own
      }
    }
    else if (data.type === "run") await host.run(data);
    else if (data.type === "interrupt") host.interrupt();
    else if (data.type === "snapshot") {
      postMessage({ type: "snapshot", made: await makeSnapshot(storage, data) });
    }
  } catch (err) {
    postMessage({ type: "error", text: String(err && err.message ? err.message : err) });
    postMessage({ type: "done", ok: false, ms: 0 });
  }
};
