// A project as a zip archive: its files at their paths, and a `wasmfarm.json` manifest with the main file,
// requirements and runtime (zip and unzip by fflate; no DOM here).
//
// An archive to import comes from anyone, so it is read as hostile input: every path must be a plain relative file
// name (share.js's validFileName), at most LIMITS.files files, every file UTF-8 text, and the bytes inflated are
// counted while inflating (the archive is fed in small slices), so a zip bomb, even one whose headers lie about its
// sizes, is stopped after LIMITS.bytes. Anything wrong refuses the whole archive with one message.
import { Unzip, UnzipInflate, strToU8, zipSync } from "fflate";
import { validFileName } from "./share.js";

export const MANIFEST = "wasmfarm.json";
export const LIMITS = { files: 200, bytes: 5 * 2 ** 20, archive: 10 * 2 ** 20 };
const SLICE = 2 * 1024; // inflating a slice gives at most ~2 MB (deflate expands at most ~1032:1)
const IGNORED = /(^|\/)(__MACOSX\/.*|\.DS_Store|Thumbs\.db)$/; // what zip tools add on their own

// An archive that cannot be imported: what is wrong, and that nothing changed.
export class ProjectZipError extends Error {
  constructor(problem) {
    super(`This zip was not imported: ${problem}. Your projects are unchanged.`);
    this.name = "ProjectZipError";
  }
}

const megabytes = (n) => `${(n / 2 ** 20).toFixed(n < 2 ** 20 ? 2 : 0)} MB`;
const quoted = (name) => JSON.stringify(name.length > 80 ? `${name.slice(0, 80)}…` : name);

// The archive of a project: {name, files, main, requirements, runtime} -> zip bytes.
export function writeProjectZip({ name, files, main, requirements, runtime }) {
  if (MANIFEST in files) {
    throw new Error(`a file of this project is called ${MANIFEST}, the name the archive's manifest takes: ` +
                    "rename that file, then export again");
  }
  const entries = Object.fromEntries(Object.entries(files).map(([path, text]) => [path, strToU8(text)]));
  const manifest = { format: 1, name, main, requirements, runtime };
  entries[MANIFEST] = strToU8(`${JSON.stringify(manifest, null, 2)}\n`);
  return zipSync(entries, { level: 6 });
}

// Zip bytes -> {name, files, main, requirements, runtime} (name and runtime may be undefined); throws
// ProjectZipError.
export function readProjectZip(bytes) {
  checkArchiveSize(bytes.length);
  const texts = decode(inflateAll(bytes));
  return project(stripCommonFolder(texts));
}

// An archive too large is refused before it is read.
export function checkArchiveSize(size) {
  if (size > LIMITS.archive) {
    throw new ProjectZipError(`it is ${megabytes(size)}, more than the ${megabytes(LIMITS.archive)} allowed`);
  }
}

// name -> bytes of every file, counted and checked while they inflate.
function inflateAll(bytes) {
  const entries = new Map(); // name -> {chunks, done}
  let total = 0;
  let problem = null;
  const unzip = new Unzip((file) => {
    const { name } = file;
    if (problem || name.endsWith("/") || IGNORED.test(name)) return; // a folder entry, or litter: never inflated
    if (!validFileName(name)) {
      problem = `its path ${quoted(name)} is not a plain relative file name (letters, digits, "_", "-", "." and ` +
                '"/", with no "..", "." or empty parts and no leading "/")';
    }
    else if (entries.has(name)) problem = `it holds ${quoted(name)} twice`;
    else if (entries.size >= LIMITS.files) problem = `it holds more than ${LIMITS.files} files`;
    if (problem) return;
    const entry = { chunks: [], done: false };
    entries.set(name, entry);
    file.ondata = (err, data, final) => {
      if (problem) return;
      if (err) {
        problem = `its file ${quoted(name)} cannot be unpacked (${err.message})`;
        return;
      }
      total += data.length;
      if (total > LIMITS.bytes) {
        problem = `its files unpack to more than ${megabytes(LIMITS.bytes)} (the limit for a project)`;
        return;
      }
      entry.chunks.push(data);
      entry.done = final;
    };
    file.start();
  });
  unzip.register(UnzipInflate);
  try {
    for (let at = 0; at < bytes.length && !problem; at += SLICE) {
      unzip.push(bytes.subarray(at, at + SLICE), at + SLICE >= bytes.length);
    }
  } catch (err) {
    problem ??= `it is not a zip archive that can be read (${err.message})`;
  }
  if (problem) throw new ProjectZipError(problem);
  if (!entries.size) throw new ProjectZipError("it holds no files (is it a zip archive?)");
  const cut = [...entries].find(([, entry]) => !entry.done);
  if (cut) throw new ProjectZipError(`its file ${quoted(cut[0])} is cut short (the archive is incomplete)`);
  return new Map([...entries].map(([name, { chunks }]) => [name, concat(chunks)]));
}

