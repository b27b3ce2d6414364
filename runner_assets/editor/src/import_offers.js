// Imports -> requirements: the top-level modules the program's files import (a static look at import lines) that a
// project on this mirror provides and the requirements do not name yet are offered as "add <project>" buttons under
// the requirements box; one click adds the requirement. The server says where each module comes from
// (GET r/<runtime>/-/imports?module=...: the standard library, what every lock carries, a mirrored project, or
// nothing here); its answers are kept per runtime, so typing asks only about modules not asked about before.
import { importedModules, localModules, normalise, requiredNames } from "./requirement_names.js";

const DELAY_MS = 500;
const MAX_MODULES = 100; // the server's bound on one question
const EDITOR_MODULES = new Set(["wasmfarm", "__future__"]); // the editor's own (get_secret), and no module at all

export function createImportOffers(box, { runtime, files, add }) {
  const panel = Object.assign(document.createElement("div"), { id: "import-offers", className: "import-offers" });
  panel.setAttribute("role", "group");
  panel.setAttribute("aria-label", "imported projects the requirements do not name");
  panel.setAttribute("aria-live", "polite");
  panel.hidden = true;
  (document.getElementById("requirement-options") ?? box).after(panel);

  const known = new Map(); // `${runtime}\n${module}` -> the server's answer
  let timer = null;
  let round = 0;

  async function ask(on, modules) {
    const missing = modules.filter((m) => !known.has(`${on}\n${m}`)).slice(0, MAX_MODULES);
    if (!missing.length) return;
    const query = new URLSearchParams(missing.map((m) => ["module", m]));
    const response = await fetch(`r/${encodeURIComponent(on)}/-/imports?${query}`);
    if (!response.ok) throw new Error(`imports: HTTP ${response.status}`);
    for (const answer of (await response.json()).imports) known.set(`${on}\n${answer.module}`, answer);
  }

  // What the program imports that a mirrored project provides and no requirement names: [{project, modules}].
  async function offers() {
    const on = runtime();
    const program = files();
    const local = localModules(Object.keys(program));
    const modules = new Map(); // module -> the files importing it
    for (const [name, source] of Object.entries(program)) {
      if (!name.endsWith(".py")) continue;
      for (const module of importedModules(source)) {
        if (local.has(module) || EDITOR_MODULES.has(module)) continue;
        modules.set(module, [...(modules.get(module) ?? []), name]);
      }
    }
    await ask(on, [...modules.keys()].sort());
    const required = requiredNames(box.value);
    const byProject = new Map();
    for (const [module, where] of modules) {
      const answer = known.get(`${on}\n${module}`);
      if (answer?.provision !== "mirrored" || required.has(normalise(answer.project))) continue;
      if ((answer.others ?? []).some((other) => required.has(normalise(other)))) continue; // another provider named
      const offer = byProject.get(answer.project) ?? { project: answer.project, modules: [], files: new Set() };
      offer.modules.push(module);
      where.forEach((f) => offer.files.add(f));
      byProject.set(answer.project, offer);
    }
    return [...byProject.values()].sort((a, b) => (a.project < b.project ? -1 : 1));
  }

  function render(found) {
    if (!found.length) {
      panel.hidden = true;
      panel.replaceChildren();
      return;
    }
    const buttons = found.map(({ project, modules, files: where }) => {
      const button = Object.assign(document.createElement("button"), {
        type: "button", className: "import-offer", textContent: `add ${project}`,
        title: `${[...where].join(", ")} import${where.size === 1 ? "s" : ""} ${modules.join(", ")}`,
      });
      button.dataset.project = project;
      button.onclick = () => {
        add(project);
        refreshNow();
      };
      return button;
    });
    panel.replaceChildren(Object.assign(document.createElement("span"), { className: "hint", textContent: "Imported, not required: " }), ...buttons);
    panel.hidden = false;
  }

  async function refreshNow() {
    clearTimeout(timer);
    const mine = ++round;
    try {
      const found = await offers();
      if (mine === round) render(found);
    } catch {
      if (mine === round) render([]); // offline, or the server could not say: no offers rather than wrong ones
    }
  }

  const refresh = () => {
    clearTimeout(timer);
    timer = setTimeout(refreshNow, DELAY_MS);
  };
  return { refresh, refreshNow };
}
