// Tracebacks as the user wants them: the program's own frames, without the frames of Pyodide's runner
// (/lib/python3XX.zip/_pyodide/... and pyodide/...) that every error passes through, nor those of the editor's own
// Python (<wasmfarm>: time.sleep) and JavaScript (http://...: the worker, Pyodide) that a KeyboardInterrupt from
// Stop passes through. Hand-rolled: a traceback is
// plain text here (PythonError.message), and its shape is fixed by CPython's traceback module: a frame is a line
// `  File "...", line N, in f` followed by lines indented by four spaces (source, carets, "...<N lines>...").
const FRAME = /^ {2}File "/;
const INTERNAL_FRAME = /^ {2}File "(\/lib\/python3[^/"]*\/_?pyodide\/|<wasmfarm>"|https?:\/\/)/;
const HEADER = "Traceback (most recent call last):";

export function userTraceback(text) {
  const kept = [];
  let skipping = false;
  for (const line of text.split("\n")) {
    if (FRAME.test(line)) skipping = INTERNAL_FRAME.test(line);
    else if (!line.startsWith("    ")) skipping = false;
    if (!skipping) kept.push(line);
  }
  // A header left with no frame under it (a SyntaxError in main.py: only the runner's frames were above it).
  return kept
    .filter((line, i) => line !== HEADER || (kept[i + 1] ?? "").match(/^ {2}File ".*", line \d+, in /))
    .join("\n");
}
