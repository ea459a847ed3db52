/**
 * The pages of the browser tests: Debian's Chromium, headless, driven by playwright-core, loading a page the CLI
 * wrote to a file. Without Chromium (`apt-get install chromium`, or CHROMIUM_PATH) the tests skip with one line; in CI
 * (`CI=true`) a missing Chromium fails them instead (`.ci/run` installs it).
 */
import { existsSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { type Browser, chromium, type Page } from "playwright-core";

const CANDIDATES = [process.env.CHROMIUM_PATH, "/usr/bin/chromium", "/usr/bin/chromium-browser"];
const executablePath = CANDIDATES.find((path): path is string => path !== undefined && existsSync(path));
const inCi = process.env.CI === "true" || process.env.CI === "1";

/** For `describe.skipIf`: no Chromium here, outside CI (said once on stderr). */
export const withoutChromium = executablePath === undefined && !inCi;
if (withoutChromium) {
  process.stderr.write(
    "browser tests skipped: no Chromium (apt-get install chromium, or set CHROMIUM_PATH)\n",
  );
}

/** Where the tests leave screenshots and PDFs for people to look at. */
const CACHE = ".cache";

export interface OpenedPage {
  readonly browser: Browser;
  readonly page: Page;
  /** Console errors, uncaught page errors and failed requests, as they happen. */
  readonly consoleErrors: string[];
}

/** Launches Chromium and loads `file` in a 1280×900 window, recording every console error and failed request. */
export async function openPage(file: string): Promise<OpenedPage> {
  if (executablePath === undefined)
    throw new Error("Chromium not found in CI: .ci/run installs it (apt-get install chromium)");
  const consoleErrors: string[] = [];
  const browser = await chromium.launch({ executablePath, args: ["--no-sandbox"] });
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  page.on("console", (message) => {
    if (message.type() === "error") consoleErrors.push(message.text());
  });
  page.on("pageerror", (error) => consoleErrors.push(error.message));
  page.on("requestfailed", (request) => consoleErrors.push(`request failed: ${request.url()}`));
  await page.goto(pathToFileURL(file).href);
  return { browser, page, consoleErrors };
}

/** A full-page screenshot to `.cache/NAME`. */
export async function screenshot(page: Page, name: string): Promise<void> {
  await mkdir(CACHE, { recursive: true });
  await page.screenshot({ path: join(CACHE, name), fullPage: true });
}

/**
 * The page printed: print media at A4's width (794 px at 96 dpi, less the 12 mm margins), the tables wider than
 * the page (each named by `tableName`, an expression of `table`), and the PDF, also written to `.cache/NAME`.
 */
export async function printA4(
  page: Page,
  pdfName: string,
  tableName: string,
): Promise<{ overflowing: string[]; pdf: Buffer; pdfPath: string }> {
  await page.emulateMedia({ media: "print" });
  await page.setViewportSize({ width: 703, height: 1000 });
  // (Expressions as text: the page's DOM is not in this project's TypeScript libraries.)
  const overflowing = await page.evaluate<string[]>(
    `[...document.querySelectorAll("table")]
      .filter((table) => table.getBoundingClientRect().right > document.documentElement.clientWidth + 1)
      .map((table) => ${tableName})`,
  );
  await mkdir(CACHE, { recursive: true });
  const pdfPath = join(CACHE, pdfName);
  const pdf = await page.pdf({ path: pdfPath, format: "A4", printBackground: true });
  return { overflowing, pdf, pdfPath };
}

/** PDF page objects in `pdf`: one per printed page. */
export function printedPages(pdf: Buffer): number {
  return (pdf.toString("latin1").match(/\/Type\s*\/Page[^s]/g) ?? []).length;
}
