// Secrets: the user's named values, kept only in this browser's localStorage (which the worker running Python cannot
// read) and given to a program only by name, after the user allowed that program to have it.
//
// A program asks with `from wasmfarm import get_secret; get_secret("NAME", "why")`. Before a run the page finds
// those calls (string literals) in the program's files; for each name the user has stored and has not yet granted to
// this program, it asks. Grants are kept per program fingerprint (sha256 of its files, main file and requirements)
// and per name; any edit makes another program. A share link carries neither secrets nor grants.
// App mode has an opaque origin and no localStorage: it asks the user to type each value, kept in the page's memory.

const STORE = "wasmfarm.secrets";
const GRANTS = "wasmfarm.grants"; // {fingerprint: {label, names: {NAME: "granted at"}}}
export const SECRET_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
// get_secret("NAME") or get_secret("NAME", "reason"), positional or by keyword, either quote.
const CALL = new RegExp(String.raw`get_secret\(\s*(?:name\s*=\s*)?(["'])([A-Za-z_][A-Za-z0-9_]*)\1\s*` +
                        String.raw`(?:,\s*(?:reason\s*=\s*)?(["'])((?:\\.|(?!\3)[^\\\n])*)\3)?`, "g");
const HOW_TO_GRANT = {
  editor: "add it in the Secrets panel if it is not there, run again and choose Allow. The editor asks only for " +
          'names written as string literals: get_secret("NAME", "why").',
  app: "reload this page and type its value when asked. The page asks only for names written as string literals: " +
       'get_secret("NAME", "why").',
};
const typed = new Map(); // app mode: values the user typed, for this page only

function read(key) {
  try {
    return JSON.parse(localStorage.getItem(key) ?? "{}");
  } catch {
    return {};
  }
}

const write = (key, value) => localStorage.setItem(key, JSON.stringify(value));

export const storedSecrets = () => read(STORE);

export function addSecret(name, value) {
  write(STORE, { ...storedSecrets(), [name]: value });
}

export function removeSecret(name) {
  const all = storedSecrets();
  delete all[name];
  write(STORE, all);
  for (const fingerprint of Object.keys(read(GRANTS))) revoke(fingerprint, name); // a name added again is asked again
}

export function grantsByName() {
  const byName = {};
  for (const [fingerprint, { label, names }] of Object.entries(read(GRANTS))) {
    for (const name of Object.keys(names)) (byName[name] ??= []).push({ fingerprint, label });
  }
  return byName;
}

function grant(fingerprint, label, name) {
  const all = read(GRANTS);
  all[fingerprint] ??= { label, names: {} };
  all[fingerprint].names[name] = new Date().toISOString();
  write(GRANTS, all);
}

export function revoke(fingerprint, name) {
  const all = read(GRANTS);
  if (!all[fingerprint]) return;
  delete all[fingerprint].names[name];
  if (!Object.keys(all[fingerprint].names).length) delete all[fingerprint];
  write(GRANTS, all);
}

// {NAME: [reasons]} for every get_secret("NAME", "reason") in the program's files.
export function requestedSecrets(files) {
  const requested = {};
  for (const source of Object.values(files)) {
    for (const [, , name, , reason] of source.matchAll(CALL)) {
      requested[name] ??= [];
      if (reason && !requested[name].includes(reason)) requested[name].push(reason);
    }
  }
  return requested;
}

// sha256 of the canonical JSON of files (sorted by name), main file and requirements; null outside a secure context
// (plain http other than localhost), where browsers offer no crypto.subtle: such a page grants nothing.
export async function fingerprint({ files, main, requirements }) {
  if (!globalThis.crypto?.subtle) return null;
  const sorted = Object.fromEntries(Object.entries(files).sort(([a], [b]) => (a < b ? -1 : 1)));
  const json = JSON.stringify({ files: sorted, main, requirements: requirements.trim() });
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(json));
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

function programLabel({ files, main }, fingerprint) {
  const count = Object.keys(files).length;
  return `${main}${count > 1 ? ` and ${count - 1} more file${count > 2 ? "s" : ""}` : ""} (${fingerprint.slice(0, 8)})`;
}

