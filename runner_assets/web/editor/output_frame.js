// One HTML output of a program, in a frame the editor sandboxes (an opaque origin: no way into the editor's page or
// storage; served with a policy that lets its own scripts run and reach no network). The editor posts the HTML once;
// it is inserted so that its scripts run; the frame reports its height so the editor can fit it.
addEventListener("message", function render(event) {
  if (event.source !== parent || typeof event.data?.html !== "string") return;
  removeEventListener("message", render);
  const range = document.createRange();
  range.selectNodeContents(document.body);
  document.body.replaceChildren(range.createContextualFragment(event.data.html));
});

new ResizeObserver(() => {
  parent.postMessage({ wasmfarmOutputHeight: document.documentElement.scrollHeight }, "*");
}).observe(document.documentElement);
