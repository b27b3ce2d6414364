// Errors in the editor: when a run fails with a traceback through the user's files, the failing line (the innermost
// frame in one of the project's files) is marked in the gutter and given a line class, its file's tab is opened, and
// each frame line of the traceback in the output is a button that jumps to its file and line. The mark goes with the
// next edit or run; it stays while other tabs are looked at.
import { Annotation, RangeSet, StateEffect, StateField } from "@codemirror/state";
import { Decoration, EditorView, GutterMarker, gutter } from "@codemirror/view";

// CPython's traceback module: `  File "<path>", line <n>, in <name>` (a SyntaxError's frame has no ", in").
const FRAME = /^( {2}File "([^"]+)", line (\d+))/;

// The project's file a traceback path names: main.py runs under its own name, imported modules under the working
// directory's absolute path (/home/pyodide/helpers.py). The longest name wins (pkg/util.py over util.py).
function projectFile(path, names) {
  let best = null;
  for (const name of names) {
    if ((path === name || path.endsWith(`/${name}`)) && name.length > (best?.length ?? -1)) best = name;
  }
  return best;
}

// The frames of a traceback that are in the project's files: [{file, line, text (the "  File ..., line N" part),
// at (index of the traceback line)}], outermost first.
export function projectFrames(traceback, names) {
  const frames = [];
  traceback.split("\n").forEach((text, at) => {
    const match = FRAME.exec(text);
    const file = match && projectFile(match[2], names);
    if (file) frames.push({ file, line: Number(match[3]), text: match[1], at });
  });
  return frames;
}

const setMark = StateEffect.define(); // {from, message} | null
export const fileSwitch = Annotation.define(); // a transaction that shows another file: not an edit

class ErrorMarker extends GutterMarker {
  constructor(message) {
    super();
    this.message = message;
  }
  eq(other) {
    return other.message === this.message;
  }
  toDOM() {
    const mark = Object.assign(document.createElement("span"), { textContent: "●" });
    if (!this.message) return mark; // the gutter's width spacer
    mark.className = "cm-error-marker";
    mark.title = this.message;
    mark.setAttribute("aria-label", `error: ${this.message}`);
    return mark;
  }
}

const markField = StateField.define({
  create: () => null,
  update(mark, tr) {
    for (const effect of tr.effects) if (effect.is(setMark)) return effect.value;
    return tr.docChanged ? null : mark; // an edit, or another file shown
  },
  provide: (field) =>
    EditorView.decorations.from(field, (mark) =>
      mark ? Decoration.set([Decoration.line({ class: "cm-error-line" }).range(mark.from)]) : Decoration.none,
    ),
});

const errorGutter = gutter({
  class: "cm-error-gutter",
  markers: (view) => {
    const mark = view.state.field(markField);
    return mark ? RangeSet.of([new ErrorMarker(mark.message).range(mark.from)]) : RangeSet.empty;
  },
  initialSpacer: () => new ErrorMarker(""),
});

// view(): the EditorView; state: the editor's state ({files, current}); openFile(name): shows a file's tab.
export function createErrorMarks({ view, state, openFile }) {
  let failing = null; // {file, line, message}

  function markShown() {
    const v = view();
    if (!v) return;
    const here = failing?.file === state.current ? failing : null;
    const line = here && v.state.doc.line(Math.min(Math.max(here.line, 1), v.state.doc.lines));
    v.dispatch({ effects: setMark.of(line ? { from: line.from, message: here.message } : null) });
  }

  // A run failed with this traceback (the user's frames): mark its innermost frame in the project, if any.
  function failed(traceback) {
    const frames = projectFrames(traceback, Object.keys(state.files));
    const last = frames.at(-1);
    if (!last || !view()) return;
    const message = traceback.trim().split("\n").at(-1).trim();
    failing = { file: last.file, line: last.line, message };
    if (state.current !== last.file) openFile(last.file); // fileShown() marks it
    else markShown();
  }

  function clear() {
    failing = null;
    if (view()?.state.field(markField)) markShown();
  }

  // Puts the cursor on a file's line (clamped to the file), scrolled into view, with the focus in the editor.
  function jump(file, number) {
    if (!(file in state.files) || !view()) return;
    if (state.current !== file) openFile(file);
    const v = view();
    const line = v.state.doc.line(Math.min(Math.max(number, 1), v.state.doc.lines));
    const indent = /^\s*/.exec(line.text)[0].length;
    v.dispatch({ selection: { anchor: line.from + indent }, scrollIntoView: true });
    v.focus();
  }

  // The frame lines of a traceback shown in the output (a <pre>) become buttons that jump to their file and line;
  // the text stays the same.
  function linkFrames(pre, traceback) {
    const frames = projectFrames(traceback, Object.keys(state.files));
    if (!frames.length || !view()) return;
    const lines = traceback.split("\n");
    const byLine = new Map(frames.map((frame) => [frame.at, frame]));
    pre.replaceChildren(
      ...lines.flatMap((text, at) => {
        const end = at < lines.length - 1 ? "\n" : "";
        const frame = byLine.get(at);
        if (!frame) return [text + end];
        const button = Object.assign(document.createElement("button"), {
          type: "button", className: "out-frame", textContent: frame.text,
        });
        button.title = `go to ${frame.file}, line ${frame.line}`;
        button.onclick = () => jump(frame.file, frame.line);
        return [button, text.slice(frame.text.length) + end];
      }),
    );
  }

  // Edits clear the mark; showing another file keeps it for when its file is shown again.
  const clearOnEdit = EditorView.updateListener.of((update) => {
    if (update.docChanged && !update.transactions.some((tr) => tr.annotation(fileSwitch))) failing = null;
  });

  return {
    extension: [markField, errorGutter, clearOnEdit],
    failed, clear, jump, linkFrames,
    fileShown: markShown,
  };
}
