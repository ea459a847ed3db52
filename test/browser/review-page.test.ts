/**
 * `review --html` in a real browser: Debian's Chromium, headless, driven by playwright-core, loads the review of the
 * bundled incident from its file. The page must show every alert, exec session and change of the report, with no
 * console error; printed (A4, print media) no table may be wider than the page, the posture starts a new page and
 * the sign-off is not split. A screenshot goes to `.cache/review-incident.png` and the printed PDF to
 * `.cache/review-incident.pdf` for people to look at.
 *
 * Without Chromium (`apt-get install chromium`, or CHROMIUM_PATH) these tests skip with one line; in CI
 * (`CI=true`) a missing Chromium fails them instead.
 */
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseReviewArgs, reviewFromFiles, writeReview } from "../../lambdas/cli/commands/review.js";
import type { ReviewReport } from "../../lambdas/core/review/index.js";
import { INCIDENT_DIR } from "../fixtures/incident.js";
import { parsedArgs } from "../lambdas/cli/helpers.js";
import { openPage, printA4, printedPages, screenshot, withoutChromium } from "./page.js";

describe.skipIf(withoutChromium)("the review --html page in Chromium", () => {
  let dir: string;
  let browser: Browser;
  let page: Page;
  let report: ReviewReport;
  let pdf: Buffer;
  let overflowing: string[];
  let pdfPath: string;
  let consoleErrors: string[];
  const rows = (table: string) => page.locator(`table[data-table="${table}"] tbody tr`).count();

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "review-page-"));
    const file = join(dir, "review.html");
    const args = parsedArgs(
      parseReviewArgs([INCIDENT_DIR, "--html", file, "--markdown", join(dir, "review.md")]),
    );
    const quiet = { write: () => true };
    ({ report } = await reviewFromFiles(args, quiet));
    await writeReview(args, report, quiet, quiet);

    ({ browser, page, consoleErrors } = await openPage(file));
    await screenshot(page, "review-incident.png");
    ({ overflowing, pdf, pdfPath } = await printA4(
      page,
      "review-incident.pdf",
      `table.getAttribute("data-table")`,
    ));
  }, 300_000);

  afterAll(async () => {
    await browser?.close();
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  });

  it("shows every alert, exec session, change, denied identity and new edge of the report", async () => {
    expect(await rows("alerts")).toBe(report.alerts.length);
    expect(await rows("alerts-by-rule")).toBe(report.alertsByRule.length);
    expect(await rows("exec-sessions")).toBe(1);
    expect(await rows("changes")).toBe(1);
    expect(await rows("denied")).toBe(report.deniedIdentities.length);
    expect(await rows("new-edges")).toBe(report.newEdges.length);
    expect(await page.locator("#changes").textContent()).toContain("spec.mtls.mode=PERMISSIVE");
    expect(await page.locator("#exec").textContent()).toContain("sh -c env");
    expect(await page.locator("#signoff li").count()).toBe(report.signOff.length);
  });

  it("prints on A4 without a table wider than the page, the posture on a new page, the sign-off whole", async () => {
    expect(overflowing).toEqual([]);
    const styles = await page.evaluate<string[]>(
      `[getComputedStyle(document.querySelector("#posture")).breakBefore, getComputedStyle(document.querySelector("#signoff")).breakInside]`,
    );
    expect(styles).toEqual(["page", "avoid"]);
    expect(printedPages(pdf)).toBeGreaterThanOrEqual(2);
    expect((await readFile(pdfPath)).subarray(0, 5).toString()).toBe("%PDF-");
  });

  it("loads without a console error or a failed request", () => {
    expect(consoleErrors).toEqual([]);
  });
});
