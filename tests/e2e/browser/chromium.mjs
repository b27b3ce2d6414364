// Debian's Chromium driven by playwright-core (from the path a scenario's config names), in a fresh profile: the
// context and its first page, with every request's URL and every page error recorded in `found`.
import { mkdtempSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import path from "node:path";

export const CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                              "--disable-background-networking", "--disable-component-update", "--disable-sync"];

export async function openChromium(config, found, { profile = "wasmfarm-", viewport = { width: 1280, height: 900 } } = {}) {
  const { chromium } = createRequire(path.join(config.playwright, "package.json"))("playwright-core");
  const context = await chromium.launchPersistentContext(mkdtempSync(path.join(tmpdir(), profile)), {
    executablePath: "/usr/bin/chromium", headless: true, viewport, args: CHROMIUM_ARGS,
  });
  context.on("request", (request) => found.requests.push(request.url()));
  const page = context.pages()[0] ?? (await context.newPage());
  page.on("pageerror", (err) => found.errors.push(String(err)));
  return { context, page };
}
