// The examples gallery: starter projects shipped with the server as plain files (runner_assets/web/examples/, an
// index.json listing each one's title, description, files, main file and requirements), listed in a dialog. Opening
// one makes a new local project: the user's own projects are never overwritten.
import { notice } from "./notice.js";
import { validFileName } from "./share.js";

const EXAMPLES = new URL("../examples/", import.meta.url); // editor.js is served from /runner/editor/

async function fetchOk(url, as) {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`${url.pathname}: HTTP ${response.status}`);
  return response[as]();
}

// The example's files, fetched; its names checked as any project's are.
export async function loadExample(example) {
  const names = example.files ?? [];
  if (!names.length || !names.every(validFileName) || !names.includes(example.main)) {
    throw new Error(`the example ${JSON.stringify(example.id)} lists no valid files or no main file among them`);
  }
  const texts = await Promise.all(names.map((name) => fetchOk(new URL(`${example.id}/${name}`, EXAMPLES), "text")));
  return {
    name: example.title, main: example.main, requirements: example.requirements ?? "",
    files: Object.fromEntries(names.map((name, i) => [name, texts[i]])),
  };
}

function element(tag, props = {}, ...children) {
  const node = Object.assign(document.createElement(tag), props);
  node.append(...children);
  return node;
}

// openNew(project): workspace.js's, which makes and opens a new local project.
export function createGallery({ openNew }) {
  let dialog = null;
  let examples = null;

  async function build() {
    examples ??= (await fetchOk(new URL("index.json", EXAMPLES), "json")).examples;
    const close = element("button", { type: "button", textContent: "Close", className: "gallery-close" });
    close.onclick = () => dialog.close();
    const list = element("ul", { className: "gallery-list" }, ...examples.map((example) => {
      const open = element("button", { type: "button", textContent: example.title, className: "example-open" });
      open.dataset.example = example.id;
      open.setAttribute("aria-describedby", `example-${example.id}`);
      open.onclick = () => openExample(example);
      return element("li", {}, open, element("p", { id: `example-${example.id}`, textContent: example.description }));
    }));
    dialog = element(
      "dialog", { id: "gallery", className: "gallery-dialog" },
      element("h2", { id: "gallery-title", textContent: "Examples" }),
      element("p", { className: "hint", textContent: "Opening an example makes a new project; yours are kept." }),
      list, element("div", { className: "buttons" }, close),
    );
    dialog.setAttribute("aria-labelledby", "gallery-title");
    document.body.append(dialog);
  }

  async function openExample(example) {
    try {
      const project = await loadExample(example);
      dialog.close();
      await openNew(project);
      notice(`Opened the example "${example.title}" as a new project: Run it with Ctrl+Enter.`);
    } catch (err) {
      dialog.close();
      notice(`The example could not be opened: ${err.message}.`, { error: true });
    }
  }

  async function show() {
    try {
      if (!dialog) await build();
    } catch (err) {
      notice(`The examples could not be loaded: ${err.message}.`, { error: true });
      return;
    }
    dialog.showModal();
    dialog.querySelector(".example-open")?.focus();
  }

  return { show };
}
