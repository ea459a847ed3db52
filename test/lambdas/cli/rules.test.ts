import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { command, rulesTest } from "../../../lambdas/cli/commands/rules.js";
import { sink } from "./helpers.js";

describe("audit-trail rules test", () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "rules-cli-"));
    await writeFile(
      join(dir, "denied.yml"),
      "title: Denied\nid: denied-id\nname: denied\nlevel: low\nlogsource: { product: mesh }\ndetection:\n  sel:\n    http.response.status_code: 403\n  condition: sel\n",
    );
    await writeFile(
      join(dir, "denied.tests.yml"),
      'defaults: { event: { dataset: istio.access }, mesh: { name: istio }, "@timestamp": "2026-03-02T10:00:00Z" }\nfires:\n  - description: a 200 (wrong on purpose)\n    events: [{ http: { response: { status_code: 200 } } }]\nnot_fires:\n  - description: a 404\n    events: [{ http: { response: { status_code: 404 } } }]\n',
    );
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("passes on the default pack with one line per rule", async () => {
    // Prepare
    const out = sink();
    // Act
    const status = await rulesTest(["rules"], out, sink());
    // Assess
    expect(status).toBe(0);
    expect(out.text()).toMatch(/^PASS {2}k8s_pod_exec \(\d+ cases\)$/m);
    expect(out.text()).toMatch(/^PASS {2}mesh_plaintext_traffic /m);
    expect(out.text()).not.toMatch(/FAIL/);
    expect(out.text()).toMatch(/all passed/);
  });

  it("fails with status 1 and says which case failed and why", async () => {
    const out = sink();
    const status = await rulesTest([dir], out, sink());
    expect(status).toBe(1);
    expect(out.text()).toMatch(/FAIL {2}denied \(1 of 2 cases failed\)/);
    expect(out.text()).toMatch(/fires: a 200 \(wrong on purpose\): event 1 does not match/);
  });

  it("exits 2 on an invalid rule, naming the file", async () => {
    const broken = join(dir, "broken");
    await mkdir(broken);
    await writeFile(
      join(broken, "x.yml"),
      "title: X\nid: x\nlogsource: {}\ndetection:\n  sel: { a|nope: 1 }\n  condition: sel\n",
    );
    const err = sink();
    expect(await rulesTest([broken], sink(), err)).toBe(2);
    expect(err.text()).toMatch(/x\.yml, rule 'x', key 'detection\.sel\.a\|nope': unknown modifier 'nope'/);
  });

  it("rejects other verbs and options", async () => {
    const stderr = vi.spyOn(process.stderr, "write").mockImplementation(() => true);
    try {
      expect(await command.run(["check"])).toBe(2);
      expect(await command.run(["test", "--fast"])).toBe(2);
    } finally {
      stderr.mockRestore();
    }
  });

  it("fails on a folder without rules, saying 0 rules", async () => {
    // Prepare
    const empty = await mkdtemp(join(tmpdir(), "rules-empty-"));
    const out = sink();
    // Act
    const status = await rulesTest([empty], out, sink());
    // Assess
    expect(status).toBe(1);
    expect(out.text()).toMatch(/^0 rules, 0 cases: nothing tested$/m);
  });

  it("fails a rule that has no tests", async () => {
    // Prepare
    const untested = await mkdtemp(join(tmpdir(), "rules-untested-"));
    await writeFile(
      join(untested, "lonely.yml"),
      "title: Lonely\nid: lonely-id\nname: lonely\nlevel: low\nlogsource: { product: mesh }\ndetection:\n  sel:\n    http.response.status_code: 418\n  condition: sel\n",
    );
    const out = sink();
    // Act
    const status = await rulesTest([untested], out, sink());
    // Assess
    expect(status).toBe(1);
    expect(out.text()).toMatch(/^FAIL {2}lonely has no tests \(add lonely\.tests\.yml next to it\)$/m);
    expect(out.text()).toMatch(/^1 rules, 0 cases: 1 rule without tests$/m);
  });

  it("points at the condition's column, counted from 1, for a syntax error", async () => {
    // Prepare
    const bad = await mkdtemp(join(tmpdir(), "rules-bad-condition-"));
    await writeFile(
      join(bad, "bad.yml"),
      "title: Bad\nid: bad-id\nname: bad\nlevel: low\nlogsource: { product: mesh }\ndetection:\n  sel:\n    http.response.status_code: 418\n  condition: sel and and\n",
    );
    const err = sink();
    // Act
    const status = await rulesTest([bad], sink(), err);
    // Assess: "sel and and": the second 'and' starts at column 9
    expect(status).toBe(2);
    expect(err.text()).toContain("key 'detection.condition': unexpected 'and' at column 9 of 'sel and and'");
    // and the selection a condition names but does not define, from where it is named
    await writeFile(
      join(bad, "bad.yml"),
      (await readFile(join(bad, "bad.yml"), "utf8")).replace("sel and and", "sel and missing"),
    );
    const again = sink();
    expect(await rulesTest([bad], sink(), again)).toBe(2);
    expect(again.text()).toContain(
      "unknown selection 'missing' (defined: sel) at column 9 of 'sel and missing'",
    );
  });
});
