/**
 * `compliance --html` in a real browser: Debian's Chromium, headless, driven by playwright-core, loads the page of
 * prod's template (its archive lock shortened, so that controls are both met and not met) from a file. The page must
 * show, per framework, as many controls met and not met as the assessment has, with no console error; printed
 * (A4, print media) no table may be wider than the page and each framework starts a new page. A screenshot goes to
 * `.cache/compliance-report.png` and the printed PDF to `.cache/compliance-report.pdf` for people to look at.
 *
 * Without Chromium (`apt-get install chromium`, or CHROMIUM_PATH) these tests skip with one line; in CI
 * (`CI=true`) a missing Chromium fails them instead (`.ci/run` installs it).
 */
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import {
  frameworkRequest,
  runCompliance,
  synthesizeEnvironment,
} from "../../lambdas/cli/commands/compliance.js";
import { type Assessment, assess } from "../../lambdas/core/compliance/index.js";
import { ENVIRONMENTS, loadEnvironmentConfig } from "../../lib/config/index.js";
import { openPage, printA4, printedPages, screenshot, withoutChromium } from "./page.js";

type Resources = Record<string, { Type: string; Properties: Record<string, unknown> }>;

interface FrameworkCounts {
  framework: string;
  met: number;
  notMet: number;
  summaryMet: number;
  summaryNotMet: number;
}

describe.skipIf(withoutChromium)("the compliance --html page in Chromium", () => {
  let dir: string;
  let browser: Browser;
  let page: Page;
  let assessment: Assessment;
  let pdf: Buffer;
  let consoleErrors: string[];
  let counts: FrameworkCounts[];
  let overflowing: string[];
  let pdfPath: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "compliance-page-"));
    const config = loadEnvironmentConfig("prod", ENVIRONMENTS);
    const template = (await synthesizeEnvironment(config)) as { Resources: Resources };
    for (const resource of Object.values(template.Resources)) {
      const lock = resource.Properties?.ObjectLockConfiguration as
        | { Rule?: { DefaultRetention?: { Days?: number } } }
        | undefined;
      if (lock?.Rule?.DefaultRetention?.Days !== undefined) lock.Rule.DefaultRetention.Days = 365;
    }
    const templateFile = join(dir, "prod.template.json");
    await writeFile(templateFile, JSON.stringify(template));
    // The assessment the page must show, computed here from the same template and the same minimums.
    assessment = assess(
      template,
      config.compliance.frameworks.map((framework) => frameworkRequest(framework, config)),
    );

    const file = join(dir, "compliance.html");
    vi.spyOn(process.stdout, "write").mockImplementation(() => true);
    vi.spyOn(process.stderr, "write").mockImplementation(() => true);
    let status: number;
    try {
      status = await runCompliance(["-c", "env=prod", "--template", templateFile, "--html", file]);
    } finally {
      vi.restoreAllMocks();
    }
    expect(status).toBe(1);

    ({ browser, page, consoleErrors } = await openPage(file));
    counts = [];
    for (const framework of assessment.frameworks) {
      const id = framework.framework;
      const section = `section.framework[data-framework="${id}"]`;
      const summary = `table.summary tr[data-framework="${id}"]`;
      counts.push({
        framework: id,
        met: await page.locator(`${section} section.control[data-status="met"]`).count(),
        notMet: await page.locator(`${section} section.control[data-status="not-met"]`).count(),
        summaryMet: Number(await page.locator(`${summary} td`).nth(2).textContent()),
        summaryNotMet: Number(await page.locator(`${summary} td`).nth(3).textContent()),
      });
    }
    await screenshot(page, "compliance-report.png");
    ({ overflowing, pdf, pdfPath } = await printA4(
      page,
      "compliance-report.pdf",
      `table.closest("section")?.getAttribute("data-control") ?? table.className`,
    ));
  }, 300_000);

  afterAll(async () => {
    await browser?.close();
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  });

  it("shows, per framework, as many controls met and not met as the assessment has", () => {
    const expected = assessment.frameworks.map((framework) => {
      const met = framework.controls.filter((control) => control.met).length;
      const notMet = framework.controls.length - met;
      return { framework: framework.framework, met, notMet, summaryMet: met, summaryNotMet: notMet };
    });
    expect(counts).toEqual(expected);
    expect(counts.reduce((sum, framework) => sum + framework.notMet, 0)).toBe(assessment.failures.length);
    expect(assessment.failures.length).toBeGreaterThan(0);
  });

  it("marks the lowered retention as weaker than required", async () => {
    const row = page.locator("tr.evidence.weak", {
      hasText: "ObjectLockConfiguration.Rule.DefaultRetention.Days",
    });
    expect(await row.count()).toBeGreaterThan(0);
    expect(await row.first().locator("td.status").textContent()).toBe("WEAKER THAN REQUIRED");
  });

  it("prints without a table wider than the page, each framework on a page of its own", async () => {
    expect(overflowing).toEqual([]);
    const breaks = await page.evaluate<string[]>(
      `[...document.querySelectorAll("section.framework")].map((section) => getComputedStyle(section).breakBefore)`,
    );
    expect(breaks).toEqual(assessment.frameworks.map(() => "page"));
    // A PDF page object per printed page: at least the summary page and one per framework.
    expect(printedPages(pdf)).toBeGreaterThanOrEqual(1 + assessment.frameworks.length);
    expect((await readFile(pdfPath)).subarray(0, 5).toString()).toBe("%PDF-");
  });

  it("loads without a console error or a failed request", () => {
    expect(consoleErrors).toEqual([]);
  });
});
