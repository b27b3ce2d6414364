// The /compat pages: completion in the search box, and the actions (check now, build it, mirror it, scan a list),
// which the server runs in the background while this polls their task (and, for a build, /builds/<id>), then
// reloads the page to show the new verdict. Everything it needs is in data- attributes; text goes in as text.
const $ = (selector, root = document) => root.querySelector(selector);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function completion() {
  const box = $("#search-box");
  const list = $("#suggestions");
  if (!box || !list) return;
  let asked = "";
  let timer = null;
  box.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(async () => {
      const text = box.value.trim();
      if (!text || text === asked) return;
      asked = text;
      const response = await fetch(`/compat/-/suggest?q=${encodeURIComponent(text)}`);
      if (!response.ok) return;
      const { suggestions } = await response.json();
      list.replaceChildren(...suggestions.map((name) => Object.assign(document.createElement("option"), { value: name })));
    }, 150);
  });
}

function headers(tokenInput) {
  const token = tokenInput?.value.trim();
  return token ? { Authorization: `Bearer ${token}` } : {};
}

async function problem(response) {
  const body = await response.json().catch(() => ({}));
  const wait = response.headers.get("Retry-After");
  return `${body.message ?? `HTTP ${response.status}`}${wait ? ` (retry after ${wait} s)` : ""}`;
}

// Polls a task until it ends; `show` gets each state. Resolves with the last one.
async function follow(url, show) {
  for (;;) {
    const response = await fetch(url);
    if (!response.ok) throw new Error(await problem(response));
    const task = await response.json();
    show(task);
    if (task.state === "done" || task.state === "failed") return task;
    await sleep(1000);
  }
}

// Follows a build at /builds/<id> (its JSON) until it is finished, showing state and step.
async function followBuild(url, line) {
  const link = Object.assign(document.createElement("a"), { href: url, textContent: url });
  for (;;) {
    const response = await fetch(`${url}?format=json`);
    if (!response.ok) return;
    const build = await response.json();
    line.replaceChildren("build ", link, `: ${build.state}${build.step ? ` (${build.step})` : ""}`);
    line.dataset.state = build.state;
    if (["succeeded", "failed", "cancelled"].includes(build.state)) return build;
    await sleep(1000);
  }
}

function actions() {
  const token = $("#token");
  for (const section of document.querySelectorAll("section.runtime")) {
    const status = $(".task", section);
    const live = $(".build-live", section);
    if (live?.dataset.build) followBuild(live.dataset.build, live);
    for (const button of section.querySelectorAll("button.action")) {
      button.addEventListener("click", async () => {
        for (const b of section.querySelectorAll("button.action")) b.disabled = true;
        status.textContent = `${button.textContent}: asking…`;
        try {
          const response = await fetch(button.dataset.url, { method: "POST", headers: headers(token) });
          if (!response.ok) throw new Error(await problem(response));
          const started = await response.json();
          let following = null;
          const task = await follow(started.url, (t) => {
            status.textContent = `${button.textContent}${started.joined ? " (joined a request already running)" : ""}: ${t.phase}`;
            status.dataset.state = t.state;
            if (t.build?.url && !following) following = followBuild(t.build.url, live);
          });
          if (task.state === "failed") throw new Error(task.error);
          await following;
          status.textContent = `${button.textContent}: done, ${task.verdicts[0]?.status ?? "no verdict"}`;
          location.reload();
        } catch (err) {
          status.textContent = `${button.textContent}: ${err.message}`;
          status.dataset.state = "failed";
          for (const b of section.querySelectorAll("button.action")) b.disabled = false;
        }
      });
    }
  }
}

function scan() {
  const start = $("#scan-start");
  if (!start) return;
  const bar = $("#scan-progress");
  const status = $("#scan-status");
  $("#scan-file").addEventListener("change", async (event) => {
    const file = event.target.files[0];
    if (file) $("#scan-list").value = await file.text();
  });
  start.addEventListener("click", async () => {
    start.disabled = true;
    try {
      const response = await fetch("/compat/-/scan", {
        method: "POST", body: $("#scan-list").value, headers: { "Content-Type": "text/plain", ...headers($("#scan-token")) },
      });
      if (!response.ok) throw new Error(await problem(response));
      const started = await response.json();
      const task = await follow(started.url, (t) => {
        bar.max = Math.max(t.progress.total, 1);
        bar.value = t.progress.done;
        const counts = Object.entries(t.counts).map(([s, n]) => `${n} ${s}`).join(", ");
        status.textContent = `${t.progress.done}/${t.progress.total} checked${counts ? `: ${counts}` : ""}`;
      });
      if (task.state === "failed") throw new Error(task.error);
      location.reload();
    } catch (err) {
      status.textContent = err.message;
      start.disabled = false;
    }
  });
}

completion();
actions();
scan();
