// Local projects: every file, requirement and setting kept in this browser's IndexedDB, saved as the user types.
// (A small hand-rolled wrapper: the four IndexedDB calls the editor needs do not justify a dependency.)
// App mode has an opaque origin and no IndexedDB: it keeps nothing.

const DB = "wasmfarm";
const STORE = "projects";
const CURRENT = "wasmfarm.project"; // localStorage: the id of the project this browser opened last

function request(req) {
  return new Promise((resolve, reject) => {
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
}

let opened = null;
function database() {
  opened ??= new Promise((resolve, reject) => {
    const req = indexedDB.open(DB, 1);
    req.onupgradeneeded = () => req.result.createObjectStore(STORE, { keyPath: "id" });
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
    req.onblocked = () => reject(new Error("the project store is blocked by another tab of an older editor"));
  });
  return opened;
}

async function transaction(mode, fn) {
  const db = await database();
  const tx = db.transaction(STORE, mode);
  const result = await fn(tx.objectStore(STORE));
  await new Promise((resolve, reject) => {
    tx.oncomplete = resolve;
    tx.onerror = () => reject(tx.error);
    tx.onabort = () => reject(tx.error ?? new Error("the project store aborted a write"));
  });
  return result;
}

export const newId = () => crypto.randomUUID?.() ?? `${Date.now()}-${Math.random().toString(36).slice(2)}`;

// What a project keeps: the editor state (files, main, current tab, requirements, runtime, lock digest), its name and
// the fragment it was last shared or synced as (so a reload of the same link reopens the project, not a copy).
export function projectRecord(id, name, state, fragment) {
  const { files, main, current, requirements, runtime, lockDigest } = state;
  return { id, name, files, main, current, requirements, runtime, lockDigest: lockDigest ?? null, fragment,
           updated: Date.now() };
}

export const saveProject = (record) => transaction("readwrite", (store) => request(store.put(record)));
export const loadProject = (id) => transaction("readonly", (store) => request(store.get(id)));
export const deleteProject = (id) => transaction("readwrite", (store) => request(store.delete(id)));

export async function listProjects() {
  const all = await transaction("readonly", (store) => request(store.getAll()));
  return all.sort((a, b) => b.updated - a.updated);
}

export async function findByFragment(fragment) {
  return (await listProjects()).find((p) => p.fragment === fragment) ?? null;
}

export const currentId = () => localStorage.getItem(CURRENT);
export const setCurrentId = (id) => localStorage.setItem(CURRENT, id);

// Calls fn at most once per `ms` after the last call; flush() runs a pending call now.
export function debounce(fn, ms) {
  let timer = null;
  const debounced = () => {
    clearTimeout(timer);
    timer = setTimeout(() => { timer = null; fn(); }, ms);
  };
  debounced.pending = () => timer !== null;
  debounced.cancel = () => { clearTimeout(timer); timer = null; };
  debounced.flush = () => {
    if (timer === null) return undefined;
    clearTimeout(timer);
    timer = null;
    return fn();
  };
  return debounced;
}
