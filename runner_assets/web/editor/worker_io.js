// Python's standard streams, time.sleep and input() in the editor's worker.
//
// Output streams as it is printed: every write Python makes (its stdout is line-buffered, see PRELUDE) is posted at
// once, or within COALESCE_MS of the previous post when writes come faster (a tight print loop would otherwise send
// a message per line). While Python computes, the worker's event loop does not run, so text held back is sent with
// the next write, before a sleep or an input(), and at the end of the run.
//
// With the shared control buffer (run_control.js; the page is cross-origin isolated):
// - time.sleep() blocks on Atomics.wait, which Stop wakes, then raises KeyboardInterrupt in the sleeping frame.
//   (Pyodide's own time.sleep suspends the interpreter through JSPI and lets its event loop run, where the interrupt
//   lands in the loop's callbacks instead of the program.)
// - input() posts {type: "input"} and blocks until the page writes the answer, EOF, or Stop.
import { expectInput, interrupted, sleepUnlessInterrupted, waitForAnswer } from "./run_control.js";

const COALESCE_MS = 5;

// post(message) with {type: "stdout"|"stderr", text}; returns the two Pyodide writers and flush().
export function createStreams(post) {
  const decoders = { stdout: new TextDecoder(), stderr: new TextDecoder() };
  let pending = []; // [kind, text] in the order written: stdout and stderr stay interleaved as printed
  let lastPost = -Infinity;
  let timer = null;

  function flush() {
    clearTimeout(timer);
    timer = null;
    for (const [kind, text] of pending) post({ type: kind, text });
    pending = [];
    lastPost = performance.now();
  }

  function writer(kind) {
    return {
      write(bytes) {
        const text = decoders[kind].decode(bytes, { stream: true });
        const last = pending.at(-1);
        if (last && last[0] === kind) last[1] += text;
        else pending.push([kind, text]);
        if (performance.now() - lastPost >= COALESCE_MS) flush();
        else timer ??= setTimeout(flush, COALESCE_MS);
        return bytes.length;
      },
    };
  }

  return { stdout: writer("stdout"), stderr: writer("stderr"), flush };
}

// Installs stdout/stderr on pyodide and, given the control buffer, stdin and the functions PRELUDE's time.sleep
// calls (registered as the Python module wasmfarm_io). Returns flush().
export function installIo(pyodide, post, control) {
  const streams = createStreams(post);
  pyodide.setStdout(streams.stdout);
  pyodide.setStderr(streams.stderr);
  if (!control) return streams.flush;
  pyodide.setStdin({
    // autoEOF (the default) ends a read after one answer; no EOF follows an answer that ends in a newline (ours do)
    stdin() {
      streams.flush(); // the prompt, before the page shows the answer field after it
      expectInput(control);
      post({ type: "input" });
      const answer = waitForAnswer(control);
      if (answer === "interrupted") pyodide.checkInterrupt(); // Python's read sees EINTR, then KeyboardInterrupt
      return answer === "interrupted" ? null : answer;
    },
  });
  pyodide.registerJsModule("wasmfarm_io", {
    sleep(seconds) {
      streams.flush();
      sleepUnlessInterrupted(control, seconds);
      if (interrupted(control)) pyodide.checkInterrupt(); // raises KeyboardInterrupt in the sleeping frame
    },
  });
  return streams.flush;
}
