// The output pane: text as text; images as data URLs; HTML in a sandboxed frame of its own (an opaque origin, so
// scripts in it run, but cannot reach the editor's page or storage). App mode, whose page is the program's own
// (an opaque origin already), shows HTML inline. Printed text streams into the block it continues; input() asks in
// a field after the prompt; a traceback shows the program's frames, the full one behind a toggle.
const IMAGE = /^image\/(png|jpeg|gif|webp|svg\+xml)$/;
const MAX_FRAME_HEIGHT = 4000;

// onTraceback(pre, text): called with each traceback shown (error_marks.js makes its frames links).
export function createOutput(pane, { appMode, onTraceback }) {
  function append(node) {
    flush();
    window.wasmfarmFirstOutput ??= performance.now(); // ms since navigation: what the benchmark reads
    pane.append(node);
    pane.scrollTop = pane.scrollHeight;
  }

  function text(kind, value) {
    append(Object.assign(document.createElement("pre"), { className: `out-${kind}`, textContent: value }));
  }

  // stdout/stderr as written (newlines included): continues the last block when it is of the same stream. Text is
  // put on the page once per frame (a print loop sends hundreds of messages a second; laying the pane out for each
  // froze the page for seconds); anything else shown, and the end of a run (flush), puts it there first.
  let pending = null; // {kind, text}
  let frame = null;
  function stream(kind, value) {
    window.wasmfarmFirstOutput ??= performance.now(); // on arrival, as before text waited for a frame
    if (pending && pending.kind !== kind) flush();
    pending ??= { kind, text: "" };
    pending.text += value;
    frame ??= requestAnimationFrame(flush);
  }

  function flush() {
    cancelAnimationFrame(frame);
    frame = null;
    if (!pending) return;
    const { kind, text: value } = pending;
    pending = null;
    const last = pane.lastElementChild;
    if (last?.tagName === "PRE" && last.className === `out-${kind}`) {
      last.append(value);
      pane.scrollTop = pane.scrollHeight;
    } else {
      text(kind, value);
    }
  }

  // A traceback: the program's frames; the full one (with Pyodide's own frames) behind a toggle.
  function error(value, full) {
    text("error", value);
    onTraceback?.(pane.lastElementChild, value);
    if (!full) return;
    const details = Object.assign(document.createElement("details"), { className: "out-full-traceback" });
    details.append(
      Object.assign(document.createElement("summary"), { textContent: "full traceback" }),
      Object.assign(document.createElement("pre"), { className: "out-error", textContent: full }),
    );
    append(details);
  }

  // input(): a field after the prompt; resolves with the answer (echoed like a terminal's) when Enter is pressed,
  // or null if the run ends first (cancelInput).
  let pendingInput = null;
  function ask() {
    cancelInput();
    const form = Object.assign(document.createElement("form"), { className: "out-input" });
    const field = Object.assign(document.createElement("input"), {
      type: "text", autocomplete: "off", spellcheck: false, className: "out-input-field",
    });
    field.setAttribute("aria-label", "input for the running program (Enter sends it)");
    form.append(field);
    append(form);
    field.focus();
    return new Promise((resolve) => {
      pendingInput = { form, resolve };
      form.addEventListener("submit", (event) => {
        event.preventDefault();
        pendingInput = null;
        form.remove();
        stream("stdout", `${field.value}\n`);
        resolve(field.value);
      });
    });
  }

  function cancelInput() {
    pendingInput?.form.remove();
    pendingInput?.resolve(null);
    pendingInput = null;
  }

  function image(data, mime) {
    if (!IMAGE.test(mime)) return text("error", `display(): ${mime} is not an image type shown here`);
    const src = `data:${mime};base64,${data}`;
    append(Object.assign(document.createElement("img"), { className: "out-image", src }));
  }

  function html(markup) {
    if (appMode) {
      append(Object.assign(document.createElement("div"), { className: "out-html", innerHTML: markup }));
      return;
    }
    const frame = document.createElement("iframe");
    frame.className = "out-html";
    frame.setAttribute("sandbox", "allow-scripts"); // no allow-same-origin: an opaque origin
    frame.addEventListener("load", () => frame.contentWindow.postMessage({ html: markup }, "*"), { once: true });
    frame.src = new URL("output.html", import.meta.url).href;
    append(frame);
  }

  // A frame reports its content's height (output_frame.js); only the height is taken from it.
  window.addEventListener("message", ({ source, data }) => {
    const frame = [...pane.querySelectorAll("iframe.out-html")].find((f) => f.contentWindow === source);
    const height = Number(data?.wasmfarmOutputHeight);
    if (frame && Number.isFinite(height)) frame.style.height = `${Math.min(Math.max(height, 0), MAX_FRAME_HEIGHT)}px`;
  });

  const clear = () => {
    cancelInput();
    cancelAnimationFrame(frame);
    frame = pending = null;
    pane.replaceChildren();
  };
  return { text, stream, flush, error, ask, cancelInput, image, html, node: append, clear };
}