function concat(chunks) {
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const chunk of chunks) {
    out.set(chunk, at);
    at += chunk.length;
  }
  return out;
}

function decode(files) {
  const utf8 = new TextDecoder("utf-8", { fatal: true });
  const texts = {};
  for (const [name, data] of files) {
    try {
      texts[name] = utf8.decode(data);
    } catch {
      throw new ProjectZipError(`its file ${quoted(name)} is not UTF-8 text (a project holds text files only)`);
    }
  }
  return texts;
}

// An archive made by zipping a folder holds everything under that folder's name: take its contents.
function stripCommonFolder(texts) {
  const names = Object.keys(texts);
  if (MANIFEST in texts || "main.py" in texts) return texts;
  const top = names[0].split("/")[0];
  if (!names.every((n) => n.startsWith(`${top}/`))) return texts;
  return Object.fromEntries(names.map((n) => [n.slice(top.length + 1), texts[n]]));
}

// The project an archive describes: its manifest, else main.py (or its one Python file) and requirements.txt.
function project(texts) {
  const files = { ...texts };
  let manifest = {};
  if (MANIFEST in files) {
    manifest = parseManifest(files[MANIFEST]);
    delete files[MANIFEST];
  }
  else if ("requirements.txt" in files) {
    manifest.requirements = files["requirements.txt"];
    delete files["requirements.txt"];
  }
  const python = Object.keys(files).filter((n) => n.endsWith(".py") && !n.includes("/"));
  const main = manifest.main ?? ("main.py" in files ? "main.py" : python.length === 1 ? python[0] : undefined);
  if (main === undefined || !(main in files)) {
    throw new ProjectZipError(main === undefined
      ? `it has no main file: add a main.py, or a ${MANIFEST} whose "main" names the file to run`
      : `its ${MANIFEST} names ${quoted(main)} as the main file, which it does not hold`);
  }
  return { name: manifest.name, files, main, requirements: manifest.requirements ?? "", runtime: manifest.runtime };
}

function parseManifest(text) {
  let manifest;
  try {
    manifest = JSON.parse(text);
  } catch {
    throw new ProjectZipError(`its ${MANIFEST} is not valid JSON`);
  }
  if (!manifest || typeof manifest !== "object" || Array.isArray(manifest)) {
    throw new ProjectZipError(`its ${MANIFEST} is not a JSON object`);
  }
  const { name, main, requirements, runtime } = manifest;
  const wrong = (field, what) => new ProjectZipError(`the "${field}" of its ${MANIFEST} is not ${what}`);
  if (name !== undefined && typeof name !== "string") throw wrong("name", "text");
  if (main !== undefined && typeof main !== "string") throw wrong("main", "a file name");
  if (runtime !== undefined && typeof runtime !== "string") throw wrong("runtime", "a runtime version");
  let lines = requirements;
  if (Array.isArray(lines) && lines.every((line) => typeof line === "string")) lines = lines.join("\n");
  if (lines !== undefined && typeof lines !== "string") throw wrong("requirements", "text or a list of lines");
  return { name: name?.trim().slice(0, 100) || undefined, main, requirements: lines, runtime };
}
