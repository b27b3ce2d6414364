"""An app with buttons: Python builds the page through js.document. That works where a program runs on the page
itself: the editor's Preview, or app mode (Share, then "open as app"). In the editor's output, programs run in a
worker, which has no page."""

import js

if not hasattr(js, "document"):
    print(
        'This app builds its own page with js.document: open the Preview (or Share, then "open as app") to use '
        "its buttons."
    )
else:
    from pyodide.ffi import create_proxy

    document = js.document
    root = document.getElementById("app")
    heading = document.createElement("h1")
    heading.textContent = "Counter"
    shown = document.createElement("output")
    shown.id = "count"
    shown.setAttribute("aria-live", "polite")
    root.append(heading, shown)
    counter = {"count": 0}

    def show():
        shown.textContent = f"count: {counter['count']}"

    def button(label, step):
        def clicked(event):
            counter["count"] = 0 if step is None else counter["count"] + step
            show()

        element = document.createElement("button")
        element.textContent = label
        element.addEventListener("click", create_proxy(clicked))  # kept alive: the page calls it later
        root.append(element)

    button("+1", 1)
    button("-1", -1)
    button("reset", None)
    show()
    print("the app is ready: use its buttons")
