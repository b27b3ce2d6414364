// The editor never loses work: the open project is saved to IndexedDB and mirrored into the URL fragment as the
// user types (debounced), the share box follows every edit (while an edit is pending it shows no link at all, so a
// stale one cannot be copied), and a list of local projects can be created, opened, renamed, duplicated and deleted.
import { ShareLinkError, decodeState, encodeState } from "./share.js";
import {
  currentId, debounce, deleteProject, findByFragment, listProjects, loadProject, newId, projectRecord, saveProject,
  setCurrentId,
} from "./projects.js";

const SAVE_DELAY_MS = 400;

// state: the editor's state object (mutated in place); sync(): pulls the editor's inputs into it; show(): pushes
// it into the editor; starter: the program a new project starts with; onOpened(): runs a link opened in place.
export function createWorkspace({ $, state, sync, show, starter, onError, onOpened }) {
  let project = { id: null, name: "untitled" };
  let fragment = "";
  let saving = Promise.resolve();

  const links = () => {
    const base = `${location.origin}${location.pathname.replace(/[^/]*$/, "")}`;
    return { editor: `${location.origin}${location.pathname}#${fragment}`, app: `${base}app#${fragment}` };
  };

  function showShare() {
    const box = $("share-box");
    if (box.hidden || persist.pending()) return; // an edit is waiting to be saved: this link would be stale
    const { editor, app } = links();
    $("share-link").value = editor;
    $("app-link").href = app;
    $("embed-snippet").value =
      `<iframe src="${app}&edit=0" width="800" height="600" title="wasmfarm app" loading="lazy"></iframe>`;
    $("copy-link").disabled = false;
    box.removeAttribute("aria-busy");
  }

  function markStale() {
    const box = $("share-box");
    if (!box || box.hidden) return;
    box.setAttribute("aria-busy", "true");
    $("share-link").value = "";
    $("embed-snippet").value = "";
    $("app-link").removeAttribute("href");
    $("copy-link").disabled = true;
  }

  // Saves the open project and syncs the fragment; writes run one after another, so the last one holds the latest.
  function persistNow() {
    sync();
    saving = saving.then(write).catch((err) => onError(`could not save the project in this browser: ${err}`));
    return saving;
  }

  async function write() {
    fragment = await encodeState(state);
    history.replaceState(null, "", `${location.pathname}${location.search}#${fragment}`);
    showShare();
    project.id ??= newId();
    setCurrentId(project.id);
    await saveProject(projectRecord(project.id, project.name, state, fragment));
    await renderProjects();
  }
  const persist = debounce(persistNow, SAVE_DELAY_MS);

  // Every edit: the share box empties at once, the save and the fragment follow when typing pauses.
  function changed() {
    markStale();
    persist();
  }

  async function flush() {
    if (persist.pending()) await persist.flush();
    await saving;
  }

  function adopt(record) {
    project = { id: record.id, name: record.name };
    const { files, main, current, requirements, runtime, lockDigest } = record;
    Object.assign(state, { files: { ...files }, main, requirements, lockDigest, pinnedLock: lockDigest ?? null });
    state.current = current in files ? current : main;
    if (runtime) state.runtime = runtime;
    show();
  }

  // Opens a shared link in place of the open project (saved first); false when the link is damaged (said so).
  async function openLink(hash) {
    let shared;
    try {
      shared = await decodeState(hash);
    } catch (err) {
      if (!(err instanceof ShareLinkError)) throw err;
      onError(`${err.message} Your own last program is shown meanwhile.`, true);
      return false;
    }
    $("link-error").hidden = true;
    await flush();
    const known = await findByFragment(hash).catch(() => null);
    if (known) adopt(known); // this browser's own project: no copy of it
    else adopt({ id: newId(), name: `shared ${new Date().toLocaleString()}`, ...shared, current: shared.main });
    persistNow(); // saved while the program starts: no wait on the way to its first output
    return true;
  }

  // Opens what the page was loaded with: a shared link (which wins over the autosave), else the last project.
  // Returns true when a link was opened (the editor runs it), false on a reload, which only brings the code back.
  async function start() {
    const hash = location.hash.replace(/^#/, "");
    const reloaded = performance.getEntriesByType("navigation")[0]?.type === "reload";
    if (hash && (await openLink(hash))) return !reloaded;
    const last = currentId();
    const record = last ? await loadProject(last).catch(() => null) : null;
    if (record) adopt(record);
    else adopt({ id: newId(), name: "untitled", ...starter(), current: starter().main });
    if (!hash) await persistNow(); // a damaged link stays in the address bar until the next edit
    else await renderProjects();
    return false;
  }

  // A link pasted into the address bar of an open editor changes only the fragment: open it as on a page load.
  async function hashChanged() {
    const hash = location.hash.replace(/^#/, "");
    if (hash && hash !== fragment && (await openLink(hash))) onOpened();
  }

  async function openShare() {
    const box = $("share-box");
    box.hidden = false;
    await flush();
    await persistNow();
    $("share-link").select();
    return links().editor;
  }

  async function copy() {
    await flush();
    const link = links().editor;
    try {
      await navigator.clipboard.writeText(link);
    } catch {
      $("share-link").select();
      document.execCommand("copy"); // no clipboard API (plain http): the selection way
    }
    $("copy-link").textContent = "copied";
    setTimeout(() => { $("copy-link").textContent = "copy link"; }, 1500);
    return link;
  }

  // Local projects ----------------------------------------------------------------------------------------------

  async function renderProjects() {
    const select = $("projects");
    if (!select) return;
    const all = await listProjects().catch(() => []);
    select.replaceChildren(...all.map((p) => Object.assign(document.createElement("option"), {
      value: p.id, textContent: p.name, selected: p.id === project.id,
    })));
  }

  async function openProject(id) {
    await flush();
    const record = await loadProject(id);
    if (!record) return;
    adopt(record);
    await persistNow();
  }

  async function newProject() {
    await flush();
    adopt({ id: newId(), name: `untitled ${(await listProjects()).length + 1}`, ...starter(), current: starter().main });
    await persistNow();
  }

  // A project made elsewhere (an imported zip, an example): a new local project, never in place of the open one.
  async function openNew({ name, files, main, requirements = "", runtime }) {
    await flush();
    adopt({ id: newId(), name: name.slice(0, 100), files, main, current: main, requirements, runtime, lockDigest: null });
    await persistNow();
  }

  async function duplicateProject() {
    await flush();
    project = { id: newId(), name: `${project.name} (copy)`.slice(0, 100) };
    await persistNow();
  }

  async function renameProject() {
    const name = prompt("Project name", project.name)?.trim();
    if (!name) return;
    project.name = name.slice(0, 100);
    await persistNow();
  }

  async function removeProject() {
    if (!confirm(`Delete the project "${project.name}" from this browser? This cannot be undone.`)) return;
    persist.cancel(); // nothing of it may be written back
    const gone = project.id;
    await saving;
    await deleteProject(gone);
    const rest = (await listProjects()).filter((p) => p.id !== gone);
    if (rest.length) await openProject(rest[0].id);
    else await newProject();
  }

  function wire() {
    $("share").onclick = openShare;
    $("copy-link").onclick = copy;
    $("projects").onchange = (event) => openProject(event.target.value);
    $("new-project").onclick = newProject;
    $("rename-project").onclick = renameProject;
    $("duplicate-project").onclick = duplicateProject;
    $("delete-project").onclick = removeProject;
    addEventListener("pagehide", () => persist.flush());
    addEventListener("hashchange", hashChanged);
  }

  return {
    start, changed, flush, wire, openShare, copy, persistNow, openNew,
    link: () => links().editor, project: () => ({ ...project, fragment }),
  };
}
