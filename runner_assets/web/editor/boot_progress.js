// Bytes fetched while the worker boots Pyodide, for the editor's progress bar: the runtime's files and the lock's
// wheels, counted as their bodies stream in (decoded bytes, as Pyodide gets them), against the sizes their responses
// announce (Content-Length, or X-Decoded-Length when the server sent a compressed variant). Pyodide fetches the
// runtime's files at once and the wheels after the interpreter is up, so the total grows when the wheels start.
// pyodide.mjs and pyodide.asm.mjs come through import(), not fetch: they are counted when the browser reports them
// as loaded (Resource Timing).
//
// meterFetches(scope, report) wraps scope.fetch until stop(); report({loaded, total}) at most every REPORT_MS and
// once more at stop().
const REPORT_MS = 50;

function announcedSize(response) {
  const decoded = Number(response.headers.get("X-Decoded-Length"));
  if (decoded > 0) return decoded;
  if (response.headers.get("Content-Encoding")) return 0; // compressed, no decoded size given: counted as it comes
  return Number(response.headers.get("Content-Length")) || 0;
}

export function meterFetches(scope, report) {
  let loaded = 0;
  let total = 0;
  let last = 0;
  let metering = true;
  const send = (force = false) => {
    const now = performance.now();
    if (!force && now - last < REPORT_MS) return;
    last = now;
    report({ loaded, total: Math.max(total, loaded) });
  };

  const realFetch = scope.fetch;
  scope.fetch = async (input, init) => {
    const response = await realFetch(input, init);
    if (!metering || !response.body || !response.ok) return response;
    total += announcedSize(response);
    send();
    const counter = new TransformStream({
      transform(chunk, controller) {
        if (metering) {
          loaded += chunk.byteLength;
          send();
        }
        controller.enqueue(chunk);
      },
    });
    // Same status and headers (Content-Type matters: WebAssembly.instantiateStreaming wants application/wasm).
    const { status, statusText, headers } = response;
    return new Response(response.body.pipeThrough(counter), { status, statusText, headers });
  };

  let observer = null;
  try {
    observer = new PerformanceObserver((entries) => {
      for (const entry of entries.getEntries()) {
        if (!metering || entry.initiatorType === "fetch" || !/\/pyodide(\.asm)?\.mjs$/.test(entry.name)) continue;
        loaded += entry.decodedBodySize;
        total += entry.decodedBodySize;
        send();
      }
    });
    observer.observe({ type: "resource", buffered: true });
  } catch {
    observer = null; // no Resource Timing here: the two scripts are not counted
  }

  return {
    stop() {
      if (!metering) return;
      observer?.disconnect();
      send(true);
      metering = false;
      scope.fetch = realFetch;
    },
  };
}
