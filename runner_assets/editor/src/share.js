// Share links: the program (files, requirements, runtime, lock digest) compressed into the URL fragment, which the
// browser never sends to the server. Versioned: "#v1.<base64url(deflate-raw(JSON))>", optionally followed by
// "&edit=0" (app mode: no link back to the editor, for embedding). Secrets are never included.

export const VERSION = "v1";
const MAX_FILES = 200;
const FILE_NAME = /^[\w.\-/]{1,120}$/;

// A link that cannot be opened: the message says what is wrong and what to do, for the person who clicked it.
export class ShareLinkError extends Error {
  constructor(problem) {
    super(`This link could not be opened: ${problem}. It may have been cut short or changed when it was copied; ` +
          "ask its author for the link again.");
    this.name = "ShareLinkError";
  }
}

function toBase64Url(bytes) {
  let binary = "";
  for (const b of bytes) binary += String.fromCharCode(b);
  return btoa(binary).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
}

function fromBase64Url(text) {
  if (!/^[A-Za-z0-9_-]*$/.test(text) || text.length % 4 === 1) {
    throw new ShareLinkError("the text after \"#v1.\" is not base64url (only letters, digits, \"-\" and \"_\")");
  }
  const binary = atob(text.replaceAll("-", "+").replaceAll("_", "/"));
  return Uint8Array.from(binary, (c) => c.charCodeAt(0));
}

async function pipe(bytes, stream) {
  const response = new Response(new Blob([bytes]).stream().pipeThrough(stream));
  return new Uint8Array(await response.arrayBuffer());
}

export async function encodeState(state) {
  const { files, main, requirements, runtime, lockDigest } = state;
  const json = JSON.stringify({ files, main, requirements, runtime, lockDigest: lockDigest ?? null });
  const packed = await pipe(new TextEncoder().encode(json), new CompressionStream("deflate-raw"));
  return `${VERSION}.${toBase64Url(packed)}`;
}

// The options after the program: "&edit=0".
export function linkOptions(fragment) {
  const params = new URLSearchParams(fragment.replace(/^#/, "").split("&").slice(1).join("&"));
  return { edit: params.get("edit") !== "0" };
}

export async function decodeState(fragment) {
  const text = fragment.replace(/^#/, "").split("&")[0];
  if (!text) return null;
  const dot = text.indexOf(".");
  const version = dot < 0 ? text : text.slice(0, dot);
  const data = dot < 0 ? "" : text.slice(dot + 1);
  if (version !== VERSION) {
    throw new ShareLinkError(`it is not a wasmfarm share link (it should start with "#${VERSION}.", not ` +
                             `${JSON.stringify("#" + text.slice(0, 12))})`);
  }
  if (!data) throw new ShareLinkError(`nothing follows "#${VERSION}."`);
  let json;
  try {
    json = new TextDecoder("utf-8", { fatal: true }).decode(
      await pipe(fromBase64Url(data), new DecompressionStream("deflate-raw")),
    );
  } catch (err) {
    if (err instanceof ShareLinkError) throw err;
    throw new ShareLinkError("its program does not decompress (the link is incomplete or altered)");
  }
  let state;
  try {
    state = JSON.parse(json);
  } catch {
    throw new ShareLinkError("its program is not valid JSON");
  }
  return checkState(state);
}

// A relative path of a few safe characters, without "." or ".." parts (files are written into Python's file system).
export function validFileName(name) {
  return FILE_NAME.test(name) && !name.split("/").some((part) => part === "" || part === "." || part === "..");
}

// A link comes from anyone: only the fields the editor knows, each of the right type.
export function checkState(state) {
  const bad = (what) => { throw new ShareLinkError(what); };
  if (!state || typeof state !== "object" || Array.isArray(state)) bad("it carries no program");
  const { files, main, requirements = "", runtime, lockDigest = null } = state;
  if (!files || typeof files !== "object" || Array.isArray(files)) bad("it carries no files");
  const names = Object.keys(files);
  if (!names.length || names.length > MAX_FILES) bad(`it carries ${names.length} files (1 to ${MAX_FILES} expected)`);
  for (const name of names) {
    if (!validFileName(name)) {
      bad(`its file name ${JSON.stringify(name.slice(0, 80))} is not a relative path of letters, digits, "_", ` +
          '"-", "." and "/"');
    }
    if (typeof files[name] !== "string") bad(`its file ${JSON.stringify(name)} is not text`);
  }
  if (typeof main !== "string" || !(main in files)) bad("its main file is not among its files");
  if (typeof requirements !== "string") bad("its requirements are not text");
  if (runtime !== undefined && typeof runtime !== "string") bad("its runtime is not a version");
  if (lockDigest !== null && !(typeof lockDigest === "string" && /^[0-9a-f]{64}$/.test(lockDigest))) {
    bad("its lock digest is not a sha256");
  }
  return { files: { ...files }, main, requirements, runtime, lockDigest };
}
