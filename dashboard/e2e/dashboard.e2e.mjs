// End-to-end run of the dashboard in headless Chromium (Debian's package) driven by playwright-core.
// Started by tests/e2e/test_dashboard.py with a running stack; reads its settings from the JSON
// file named by E2E_CONFIG and writes its measurements to config.result.
import { readFileSync, writeFileSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { chromium } from "playwright-core";

const config = JSON.parse(readFileSync(process.env.E2E_CONFIG, "utf8"));
const base = config.baseUrl.replace(/\/$/, "");
const shots = config.screenshots;
mkdirSync(shots, { recursive: true });
const result = { steps: [], consoleErrors: [] };
const step = (name, extra = {}) => {
  result.steps.push({ name, at: new Date().toISOString(), ...extra });
  console.log(`ok  ${name}`, Object.keys(extra).length ? JSON.stringify(extra) : "");
};

/** Gzipped size of the JS the first page load fetches: the entry script and its modulepreloads. */
function initialJs(distDir) {
  const html = readFileSync(join(distDir, "index.html"), "utf8");
  const files = [...html.matchAll(/(?:src|href)="\/(assets\/[^"]+\.js)"/g)].map((m) => m[1]);
  let gzip = 0;
  let raw = 0;
  for (const f of files) {
    const bytes = readFileSync(join(distDir, f));
    raw += bytes.length;
    gzip += gzipSync(bytes, { level: 9 }).length;
  }
  return { files, raw, gzip };
}

const profile = mkdtempSync(join(tmpdir(), "wafaa-chromium-"));
// a fresh profile directory (--user-data-dir) per run
const context = await chromium.launchPersistentContext(profile, {
  executablePath: config.chromium ?? "/usr/bin/chromium",
  headless: true,
  args: [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
  ],
  viewport: { width: 1280, height: 860 },
  acceptDownloads: true,
});
let failed = null;
try {
  context.setDefaultTimeout(20_000);
  const page = context.pages()[0] ?? (await context.newPage());
  page.on("console", (msg) => msg.type() === "error" && result.consoleErrors.push(msg.text()));
  page.on("pageerror", (err) => result.consoleErrors.push(String(err)));
  const shot = async (name, p = page) => {
    await p.screenshot({ path: join(shots, `${name}.png`), fullPage: true });
  };

  // --- login
  await page.goto(`${base}/`);
  await page.getByRole("heading", { name: "Sign in" }).waitFor();
  await shot("login");
  await page.getByLabel("Email").fill(config.email);
  await page.getByLabel("Password").fill(config.password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByRole("heading", { name: "Overview", level: 1 }).waitFor();
  step("login");

  // --- overview: time to interactive on a fresh load (session restored from the refresh token)
  const size = initialJs(config.dist);
  result.initialJs = size;
  await page.goto(`${base}/`, { waitUntil: "commit" });
  const tti = await page.waitForFunction(
    () => {
      const h1 = document.querySelector("main h1");
      const loading = [...document.querySelectorAll('[role="status"]')].some((e) => e.textContent?.includes("Loading"));
      const select = document.querySelector("main select");
      return h1?.textContent === "Overview" && !loading && select && !select.disabled ? performance.now() : false;
    },
    null,
    { polling: "raf", timeout: 20_000 },
  );
  result.overviewTtiMs = Math.round(await tti.jsonValue());
  const nav = await page.evaluate(() => {
    const e = performance.getEntriesByType("navigation")[0];
    return e ? { domContentLoaded: Math.round(e.domContentLoadedEventEnd), load: Math.round(e.loadEventEnd) } : null;
  });
  result.overviewNavigation = nav;
  const jsTransferred = await page.evaluate(() =>
    performance.getEntriesByType("resource").filter((r) => r.name.endsWith(".js")).reduce((n, r) => n + (r.encodedBodySize || 0), 0),
  );
  result.overviewJsBytes = jsTransferred;
  await shot("overview");
  step("overview", { ttiMs: result.overviewTtiMs, initialJsGzip: size.gzip });

  // --- knowledge: upload the restaurant menu and watch it become ready
  await page.getByRole("link", { name: "Knowledge base" }).click();
  await page.getByRole("heading", { name: "Knowledge base", level: 1 }).waitFor();
  // the menu PDF with the other documents of the restaurant, in one multi-file pick
  const files = [config.pdf, ...(config.extraFiles ?? [])];
  await page.getByTestId("file-input").setInputFiles(files);
  const filename = config.pdf.split("/").pop();
  const row = page.getByTestId("document-row").filter({ hasText: filename });
  await row.first().waitFor({ timeout: 60_000 });
  await shot("knowledge-uploading");
  for (const file of files) {
    const name = file.split("/").pop();
    await page.locator(".upload.done", { hasText: name }).waitFor({ timeout: 60_000 });
    await page.locator(`[data-testid="document-row"][data-status="ready"]`, { hasText: name }).waitFor({ timeout: 180_000 });
  }
  step("knowledge ready", { files: files.length });
  await row.first().getByRole("button", { name: "Preview chunks" }).click();
  await page.locator(".chunks li").first().waitFor();
  await page.getByPlaceholder("Question").fill("Friday hours");
  await page.getByRole("button", { name: "Search", exact: true }).click();
  await page.locator(".hits li, .empty").first().waitFor();
  await shot("knowledge");

  // --- chat playground
  await page.getByRole("link", { name: "Chat playground" }).click();
  await page.getByLabel("Your message").fill(config.question);
  await page.getByRole("button", { name: "Send" }).click();
  const botTurn = page.getByTestId("bot-turn").last();
  await botTurn.getByTestId("source").first().waitFor({ timeout: 90_000 });
  result.chatAnswer = (await botTurn.locator("p").first().textContent())?.trim();
  result.chatSources = await botTurn.getByTestId("source").allTextContents();
  await shot("chat");
  step("chat answered with a source", { answer: result.chatAnswer, sources: result.chatSources });

  // --- conversations: a signed WhatsApp webhook, then take over and reply
  if (config.webhook) {
    const response = await fetch(`${base}/api/v1/webhooks/whatsapp`, {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-Hub-Signature-256": config.webhook.signature },
      body: config.webhook.body,
    });
    if (response.status !== 200) throw new Error(`webhook answered ${response.status}: ${await response.text()}`);
    step("webhook accepted");
    await page.getByRole("link", { name: "Conversations" }).click();
    const item = page.getByTestId("conversation-item").filter({ hasText: config.webhook.customer });
    await item.first().waitFor({ timeout: 60_000 });
    await item.first().click();
    await page.getByTestId("message").filter({ hasText: config.webhook.text }).waitFor();
    await page.getByRole("button", { name: "Take over" }).click();
    await page.getByTestId("conversation-status").filter({ hasText: "Human" }).waitFor();
    await page.getByLabel("Reply as a human").fill(config.agentReply);
    await page.getByRole("button", { name: "Send", exact: true }).click();
    await page.getByTestId("message").filter({ hasText: config.agentReply }).waitFor({ timeout: 30_000 });
    await page.waitForTimeout(1500);
    await shot("conversations");
    step("took over and replied");
    await page.setViewportSize({ width: 390, height: 844 });
    await shot("conversations-phone");
    await page.setViewportSize({ width: 1280, height: 860 });
  } else {
    await page.getByRole("link", { name: "Conversations" }).click();
    await page.getByRole("heading", { name: "Conversations", level: 1 }).waitFor();
    await shot("conversations");
    step("conversations (no webhook configured)");
  }

  // --- settings: change the fallback message, then find it in the audit log
  await page.getByRole("link", { name: "Settings" }).click();
  const fallback = page.getByLabel("Fallback message");
  await fallback.waitFor();
  await fallback.fill(config.fallback);
  await page.getByRole("button", { name: "Save" }).click();
  await page.getByRole("status").filter({ hasText: "Saved" }).waitFor();
  await shot("settings");
  step("settings saved");
  await page.getByRole("link", { name: "Audit log" }).click();
  await page.getByTestId("audit-row").filter({ hasText: config.fallback }).first().waitFor();
  await shot("audit");
  step("fallback change in the audit log");
  const [download] = await Promise.all([page.waitForEvent("download"), page.getByRole("button", { name: "Export CSV" }).click()]);
  const csvPath = join(shots, "..", "audit-log.csv");
  await download.saveAs(csvPath);
  result.csvHasChange = readFileSync(csvPath, "utf8").includes(config.fallback);
  step("audit CSV exported", { containsChange: result.csvHasChange });

  // --- the remaining pages
  await page.getByRole("link", { name: "Channels" }).click();
  await page.getByRole("heading", { name: "Channels", level: 1 }).waitFor();
  await page.getByRole("heading", { name: "Connect a channel" }).waitFor();
  await shot("channels");
  await page.getByRole("link", { name: "Team" }).click();
  await page.getByRole("heading", { name: "Add a member" }).waitFor();
  await shot("team");
  await page.getByRole("link", { name: "Overview" }).click();
  await page.setViewportSize({ width: 390, height: 844 });
  await page.getByRole("heading", { name: "Overview", level: 1 }).waitFor();
  await shot("overview-phone");
  step("all pages captured");

  // --- logout
  await page.setViewportSize({ width: 1280, height: 860 });
  await page.getByRole("button", { name: "Log out" }).click();
  await page.getByRole("heading", { name: "Sign in" }).waitFor();
  step("logout");
} catch (err) {
  failed = err;
  result.error = String(err?.stack ?? err);
  try {
    const pages = context.pages();
    if (pages[0]) await pages[0].screenshot({ path: join(shots, "failure.png"), fullPage: true });
  } catch {
    // best effort
  }
} finally {
  await context.close();
  rmSync(profile, { recursive: true, force: true });
  writeFileSync(config.result, JSON.stringify(result, null, 2));
}
if (failed) {
  console.error(failed);
  process.exit(1);
}
