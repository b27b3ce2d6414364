// Packages from the editor: the requirements box completes project names from the mirror, and imports that a
// mirrored project provides are offered as requirements (one click adds one). `explainUnlockable` says, for a
// requirement the mirror cannot serve, what its compat page knows and what can be done.
import { createImportOffers } from "./import_offers.js";
import { attachCompletion } from "./requirement_completion.js";
import { withRequirement } from "./requirement_names.js";

export { explainUnlockable } from "./unlockable.js";

// box: the requirements textarea; runtime(): the selected runtime; files(): the program's files as they are now;
// changed(): the requirements were edited here (the editor saves them).
export function createPackages({ box, runtime, files, changed }) {
  const offers = createImportOffers(box, {
    runtime,
    files,
    add: (project) => {
      box.value = withRequirement(box.value, project);
      changed();
    },
  });
  attachCompletion(box, {
    runtime,
    onChange: () => {
      changed();
      offers.refresh();
    },
  });
  return { refresh: offers.refresh, refreshNow: offers.refreshNow };
}
