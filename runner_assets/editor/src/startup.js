// Start-up: the editor boots Python in the background as soon as the page is ready (and again, debounced, when the
// requirements or the runtime change), so Run is instant; a progress bar shows the bytes the worker fetches (runtime
// files and the lock's wheels, counted in the worker: boot_progress.js); once a worker has booted, a second worker
// that runs no user code makes the memory snapshot the next visits boot from (pyodide_host.js keeps one per runtime
// and lock), whether or not anything was run.
//
// For tests and the benchmark: window.wasmfarmReady (ms since navigation when the first background boot was ready)
// and window.wasmfarmSnapshot ("making", "stored", "kept": there already, "failed").
const RELOCK_DELAY_MS = 800;
const SNAPSHOT_DELAY_MS = 500; // after the boot's own work, out of the way of a first Run

const megabytes = (bytes) => (bytes / 1e6).toFixed(1);

// bar: the <progress> element (hidden while nothing boots).
export function createProgress(bar) {
  let shown = false;
  return {
    start() {
      if (!bar) return;
      shown = true;
      bar.removeAttribute("value"); // indeterminate until the first bytes arrive
      bar.hidden = false;
    },
    update({ loaded, total }) {
      if (!bar || !shown || !(total > 0)) return;
      bar.max = total;
      bar.value = Math.min(loaded, total);
      bar.title = `${megabytes(loaded)} of ${megabytes(total)} MB`;
      bar.setAttribute("aria-valuetext", `${megabytes(loaded)} of ${megabytes(total)} megabytes`);
      window.wasmfarmProgress = { loaded, total, updates: (window.wasmfarmProgress?.updates ?? 0) + 1 };
    },
    stop() {
      if (!bar) return;
      shown = false;
      bar.hidden = true;
    },
  };
}

// warm(): boots what the editor's state asks for if no worker has it (main.js); returns a promise.
export function createStartup({ warm }) {
  let timer = null;

  // Requirements or runtime edited: boot for them when typing pauses.
  function relockSoon() {
    clearTimeout(timer);
    timer = setTimeout(() => warm().catch(() => {}), RELOCK_DELAY_MS);
  }

  return { relockSoon };
}

let snapshotFor = null; // the runtime and lock the last snapshot was asked for

// Makes the interpreter snapshot of this runtime and lock, in a worker that runs no user code (worker.js takes the
// storage away from user code; this one only ever gets the "snapshot" message).
export function snapshotSoon(workerUrl, { runtime, lock }) {
  const key = `${runtime}\n${JSON.stringify(lock)}`;
  if (snapshotFor === key || !self.caches) return;
  snapshotFor = key;
  window.wasmfarmSnapshot = "making";
  setTimeout(() => {
    const maker = new Worker(workerUrl, { type: "module" });
    maker.onmessage = ({ data }) => {
      if (data.type === "snapshot") window.wasmfarmSnapshot = data.made ? "stored" : "kept";
      else if (data.type === "error") window.wasmfarmSnapshot = "failed";
      if (data.type === "snapshot" || data.type === "done") maker.terminate(); // made, or failed
    };
    maker.onerror = () => {
      window.wasmfarmSnapshot = "failed";
      maker.terminate();
    };
    maker.postMessage({ type: "snapshot", runtime, lock });
  }, SNAPSHOT_DELAY_MS);
}
