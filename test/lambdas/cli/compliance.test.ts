import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCompliance, synthesizeEnvironment } from "../../../lambdas/cli/commands/compliance.js";
import { commands } from "../../../lambdas/cli/commands/index.js";
import type { CfnTemplate } from "../../../lambdas/core/compliance/index.js";
import { ENVIRONMENTS, loadEnvironmentConfig } from "../../../lib/config/index.js";
import { removeDir, tempDir } from "../core/digest/local-archive-helpers.js";
import { captureProcessOutput } from "./helpers.js";

type Resources = Record<string, { Type: string; Properties: Record<string, unknown> }>;

const { out, err } = captureProcessOutput();
let dir: string;
/** Prod synthesized once by the command's own synthesis (the path `-c env=prod` takes). */
let prod: CfnTemplate & { Resources: Resources };
let archiveBucketId: string;

beforeAll(async () => {
  dir = await tempDir();
  prod = (await synthesizeEnvironment(loadEnvironmentConfig("prod", ENVIRONMENTS))) as CfnTemplate & {
    Resources: Resources;
  };
  const locked = Object.entries(prod.Resources).filter(
    ([, resource]) =>
      resource.Type === "AWS::S3::Bucket" && resource.Properties.ObjectLockConfiguration !== undefined,
  );
  expect(locked).toHaveLength(1);
  archiveBucketId = locked[0]?.[0] as string;
});

afterAll(async () => {
  await removeDir(dir);
});

/** Writes a copy of prod's template, changed by `edit`, and returns its path. */
async function prodTemplateFile(name: string, edit: (template: { Resources: Resources }) => void = () => {}) {
  const template = structuredClone(prod);
  edit(template);
  const file = join(dir, name);
  await writeFile(file, JSON.stringify(template));
  return file;
}

function archiveBucket(template: { Resources: Resources }) {
  const bucket = template.Resources[archiveBucketId];
  if (bucket === undefined) throw new Error("no archive bucket in the copy");
  return bucket.Properties;
}

