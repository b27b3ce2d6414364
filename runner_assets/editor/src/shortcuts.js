// Keyboard shortcuts that work from anywhere on the editor page, and the help overlay that lists them.
// Keys chosen not to clash with the browser, CodeMirror or typing: Ctrl/Cmd with Enter, "." and S work everywhere
// (the browser's own Save page is replaced by saving the project); Esc stops a run only outside text fields and
// dialogs (in the editor it closes CodeMirror's panels, in a dialog the dialog); "?" opens the help only outside
// text fields, F1 anywhere. While a dialog is open it has the keyboard: no shortcut runs.

export const SHORTCUTS = [
  { keys: ["Ctrl+Enter", "⌘+Enter"], action: "Run the program" },
  { keys: ["Ctrl+.", "⌘+."], action: "Stop the running program" },
  { keys: ["Esc"], action: "Stop the running program (outside the editor and text fields)" },
  { keys: ["Ctrl+S", "⌘+S"], action: "Save the project in this browser and update its link" },
  { keys: ["?", "F1"], action: "Show this list (? outside the editor and text fields)" },
  { keys: ["Esc"], action: "Close this list, or any dialog" },
];

// Typing there: a key is text, not a shortcut.
export function typing(target) {
  if (!(target instanceof Element)) return false;
  return Boolean(target.closest(".cm-editor, input, textarea, select, [contenteditable=''], [contenteditable=true]"));
}

// The action a keydown asks for ("run", "stop", "save", "help"), or null.
export function shortcutFor(event, { running = false } = {}) {
  const mod = event.ctrlKey || event.metaKey;
  if (event.altKey) return null;
  if (mod && event.key === "Enter") return "run";
  if (mod && event.key === ".") return "stop";
  if (mod && !event.shiftKey && event.key.toLowerCase() === "s") return "save";
  if (event.key === "F1" && !mod) return "help";
  if (mod || typing(event.target)) return null;
  if (event.key === "?") return "help";
  if (event.key === "Escape" && running) return "stop";
  return null;
}

const element = (tag, props = {}, ...children) => {
  const node = Object.assign(document.createElement(tag), props);
  node.append(...children);
  return node;
};

function helpDialog() {
  const keys = (list) => list.flatMap((key, i) => [...(i ? [" or "] : []), element("kbd", { textContent: key })]);
  const table = element("table", {},
    element("thead", {}, element("tr", {},
      ...["Keys", "Action"].map((text) => element("th", { scope: "col", textContent: text })))),
    element("tbody", {}, ...SHORTCUTS.map(({ keys: list, action }) =>
      element("tr", {}, element("td", {}, ...keys(list)), element("td", { textContent: action })))));
  const close = element("button", { type: "button", textContent: "Close" });
  const dialog = element("dialog", { id: "shortcut-help", className: "help-dialog" },
    element("h2", { id: "shortcut-help-title", textContent: "Keyboard shortcuts" }), table,
    element("div", { className: "buttons" }, close));
  dialog.setAttribute("aria-labelledby", "shortcut-help-title");
  close.onclick = () => dialog.close();
  document.body.append(dialog);
  return dialog;
}

// actions: {run, stop, save}; isRunning(): whether a program is starting or running (Esc stops only then).
export function installShortcuts({ run, stop, save, isRunning }) {
  let dialog = null;
  const help = () => {
    dialog ??= helpDialog();
    if (!dialog.open) dialog.showModal();
  };
  const actions = { run, stop, save, help };
  document.addEventListener("keydown", (event) => {
    if (event.defaultPrevented || event.isComposing || document.querySelector("dialog[open]")) return;
    const action = shortcutFor(event, { running: isRunning() });
    if (!action) return;
    event.preventDefault();
    actions[action]();
  });
  return { help };
}
