// A requirement the mirror cannot serve: under the server's explanation, one line per project it named, linking to
// the project's compat page (/compat/<project>) with its verdict in words and what can be done about it, read from
// that page's JSON (GET compat/<project>?format=json). The link is there at once; the words follow when the JSON
// comes, and say so when it does not.
const PROJECT = /^[A-Za-z0-9]([A-Za-z0-9._-]{0,200}[A-Za-z0-9])?$/;
const MAX_PROJECTS = 10;

export function explainUnlockable(show, compat, runtime) {
  const projects = [...new Set(compat.map((c) => c?.project).filter((p) => typeof p === "string" && PROJECT.test(p)))];
  const block = Object.assign(document.createElement("div"), { className: "out-compat" });
  const lines = projects.slice(0, MAX_PROJECTS).map((project) => {
    const href = new URL(`compat/${encodeURIComponent(project)}`, document.baseURI).href;
    const link = Object.assign(document.createElement("a"), { href, textContent: project, target: "_blank" });
    const words = Object.assign(document.createElement("span"), { textContent: ": finding out what can be done…" });
    const line = Object.assign(document.createElement("p"), { className: "out-compat-project" });
    line.dataset.project = project;
    line.append(link, words);
    return { project, line, words };
  });
  if (!lines.length) return Promise.resolve();
  block.append(...lines.map((l) => l.line));
  show(block);
  return Promise.all(lines.map(({ project, line, words }) => verdictOf(project, runtime).then((said) => {
    words.replaceChildren(...said.parts);
    line.dataset.status = said.status;
  })));
}

async function verdictOf(project, runtime) {
  try {
    const response = await fetch(`compat/${encodeURIComponent(project)}?format=json`);
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    return describe(await response.json(), runtime);
  } catch {
    return { status: "unknown", parts: [": its page says whether it works on Pyodide and what can be done"] };
  }
}

const status = (value, text) => Object.assign(document.createElement("strong"), { className: `verdict-${value}`, textContent: text });

// The verdict on `runtime` in words, and what can be done: [{status, parts: [text or nodes]}].
export function describe(document_, runtime) {
  const entries = Array.isArray(document_?.runtimes) ? document_.runtimes : [];
  const entry = entries.find((r) => r?.runtime === runtime) ?? null;
  const verdict = entry?.verdict;
  const actions = entry?.actions ?? {};
  if (!verdict) {
    const words = document_?.known
      ? `: not checked on Pyodide ${runtime} yet; its page can check it`
      : ": this mirror has no file of it and it was never checked; its page checks what upstream has and whether " +
        "it can work on Pyodide";
    return { status: "unchecked", parts: [" — ", status("unknown", "not checked"), words] };
  }
  const reason = String(verdict.reason ?? "").trim().replace(/\.$/, "");
  const version = verdict.version ? ` ${verdict.version}` : "";
  switch (verdict.status) {
    case "works":
      return { status: "works", parts: [" — ", status("works", "works"), `${version}: ${reason}. The mirror may lack ` +
        "the version asked or one of its dependencies: its page shows the tree"] };
    case "available-upstream":
      return { status: "available-upstream", parts: [" — ", status("available-upstream", "available upstream"),
        `: ${reason}. ${actions.mirror ? "An admin can mirror it from its page" : "An admin can mirror it"} ` +
        `(wasmfarm mirror ${verdict.project ?? ""}).`] };
    case "buildable":
      return { status: "buildable", parts: [" — ", status("buildable", "buildable"), `: ${reason}. ` +
        (entry.building ? "A build is running: run again when it has finished."
          : actions.build ? "Request a build on its page." : "An operator can build it (wasmfarm check --build).")] };
    case "fails":
      return { status: "fails", parts: [" — ", status("fails", "fails"), `: ${reason}`] };
    default:
      return { status: "unknown", parts: [` — ${verdict.status}: ${reason}`] };
  }
}
