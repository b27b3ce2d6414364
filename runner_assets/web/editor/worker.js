// The editor's Web Worker: Python runs here, so the page never freezes; Stop interrupts it through a shared buffer.
import { createHost, routeThroughProxy } from "./pyodide_host.js";

routeThroughProxy(self);
const host = createHost((message) => postMessage(message), { snapshots: true });

self.onmessage = async ({ data }) => {
  try {
    if (data.type === "boot") await host.boot(data);
    else if (data.type === "run") await host.run(data);
  } catch (err) {
    postMessage({ type: "error", text: String(err && err.message ? err.message : err) });
    postMessage({ type: "done", ok: false, ms: 0 });
  }
};
