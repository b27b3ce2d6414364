// One line under the project buttons saying what the last project action did (imported, refused, opened), read out
// by screen readers (role="status"); a refusal is marked as an error.
export function notice(text, { error = false } = {}) {
  const line = document.getElementById("project-note");
  if (!line) return;
  line.textContent = text;
  line.classList.toggle("error", error);
  line.hidden = !text;
}