// The secrets a run of `program` (whose fingerprint is `print`) may carry: {secrets: {NAME: value}, howToGrant}.
// Asks the user (editor: Allow or Deny for a stored secret not yet granted; app mode: type the value); what is not
// granted is not sent.
export async function secretsForRun(program, print, { appMode }) {
  const requested = requestedSecrets(program.files);
  const secrets = appMode ? await typedSecrets(requested) : await grantedSecrets(program, print, requested);
  return { secrets, howToGrant: HOW_TO_GRANT[appMode ? "app" : "editor"] };
}

async function grantedSecrets(program, print, requested) {
  if (!print) return {};
  const stored = storedSecrets();
  const label = programLabel(program, print);
  const secrets = {};
  for (const name of Object.keys(requested).filter((n) => n in stored)) {
    const granted = name in (read(GRANTS)[print]?.names ?? {});
    if (granted || (await askGrant(name, requested[name], label))) {
      if (!granted) grant(print, label, name);
      secrets[name] = stored[name];
    }
  }
  return secrets;
}

async function typedSecrets(requested) {
  for (const name of Object.keys(requested)) {
    if (!typed.has(name)) typed.set(name, await askValue(name, requested[name]));
  }
  return Object.fromEntries([...typed].filter(([name, value]) => name in requested && value !== null));
}

// Dialogs -----------------------------------------------------------------------------------------------------------

function element(tag, props = {}, ...children) {
  const node = Object.assign(document.createElement(tag), props);
  node.append(...children);
  return node;
}

function reasonLine(reasons, author) {
  const given = reasons.map((r) => `"${r}"`).join(", ");
  return reasons.length ? `Reason given: ${given} (written by the ${author}'s author).` : "No reason given.";
}

// A modal <dialog>; resolves with what `answer(button)` makes of the button pressed (Escape: the last button).
function ask(id, body, buttons, answer) {
  const dialog = element("dialog", { id, className: "secret-dialog" }, ...body);
  const row = element("p", { className: "buttons" });
  return new Promise((resolve) => {
    for (const [buttonId, text] of buttons) {
      row.append(element("button", { id: buttonId, textContent: text, onclick: () => dialog.close(buttonId) }));
    }
    dialog.append(row);
    dialog.addEventListener("close", () => {
      resolve(answer(dialog.returnValue || buttons.at(-1)[0]));
      dialog.remove();
    });
    document.body.append(dialog);
    dialog.showModal();
  });
}

function askGrant(name, reasons, label) {
  const body = [
    element("h3", { textContent: `Give the secret ${name} to this program?` }),
    element("p", { textContent: `Program: ${label}. ${reasonLine(reasons, "program")}` }),
    element("p", { textContent: "Allow only code you trust: it can send the value anywhere through the proxy." }),
  ];
  return ask("grant-dialog", body, [["grant-allow", "Allow"], ["grant-deny", "Deny"]], (b) => b === "grant-allow");
}

function askValue(name, reasons) {
  const input = element("input", { id: "typed-secret", type: "password", autocomplete: "off" });
  const body = [
    element("h3", { textContent: `This app asks for a secret: ${name}` }),
    element("p", { textContent: reasonLine(reasons, "app") }),
    element("p", { textContent: "Type it only if you trust this app: it can send it anywhere. It is kept in this " +
                                "page's memory only; your stored secrets are not reachable from app mode." }),
    element("label", {}, `${name} `, input),
  ];
  return ask("typed-dialog", body, [["typed-use", "Use"], ["typed-skip", "Skip"]],
             (b) => (b === "typed-use" ? input.value : null));
}

// The Secrets panel: stored names (never values), the programs each is granted to, remove and revoke.
export function renderSecretsPanel(list, changed) {
  const grants = grantsByName();
  const button = (text, onclick) => element("button", { textContent: text, onclick: () => (onclick(), changed()) });
  list.replaceChildren(
    ...Object.keys(storedSecrets()).map((name) => {
      const granted = (grants[name] ?? []).map(({ fingerprint, label }) =>
        element("li", { className: "grant" }, `allowed for ${label} `,
                button("revoke", () => revoke(fingerprint, name))));
      return element("li", {}, `${name} = •••••• `, button("remove", () => removeSecret(name)),
                     element("ul", {}, ...granted));
    }),
  );
}