describe("audit-trail compliance", () => {
  it("is registered as a verb", () => {
    expect(commands.compliance?.summary).toMatch(/auditor/);
  });

  it("synthesizes prod in-process and reports every framework met, exit 0", async () => {
    // Act
    const status = await runCompliance(["-c", "env=prod"]);

    // Assess
    const report = out.join("");
    expect(status).toBe(0);
    expect(report).toMatch(/^# Compliance evidence: environment "prod"/);
    expect(report).toContain("synthesized in memory from lib/config/environments.ts");
    for (const heading of [
      "## PCI DSS v4.0",
      "## HIPAA Security Rule",
      "## SOC 2",
      "## ISO/IEC 27001:2022 Annex A",
      "## GDPR",
    ]) {
      expect(report).toContain(heading);
    }
    for (const control of [
      "### 10.2 ",
      "### 10.3 ",
      "### 10.5.1 ",
      "### 10.7.2 ",
      "### 164.312(b) ",
      "### 164.316(b)(2) ",
      "### CC7.2 ",
      "### CC7.3 ",
      "### A.8.15 ",
      "### A.8.16 ",
      "### Art. 30 ",
      "### Art. 32 ",
    ]) {
      expect(report).toMatch(new RegExp(`${control.replace(/[.()]/g, "\\$&")}.*: met\\n`));
    }
    expect(report).toContain(
      `| \`${archiveBucketId}\` \`AWS::S3::Bucket\` | \`ObjectLockConfiguration.Rule.DefaultRetention.Days\` | \`${loadEnvironmentConfig("prod", ENVIRONMENTS).retention.archiveDays}\` | ≥ 2192 days | met |`,
    );
    expect(report).not.toContain("NOT MET");
    expect(report).toContain("### Not addressed by this stack");
    expect(err.join("")).toContain('compliance: OK: environment "prod"');
  });

  it("says that dev enables no framework and claims nothing, exit 0", async () => {
    const status = await runCompliance(["--env", "dev"]);

    expect(status).toBe(0);
    const report = out.join("");
    expect(report).toContain("- Frameworks: none");
    expect(report).toContain('compliance.frameworks is empty for "dev" in lib/config/environments.ts');
    expect(report).toContain("no compliance is claimed");
    expect(report).not.toContain("## PCI");
  });

  it("reads --template, takes the environment from its tag, and writes --out", async () => {
    const file = await prodTemplateFile("intact.json");
    const report = join(dir, "report.md");

    const status = await runCompliance(["--template", file, "--framework", "hipaa", "--out", report]);

    expect(status).toBe(0);
    expect(out.join("")).toBe("");
    const written = await readFile(report, "utf8");
    expect(written).toContain(`- Template: ${file}`);
    expect(written).toContain("## HIPAA Security Rule");
    expect(written).not.toContain("## PCI");
  });

  it("takes --framework as a comma-separated list, like size does", async () => {
    const file = await prodTemplateFile("intact.json");
    const report = join(dir, "report.md");

    const status = await runCompliance(["--template", file, "--framework", "hipaa,soc2", "--out", report]);

    expect(status).toBe(0);
    const written = await readFile(report, "utf8");
    expect(written).toContain("## HIPAA Security Rule");
    expect(written).toContain("## SOC 2");
    expect(written).not.toContain("## PCI");
  });

  it("exits 1 and marks the setting MISSING when the template's archive has no Object Lock", async () => {
    // Prepare
    const file = await prodTemplateFile("no-lock.json", (template) => {
      delete archiveBucket(template).ObjectLockConfiguration;
      delete archiveBucket(template).ObjectLockEnabled;
    });

    // Act
    const status = await runCompliance(["-c", "env=prod", "--template", file]);

    // Assess
    expect(status).toBe(1);
    const report = out.join("");
    expect(report).toMatch(
      /- Result: \*\*\d+ of \d+ controls are NOT met\*\*: .*pci-dss 10\.3.*hipaa 164\.316\(b\)\(2\)/,
    );
    expect(report).toContain(
      "### 10.5.1 Audit log history is retained and available for analysis: **NOT MET**",
    );
    expect(report).toContain(
      `| \`${archiveBucketId}\` \`AWS::S3::Bucket\` | \`ObjectLockConfiguration.Rule.DefaultRetention.Days\` | \`(not set)\` | ≥ 366 days | **MISSING** |`,
    );
    expect(err.join("")).toMatch(/compliance: NOT MET: environment "prod".*not met: pci-dss 10\.3/);
  });

  it("exits 1 and marks the setting WEAKER THAN REQUIRED when the retention is lowered", async () => {
    const file = await prodTemplateFile("short-lock.json", (template) => {
      const lock = archiveBucket(template).ObjectLockConfiguration as {
        Rule: { DefaultRetention: { Days: number } };
      };
      lock.Rule.DefaultRetention.Days = 365;
    });

    const status = await runCompliance(["-c", "env=prod", "--template", file, "--framework", "pci-dss"]);

    expect(status).toBe(1);
    expect(out.join("")).toContain(
      "| `ObjectLockConfiguration.Rule.DefaultRetention.Days` | `365` | ≥ 366 days | **WEAKER THAN REQUIRED** |",
    );
  });

  it.each([
    [["--framework", "sox"], /--framework sox: unknown; use one of pci-dss, hipaa, soc2, iso27001, gdpr/],
    [["-c", "region=eu-west-1"], /-c region=eu-west-1: only -c env=NAME is understood/],
    [["-c", "env=qa"], /env \(CDK context\) is "qa".*valid environments: dev, prod, staging/],
    [["-c", "env=dev", "--env", "prod"], /more than one environment given: dev, prod/],
    [[], /no environment selected; pass -c env=NAME \(one of dev, prod, staging\)/],
    [
      ["--env", "dev", "--framework", "iso27001"],
      /compliance\.iso27001\.archiveRetentionDays.*lib\/config\/environments\.ts/,
    ],
    [["--template", "/nonexistent/t.json"], /--template \/nonexistent\/t\.json: ENOENT/],
  ])("exits 2 on %j, saying what is wrong and how to fix it", async (argv, message) => {
    const status = await runCompliance(argv);

    expect(status).toBe(2);
    expect(err.join("")).toMatch(message);
    expect(out.join("")).toBe("");
  });

  it("exits 2 when the template belongs to another environment than -c env names", async () => {
    const file = await prodTemplateFile("prod-as-staging.json");

    const status = await runCompliance(["-c", "env=staging", "--template", file]);

    expect(status).toBe(2);
    expect(err.join("")).toContain("is tagged environment=prod, not staging");
  });

  it("exits 2 on a file that is not a template", async () => {
    const file = join(dir, "not-a-template.json");
    await writeFile(file, JSON.stringify({ hello: "world" }));

    const status = await runCompliance(["--env", "prod", "--template", file]);

    expect(status).toBe(2);
    expect(err.join("")).toContain(`--template ${file}: not a CloudFormation template`);
  });

  it("exits 2 before any work when --out names a folder that does not exist", async () => {
    // Prepare
    const out = join(dir, "no-such-folder", "report.md");
    const started = Date.now();

    // Act
    const status = await runCompliance(["-c", "env=prod", "--out", out]);

    // Assess: refused at once (synthesizing prod takes seconds), naming the folder
    expect(status).toBe(2);
    expect(err.join("")).toBe(
      `audit-trail compliance: --out ${out}: folder ${join(dir, "no-such-folder")} does not exist; create it first\n`,
    );
    expect(Date.now() - started).toBeLessThan(2_000);
  });

  it("writes --html from the same assessment as the markdown: the same controls, statuses and settings", async () => {
    // Prepare: prod with its archive's lock shortened, so that the page has controls met and not met
    const file = await prodTemplateFile("html-short-lock.json", (template) => {
      const lock = archiveBucket(template).ObjectLockConfiguration as {
        Rule: { DefaultRetention: { Days: number } };
      };
      lock.Rule.DefaultRetention.Days = 365;
    });
    const page = join(dir, "report.html");

    // Act
    const status = await runCompliance(["-c", "env=prod", "--template", file, "--html", page]);

    // Assess: the markdown still goes to stdout, the page to --html, and they agree control by control
    expect(status).toBe(1);
    const markdown = out.join("");
    const html = await readFile(page, "utf8");
    const markdownControls = [...markdown.matchAll(/^### (.+): (met|\*\*NOT MET\*\*)$/gm)].map(
      (match) => `${match[1]}: ${match[2] === "met" ? "met" : "not-met"}`,
    );
    const pageControls = [
      ...html.matchAll(
        /data-control="([^"]+)" data-status="([^"]+)">\n<h3><span[^>]*>[^<]*<\/span> ([^<]+)<\/h3>/g,
      ),
    ].map((match) => `${match[3]}: ${match[2]}`);
    expect(pageControls).toHaveLength(markdownControls.length);
    expect(pageControls).toEqual(markdownControls);
    expect(pageControls.filter((control) => control.endsWith("not-met")).length).toBeGreaterThan(0);
    expect(pageControls.filter((control) => control.endsWith(": met")).length).toBeGreaterThan(0);
    expect(html).toContain(
      `<code>${archiveBucketId}</code><br><span class="type">AWS::S3::Bucket</span></td><td><code>ObjectLockConfiguration.Rule.DefaultRetention.Days</code></td><td><code>365</code></td><td>≥ 366 days</td><td class="status">WEAKER THAN REQUIRED</td>`,
    );
    expect(html).toMatch(/<p class="result not-met"><strong>\d+ of \d+ controls are NOT met<\/strong>/);
    expect(html).not.toMatch(/<script|<link|src="http/);
    expect(err.join("")).toContain(`compliance: wrote ${page}`);
  });

  it("escapes the template's values in --html: a tag in a setting is shown, not run", async () => {
    const file = await prodTemplateFile("html-escape.json", (template) => {
      archiveBucket(template).ObjectLockConfiguration = {
        ObjectLockEnabled: "Enabled",
        Rule: { DefaultRetention: { Mode: "<script>alert(1)</script>", Days: 400 } },
      };
    });
    const page = join(dir, "escaped.html");

    const status = await runCompliance(["-c", "env=prod", "--template", file, "--html", page]);

    expect(status).toBe(1);
    const html = await readFile(page, "utf8");
    expect(html).not.toContain("<script>");
    expect(html).toContain("&#60;script&#62;alert(1)&#60;/script&#62;");
  });

  it("writes an --html page that claims nothing for an environment with no framework", async () => {
    const page = join(dir, "dev.html");
    const devTemplate = join(dir, "dev-template.json");
    await writeFile(
      devTemplate,
      JSON.stringify(await synthesizeEnvironment(loadEnvironmentConfig("dev", ENVIRONMENTS))),
    );

    const status = await runCompliance(["-c", "env=dev", "--template", devTemplate, "--html", page]);

    expect(status).toBe(0);
    const html = await readFile(page, "utf8");
    expect(html).toContain("No framework assessed: compliance.frameworks is empty for &#34;dev&#34;");
    expect(html).not.toContain('data-control="');
  });

  it("exits 2 before any work when --html names a folder that does not exist", async () => {
    const page = join(dir, "no-such-folder", "report.html");
    const started = Date.now();

    const status = await runCompliance(["-c", "env=prod", "--html", page]);

    expect(status).toBe(2);
    expect(err.join("")).toBe(
      `audit-trail compliance: --html ${page}: folder ${join(dir, "no-such-folder")} does not exist; create it first\n`,
    );
    expect(out.join("")).toBe("");
    expect(Date.now() - started).toBeLessThan(2_000);
  });
});
