// Project names in requirement lines and in imports, as the server normalises them (PEP 503). Pure.

const NAME_AT_START = /^\s*([A-Za-z0-9][A-Za-z0-9._-]*)/;

export const normalise = (name) => name.toLowerCase().replace(/[-_.]+/g, "-");

// The normalised project names a requirements text names (comments and blank lines skipped).
export function requiredNames(text) {
  const names = new Set();
  for (const line of text.split("\n")) {
    const match = NAME_AT_START.exec(line.split("#")[0]);
    if (match) names.add(normalise(match[1]));
  }
  return names;
}

// The name being typed at `caret` in a requirements text: {start, end, typed} when the caret is inside (or right
// after) the name part of its line, with nothing but blanks before the name; null otherwise (in a version, a marker).
export function nameAtCaret(text, caret) {
  const lineStart = text.lastIndexOf("\n", caret - 1) + 1;
  const before = /^(\s*)([A-Za-z0-9._-]*)$/.exec(text.slice(lineStart, caret));
  if (!before) return null;
  const after = /^[A-Za-z0-9._-]*/.exec(text.slice(caret))[0];
  const start = lineStart + before[1].length;
  return { start, end: caret + after.length, typed: before[2] };
}

// A line appended to a requirements text, on a line of its own.
export function withRequirement(text, name) {
  const trimmed = text.replace(/\s+$/, "");
  return `${trimmed}${trimmed ? "\n" : ""}${name}\n`;
}

// The top-level modules a Python source imports, by a static look at its `import` and `from ... import` statements
// (relative imports skipped). Statements in strings can be miscounted; the server only offers what it knows.
export function importedModules(source) {
  const found = new Set();
  for (const raw of source.split("\n")) {
    for (const statement of raw.split("#")[0].split(";")) {
      const from = /^\s*from\s+([A-Za-z_]\w*)(?:\.[\w.]*)?\s+import\b/.exec(statement);
      if (from) {
        found.add(from[1]);
        continue;
      }
      const plain = /^\s*import\s+(.+)$/.exec(statement);
      if (!plain) continue;
      for (const part of plain[1].replace(/[()\\]/g, "").split(",")) {
        const top = /^\s*([A-Za-z_]\w*)/.exec(part);
        if (top) found.add(top[1]);
      }
    }
  }
  return found;
}

// The modules a program's own files make (`helpers.py` -> helpers, `pkg/x.py` -> pkg): imports of them need nothing.
export function localModules(fileNames) {
  return new Set(fileNames.map((name) => name.split("/")[0].replace(/\.py$/, "")));
}
