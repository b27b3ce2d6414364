// Completion in the requirements box: while the name part of a line is typed, the mirror's projects for the runtime
// that start with it (GET r/<runtime>/-/projects) are listed under the box. The box stays a textbox with
// aria-autocomplete="list" and aria-controls/aria-activedescendant on a role="listbox" list: Down/Up move through
// it, Enter or Tab takes the highlighted name, Escape closes it; a click takes a name too.
import { nameAtCaret } from "./requirement_names.js";

const LIMIT = 8;
const DELAY_MS = 120;

export function attachCompletion(box, { runtime, onChange }) {
  const list = Object.assign(document.createElement("ul"), { id: "requirement-options", className: "completions" });
  list.setAttribute("role", "listbox");
  list.setAttribute("aria-label", "projects on this mirror");
  list.hidden = true;
  box.after(list);
  box.setAttribute("aria-autocomplete", "list");
  box.setAttribute("aria-controls", list.id);

  let options = []; // [{name, version}]
  let active = -1;
  let asked = 0; // answers to older questions are dropped
  let timer = null;

  function close() {
    clearTimeout(timer);
    asked += 1;
    options = [];
    active = -1;
    list.hidden = true;
    list.replaceChildren();
    box.removeAttribute("aria-activedescendant");
  }

  function show(found) {
    options = found;
    active = -1;
    box.removeAttribute("aria-activedescendant");
    list.replaceChildren(
      ...found.map(({ name, version }, i) => {
        const item = Object.assign(document.createElement("li"), { id: `requirement-option-${i}` });
        item.setAttribute("role", "option");
        item.setAttribute("aria-selected", "false");
        item.dataset.name = name;
        item.append(name, " ", Object.assign(document.createElement("span"), { className: "version", textContent: version }));
        return item;
      }),
    );
    list.hidden = found.length === 0;
  }

  function highlight(index) {
    active = (index + options.length) % options.length;
    [...list.children].forEach((item, i) => item.setAttribute("aria-selected", String(i === active)));
    box.setAttribute("aria-activedescendant", `requirement-option-${active}`);
    list.children[active].scrollIntoView({ block: "nearest" });
  }

  async function lookUp() {
    const at = nameAtCaret(box.value, box.selectionStart);
    if (!at || !at.typed || box.selectionStart !== box.selectionEnd) return close();
    const question = ++asked;
    try {
      const query = new URLSearchParams({ q: at.typed, limit: String(LIMIT) });
      const response = await fetch(`r/${encodeURIComponent(runtime())}/-/projects?${query}`);
      if (!response.ok) return question === asked && close(); // a name no project can have: nothing to offer
      const { projects } = await response.json();
      if (question !== asked) return;
      const exact = projects.length === 1 && projects[0].name === at.typed.toLowerCase();
      show(exact ? [] : projects);
    } catch {
      if (question === asked) close(); // offline: no completion
    }
  }

  function take(index) {
    const at = nameAtCaret(box.value, box.selectionStart);
    const chosen = options[index];
    close();
    if (!at || !chosen) return;
    box.value = box.value.slice(0, at.start) + chosen.name + box.value.slice(at.end);
    box.selectionStart = box.selectionEnd = at.start + chosen.name.length;
    onChange();
  }

  box.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(lookUp, DELAY_MS);
  });
  box.addEventListener("keydown", (event) => {
    if (list.hidden) return;
    if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      event.preventDefault();
      highlight(active < 0 && event.key === "ArrowUp" ? -1 : active + (event.key === "ArrowDown" ? 1 : -1));
    } else if ((event.key === "Enter" || event.key === "Tab") && active >= 0) {
      event.preventDefault();
      take(active);
    } else if (event.key === "Escape") {
      event.preventDefault();
      close();
    }
  });
  box.addEventListener("blur", close);
  list.addEventListener("mousedown", (event) => event.preventDefault()); // keep the focus (and the caret) in the box
  list.addEventListener("click", (event) => {
    const item = event.target.closest("[role=option]");
    if (item) take([...list.children].indexOf(item));
  });
  return { close };
}
