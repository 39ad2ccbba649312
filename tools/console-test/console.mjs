// Drives ferry's web console in headless Chromium, as a person would:
// sign in with a token, start a backup, watch its byte count rise on the
// dashboard until it finishes, browse the backup to a file, restore it.
// Run by cmd/ferry's TestConsoleInChromium, which starts ferry serve,
// then checks the restored file; this script prints one JSON line with
// what it saw. Screenshots go to $ARTIFACTS.
//
// Environment: FERRY_URL, FERRY_TOKEN, SOURCE (directory to back up),
// BROWSE (directory inside the backup, e.g. /sub), FILE (its file's path
// in the backup), RESTORE_TO, CHROMIUM (the browser), ARTIFACTS.
import { chromium } from "playwright-core";
import path from "node:path";

const env = (name) => {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set`);
  return v;
};
const base = env("FERRY_URL");
const artifacts = env("ARTIFACTS");
const shot = (page, name) => page.screenshot({ path: path.join(artifacts, name + ".png"), fullPage: true });

const browser = await chromium.launch({
  executablePath: env("CHROMIUM"),
  headless: true,
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"],
});
const result = {};
let page;
try {
  page = await browser.newPage();
  page.setDefaultTimeout(30000);
  // Signed out, the console shows the sign-in form (answered 401).
  await page.goto(base + "/console/");
  await shot(page, "1-signin");
  await page.fill("#token", env("FERRY_TOKEN"));
  await Promise.all([page.waitForURL(base + "/console/"), page.click("#signin")]);

  // Signed in, no page may fail to load a part or raise a script error.
  const problems = [];
  page.on("pageerror", (e) => problems.push("page error: " + e.message));
  page.on("console", (m) => { if (m.type() === "error") problems.push("console: " + m.text()); });

  // Start a backup from the Backups page; the console returns to the
  // dashboard, where the job is listed.
  await page.goto(base + "/console/backups");
  await page.fill("#source", env("SOURCE"));
  await Promise.all([page.waitForURL(/\/console\/\?started=\d+$/), page.click("#start")]);
  const job = new URL(page.url()).searchParams.get("started");
  result.job = Number(job);
  const row = `#running tr[data-job="${job}"]`;
  await page.waitForSelector(row);

  // Live progress: the row's byte count, as the page shows it, read as
  // fast as the page answers until the job has ended.
  const seen = [];
  const deadline = Date.now() + 120000;
  let state = "";
  for (;;) {
    const now = await page.$eval(row, (r) => ({
      bytes: Number(r.querySelector('[data-field="bytes"]').dataset.bytes),
      state: r.querySelector('[data-field="state"]').textContent.trim(),
    }));
    state = now.state;
    if (state === "running" && (seen.length === 0 || now.bytes > seen[seen.length - 1])) {
      seen.push(now.bytes);
      if (seen.length === 3) await shot(page, "2-dashboard-running");
    }
    if (state !== "running" && state !== "cancelling") break;
    if (Date.now() > deadline) throw new Error("the backup did not end in time");
  }
  result.rising = seen;
  result.backupState = state;
  await shot(page, "3-dashboard-ended");

  // Browse: the newest backup, into the directory, to the file.
  await page.goto(base + "/console/backups");
  await Promise.all([page.waitForURL(/\/console\/backups\/\d+$/), page.click("#backups tr[data-backup] a")]);
  result.backup = Number(page.url().split("/").pop());
  const browse = env("BROWSE");
  await Promise.all([page.waitForURL(/\?dir=/), page.click(`#files a:text("${path.basename(browse)}/")`)]);
  await page.check(`#files input[value="${env("FILE")}"]`);
  await page.fill("#to", env("RESTORE_TO"));
  await shot(page, "4-restore-chosen");
  await Promise.all([page.waitForURL(/\/console\/jobs\/\d+$/), page.click("#restore")]);
  result.restoreJob = Number(page.url().split("/").pop());
  await page.waitForFunction(() => {
    const s = document.querySelector('#job [data-field="state"]').textContent.trim();
    return s !== "running" && s !== "cancelling";
  }, null, { timeout: 60000 });
  result.restoreState = await page.$eval('#job [data-field="state"]', (e) => e.textContent.trim());
  await shot(page, "5-restore-ended");
  result.problems = problems;
} catch (e) {
  // What the page showed when it went wrong, for the test's log.
  if (page) await shot(page, "failure").catch(() => {});
  console.error("seen so far: " + JSON.stringify(result));
  throw e;
} finally {
  await browser.close();
}
console.log(JSON.stringify(result));
