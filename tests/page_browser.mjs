// Drives headless Chromium (Debian's, never a downloaded one) with playwright-core, for
// tests/test_listener_page.py. Opens the listener's page once, prints {"ready": true}, then
// answers each command read from stdin, one JSON object a line:
//   {"selector": CSS, "has_text": TEXT, "timeout_ms": N, "screenshot": PATH or null}
// waits until an element matching `selector` shows `has_text`, and prints what a person sees:
// that element's text, the whole page's text, how many times the page navigated (1: never
// reloaded) and whether any element with id "injected" exists (it must not: results are text).
import { chromium } from "playwright-core";
import readline from "node:readline";

const [url, userDataDir] = process.argv.slice(2);
const context = await chromium.launchPersistentContext(userDataDir, {
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  headless: true,
  viewport: { width: 1280, height: 860 },
  args: [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
  ],
});
const say = (message) => process.stdout.write(JSON.stringify(message) + "\n");
try {
  const page = context.pages()[0] ?? (await context.newPage());
  let navigations = 0;
  page.on("framenavigated", (frame) => {
    if (frame === page.mainFrame()) navigations += 1;
  });
  const errors = [];
  page.on("pageerror", (error) => errors.push(String(error)));
  await page.goto(url);
  say({ ready: true });
  for await (const line of readline.createInterface({ input: process.stdin })) {
    if (!line.trim()) continue;
    const command = JSON.parse(line);
    try {
      const target = page.locator(command.selector).filter({ hasText: command.has_text }).first();
      await target.waitFor({ state: "visible", timeout: command.timeout_ms ?? 60000 });
      if (command.screenshot) await page.screenshot({ path: command.screenshot, fullPage: true });
      say({
        text: await target.innerText(),
        page: await page.locator("body").innerText(),
        navigations,
        injected: await page.locator("#injected").count(),
        errors,
      });
    } catch (error) {
      const shot = command.screenshot ? command.screenshot.replace(/\.png$/, "-failed.png") : null;
      if (shot) await page.screenshot({ path: shot, fullPage: true }).catch(() => {});
      say({ error: String(error), page: await page.locator("body").innerText(), errors });
    }
  }
} finally {
  await context.close();
}
