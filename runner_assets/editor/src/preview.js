// Live preview: the program runs beside the code exactly as /app shows it. The frame is app mode itself, on the
// current share link (`app#<link>&edit=0`): the same page, opaque origin, lock and secrets rules as the app a Share
// link opens. It re-runs on "re-run" and on Ctrl/Cmd+S (which also saves at once); any edit since the last run marks
// it out of date (said in its bar, the frame dimmed) until it re-runs, so it never passes off a stale program.

// App mode's own sandbox flags (its CSP `sandbox` directive, index_server/editor.py): the frame gets no more.
const SANDBOX = "allow-scripts allow-forms allow-popups allow-modals allow-downloads";
const SAVE_KEY = (event) => (event.ctrlKey || event.metaKey) && !event.altKey && event.key.toLowerCase() === "s";

// program(): the editor's current program ({files, main, requirements, runtime}, edits included); workspace: the
// autosave (workspace.js), whose share link the frame opens.
export function createPreview({ $, program, workspace }) {
  const box = $("preview");
  const toggle = $("preview-toggle");
  let shown = null; // the program the frame runs (a key), null when closed
  let loading = 0; // counts re-runs, so that only the last one takes effect

  // Saves any pending edit, as Share does, and gives the share link's fragment for exactly that program.
  async function fragment() {
    await workspace.flush();
    await workspace.persistNow();
    return workspace.project().fragment;
  }

  const key = () => {
    const { files, main, requirements, runtime } = program();
    return JSON.stringify([files, main, requirements, runtime]);
  };

  function say(state, text) {
    box.dataset.state = state;
    $("preview-state").textContent = text;
  }

  // A fresh frame for each run: no stale interpreter, and no entries in the editor's history (a frame navigated in
  // place would add some, and a link that differs only after "#" would not even reload).
  async function rerun() {
    if (box.hidden) return;
    const mine = ++loading;
    say("saving", "saving…");
    const wanted = key();
    const link = await fragment();
    if (mine !== loading || box.hidden) return;
    const frame = document.createElement("iframe");
    frame.title = "live preview of the app";
    frame.setAttribute("sandbox", SANDBOX);
    frame.src = new URL(`app#${link}&edit=0`, location.href).href;
    $("preview-frame").replaceChildren(frame);
    shown = wanted;
    compare(); // an edit typed while saving makes it out of date at once
  }

  function compare() {
    if (key() === shown) say("current", "showing the current program");
    else say("stale", "out of date: the code changed since this run — re-run (Ctrl/Cmd+S)");
  }

  // Every edit: out of date unless the program is the one shown again (an edit undone, another tab opened).
  function changed() {
    if (!box.hidden && shown !== null && box.dataset.state !== "saving") compare();
  }

  function open(wanted) {
    box.hidden = !wanted;
    toggle.setAttribute("aria-expanded", String(wanted));
    toggle.setAttribute("aria-pressed", String(wanted));
    if (wanted) return rerun();
    loading++;
    shown = null;
    $("preview-frame").replaceChildren(); // the app stops with its frame
    say("closed", "");
    return Promise.resolve();
  }

  function wire() {
    toggle.onclick = () => open(box.hidden);
    $("preview-rerun").onclick = () => rerun();
    // Ctrl/Cmd+S saves now (the autosave would in 0.4 s) and re-runs the preview when it is open.
    addEventListener("keydown", (event) => {
      if (!SAVE_KEY(event)) return;
      event.preventDefault();
      if (box.hidden) fragment();
      else rerun();
    });
  }

  return { wire, changed, rerun, open, shown: () => shown };
}
