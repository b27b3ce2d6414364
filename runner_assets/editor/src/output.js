// The output pane: text as text; images as data URLs; HTML in a sandboxed frame of its own (an opaque origin, so
// scripts in it run, but cannot reach the editor's page or storage). App mode, whose page is the program's own
// (an opaque origin already), shows HTML inline.
const IMAGE = /^image\/(png|jpeg|gif|webp|svg\+xml)$/;
const MAX_FRAME_HEIGHT = 4000;

export function createOutput(pane, { appMode }) {
  function append(node) {
    window.wasmfarmFirstOutput ??= performance.now(); // ms since navigation: what the benchmark reads
    pane.append(node);
    pane.scrollTop = pane.scrollHeight;
  }

  function text(kind, value) {
    append(Object.assign(document.createElement("pre"), { className: `out-${kind}`, textContent: value }));
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

  // Links to the compat pages of requirements that could not be locked ("does it work on Pyodide?").
  function compatLinks(projects) {
    const line = Object.assign(document.createElement("p"), { className: "out-compat", textContent: "Does it work on Pyodide? " });
    projects.forEach((project, i) => {
      const href = new URL(`compat/${encodeURIComponent(project)}`, document.baseURI).href;
      line.append(i ? ", " : "", Object.assign(document.createElement("a"), { href, textContent: project, target: "_blank" }));
    });
    append(line);
  }

  // A frame reports its content's height (output_frame.js); only the height is taken from it.
  window.addEventListener("message", ({ source, data }) => {
    const frame = [...pane.querySelectorAll("iframe.out-html")].find((f) => f.contentWindow === source);
    const height = Number(data?.wasmfarmOutputHeight);
    if (frame && Number.isFinite(height)) frame.style.height = `${Math.min(Math.max(height, 0), MAX_FRAME_HEIGHT)}px`;
  });

  return { text, image, html, compatLinks, clear: () => pane.replaceChildren() };
}
