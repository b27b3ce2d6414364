// The memory the editor page shares with its Python worker (one SharedArrayBuffer; the page is cross-origin isolated):
// how Stop reaches Python while it computes, sleeps or waits for input, and how input() gets its answer. Used by the
// page (main.js, bundled) and by the worker (worker_io.js), so both sides read the same layout.
//
//   Int32 [0] SIGNAL  Pyodide's interrupt buffer (setInterruptBuffer): the page writes 2 (SIGINT), Python raises
//                     KeyboardInterrupt at its next check and resets it to 0.
//   Int32 [1] INPUT   input() handshake: the worker sets WAITING and blocks (Atomics.wait); the page writes the answer's
//                     UTF-8 bytes from byte 8 on, then its length + 1 here (or EOF), and wakes the worker.
//   bytes [8, 8 + MAX_INPUT_BYTES)  the answer.
export const SIGNAL = 0;
export const INPUT = 1;
export const WAITING = 0;
export const EOF = -1;
export const SIGINT = 2;
export const MAX_INPUT_BYTES = 64 * 1024;
const HEADER_BYTES = 8;

export function createControl() {
  return new SharedArrayBuffer(HEADER_BYTES + MAX_INPUT_BYTES);
}

const words = (buffer) => new Int32Array(buffer, 0, 2);

// The view Pyodide polls for SIGINT.
export const signalView = (buffer) => new Int32Array(buffer, 0, 1);

// Page side --------------------------------------------------------------------------------------------------------

// Stop: SIGINT for the interpreter, and a wake-up for a worker blocked in time.sleep() or input().
export function interrupt(buffer) {
  const control = words(buffer);
  Atomics.store(control, SIGNAL, SIGINT);
  Atomics.notify(control, SIGNAL);
  Atomics.notify(control, INPUT);
}

// Before a run: no stale SIGINT from a Stop that arrived after the last run ended.
export function clearSignal(buffer) {
  Atomics.store(words(buffer), SIGNAL, 0);
}

// Hands input() its answer (a string without the newline) or EOF (null). An answer longer than the buffer is cut
// at a character boundary.
export function answerInput(buffer, text) {
  const control = words(buffer);
  if (text === null) {
    Atomics.store(control, INPUT, EOF);
  } else {
    const bytes = new Uint8Array(MAX_INPUT_BYTES); // encodeInto refuses shared memory: encode, then copy
    const { written } = new TextEncoder().encodeInto(`${text}\n`, bytes);
    new Uint8Array(buffer, HEADER_BYTES, MAX_INPUT_BYTES).set(bytes.subarray(0, written));
    Atomics.store(control, INPUT, written + 1);
  }
  Atomics.notify(control, INPUT);
}

// Worker side ------------------------------------------------------------------------------------------------------

export const interrupted = (buffer) => Atomics.load(words(buffer), SIGNAL) !== 0;

// Blocks for `seconds`, or until Stop. Returns early only when interrupted.
export function sleepUnlessInterrupted(buffer, seconds) {
  const control = words(buffer);
  const until = performance.now() + Math.max(0, seconds) * 1000;
  for (let left = until - performance.now(); left > 0 && !interrupted(buffer); left = until - performance.now()) {
    Atomics.wait(control, SIGNAL, 0, left);
  }
}

// Blocks until the page answers (the answer's bytes, ending in a newline), EOF (null) or Stop ("interrupted").
export function waitForAnswer(buffer) {
  const control = words(buffer);
  for (;;) {
    if (interrupted(buffer)) return "interrupted";
    const state = Atomics.load(control, INPUT);
    if (state === EOF) return null;
    if (state > 0) return new Uint8Array(buffer, HEADER_BYTES, state - 1).slice();
    Atomics.wait(control, INPUT, WAITING, 1000);
  }
}

export function expectInput(buffer) {
  Atomics.store(words(buffer), INPUT, WAITING);
}
