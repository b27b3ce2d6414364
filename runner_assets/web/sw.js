// wasmfarm service worker: makes the editor work offline after the first visit.
// Runtime files and wheels are immutable (versioned or content-addressed): cache first. Pages, the editor bundle
// and locks: network first, the cache when offline.
const CACHE = "wasmfarm-v1";
const IMMUTABLE = [/\/pyodide\/[^/]+\/(?!pyodide-lock\.json)[^/]+$/, /\/files\//];

const RUNTIMES = new URL(self.location.href).searchParams.getAll("runtime");
const CORE = ["pyodide.mjs", "pyodide.asm.mjs", "pyodide.asm.wasm", "python_stdlib.zip", "pyodide-lock.json"];
const SHELL = ["editor", "app", "runner/editor.css", "runner/editor/editor.js", "runner/editor/worker.js",
               "runner/editor/pyodide_host.js", "runner/editor/output.html", "runner/editor/output_frame.js",
               "runner/editor/packages.css"];

self.addEventListener("install", (event) => {
  // The first visit precaches the editor and each runtime's core files; wheels are cached as they are used.
  const urls = [...SHELL, ...RUNTIMES.flatMap((r) => CORE.map((f) => `pyodide/${r}/${f}`))];
  event.waitUntil(caches.open(CACHE).then((cache) => cache.addAll(urls)).then(() => self.skipWaiting()));
});
self.addEventListener("activate", (event) => event.waitUntil(self.clients.claim()));

self.addEventListener("fetch", (event) => {
  const request = event.request;
  const url = new URL(request.url);
  if (request.method !== "GET" || url.origin !== self.location.origin || url.pathname.startsWith("/proxy")) return;
  if (url.pathname.includes("/-/")) return; // answers to queries (completion, imports): no copy to serve offline
  if (IMMUTABLE.some((pattern) => pattern.test(url.pathname))) {
    event.respondWith(
      caches.open(CACHE).then(async (cache) => {
        const hit = await cache.match(request);
        if (hit) return hit;
        const response = await fetch(request);
        if (response.ok) cache.put(request, response.clone());
        return response;
      }),
    );
    return;
  }
  event.respondWith(
    fetch(request)
      .then((response) => {
        if (response.ok) caches.open(CACHE).then((cache) => cache.put(request, response.clone()));
        return response;
      })
      .catch(() => caches.match(request, { ignoreSearch: true }).then((hit) => hit ?? Response.error())),
  );
});
