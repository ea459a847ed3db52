/**
 * `replay --html` in a real browser: Debian's Chromium, headless, driven by playwright-core, loads the page of the
 * bundled incident from a file and must render the timelines and the service graph with the incident's counts,
 * with no console error; a screenshot goes to `.cache/replay-incident.png` for people to look at.
 *
 * Without Chromium (`apt-get install chromium`, or CHROMIUM_PATH) these tests skip with one line; in CI
 * (`CI=true`) a missing Chromium fails them instead (`.ci/run` installs it).
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseReplayArgs, runReplay } from "../../lambdas/cli/commands/replay.js";
import { calleeOf, callerOf } from "../../lambdas/cli/html/incident.js";
import type { Alert } from "../../lambdas/core/alerts/index.js";
import { parsedArgs } from "../lambdas/cli/helpers.js";
import { openPage, screenshot, withoutChromium } from "./page.js";

describe.skipIf(withoutChromium)("the replay --html page in Chromium", () => {
  let dir: string;
  let browser: Browser;
  let alerts: Alert[];
  let consoleErrors: string[];
  let counts: {
    articles: number;
    ruleLanes: number;
    ruleBars: number;
    identityDots: number;
    edges: number;
    alertingEdges: number;
    runbookLinks: number;
    graphWidth: number;
    graphHeight: number;
  };

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "incident-page-"));
    const file = join(dir, "incident.html");
    const args = parsedArgs(parseReplayArgs(["--json", "--html", file, "examples/incident"]));
    const lines: string[] = [];
    await runReplay(args, { write: (text) => lines.push(text) > 0 }, { write: () => true });
    alerts = lines
      .join("")
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line) as Alert);

    const opened = await openPage(file);
    ({ browser, consoleErrors } = opened);
    const { page } = opened;
    const count = (selector: string) => page.locator(selector).count();
    const graph = await page.locator("svg.service-graph").boundingBox();
    counts = {
      articles: await count("article.alert"),
      ruleLanes: await count("svg.by-rule g.lane"),
      ruleBars: await count("svg.by-rule rect.alert-window"),
      identityDots: await count("svg.by-identity circle.event"),
      edges: await count("svg.service-graph line.edge"),
      alertingEdges: await count("svg.service-graph line.edge.alerting"),
      runbookLinks: await count("a.runbook-link"),
      graphWidth: graph?.width ?? 0,
      graphHeight: graph?.height ?? 0,
    };
    await screenshot(page, "replay-incident.png");
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  });

  it("shows each alert with its rule and runbook links", () => {
    expect(counts.articles).toBe(6);
    expect(counts.runbookLinks).toBe(6);
  });

  it("draws a timeline lane per rule with each alert's window, and every evidence event by identity", () => {
    expect(counts.ruleLanes).toBe(new Set(alerts.map((alert) => alert.rule.name)).size);
    expect(counts.ruleBars).toBe(alerts.length);
    expect(counts.identityDots).toBe(alerts.reduce((sum, alert) => sum + alert.events.length, 0));
  });

  it("draws the service graph with the calls the alerts' evidence holds highlighted", () => {
    const alerting = new Set(
      alerts.flatMap((alert) => alert.events.map((doc) => `${callerOf(doc)} -> ${calleeOf(doc)}`)),
    );
    expect(counts.alertingEdges).toBe(alerting.size);
    expect(counts.edges).toBeGreaterThan(counts.alertingEdges);
    expect(counts.graphWidth).toBeGreaterThan(300);
    expect(counts.graphHeight).toBeGreaterThan(300);
  });

  it("loads without a console error or a failed request", () => {
    expect(consoleErrors).toEqual([]);
  });
});
