import { describe, expect, it, vi } from "vitest";
import { commands } from "../../../lambdas/cli/commands/index.js";
import {
  environmentOrFiles,
  optionValues,
  parseVerbArgs,
  requiredEnvironment,
  runVerb,
  subVerb,
  UsageError,
  type Verb,
} from "../../../lambdas/cli/usage.js";
import { captureProcessOutput, sink } from "./helpers.js";

const OPTIONS = {
  context: { type: "string", short: "c", multiple: true },
  days: { type: "string" },
  json: { type: "boolean" },
} as const;

describe("parseVerbArgs", () => {
  it("reads flags, values (spaced, with '=', by their letter), repeated values and positionals in order", () => {
    // Act
    const args = parseVerbArgs(
      ["a.log", "--json", "--days=7", "-c", "env=dev", "-", "--context", "env=prod"],
      OPTIONS,
      { positionals: true },
    );

    // Assess
    expect(args).toEqual({
      values: { json: true, days: "7", context: ["env=dev", "env=prod"] },
      positionals: ["a.log", "-"],
    });
  });

  it("takes the argument after an option as its value even when it starts with a dash", () => {
    expect(parseVerbArgs(["--days", "-5"], OPTIONS)).toEqual({ values: { days: "-5" }, positionals: [] });
  });

  it("answers help for -h or --help anywhere before '--', whatever else is wrong", () => {
    expect(parseVerbArgs(["--bogus", "-h"], OPTIONS)).toBe("help");
    expect(parseVerbArgs(["x", "--help"], OPTIONS)).toBe("help");
    expect(parseVerbArgs(["--", "--help"], OPTIONS, { positionals: true })).toEqual({
      values: {},
      positionals: ["--help"],
    });
  });

  it.each([
    [["--bogus"], "unknown option '--bogus'"],
    [["-x"], "unknown option '-x'"],
    [["--days"], "--days needs a value"],
    [["-c"], "-c needs a value"],
    [["--json=yes"], "--json takes no value"],
    [["stray"], "unexpected argument 'stray'"],
  ])("refuses %j with the usage error %j", (argv, message) => {
    expect(() => parseVerbArgs(argv, OPTIONS)).toThrow(new UsageError(message));
  });
});

describe("optionValues", () => {
  it("parses options only, answering their values or help", () => {
    const parse = optionValues(OPTIONS);
    expect(parse(["--json", "--days", "7"])).toEqual({ json: true, days: "7" });
    expect(parse(["-h"])).toBe("help");
    expect(() => parse(["a.log"])).toThrow(new UsageError("unexpected argument 'a.log'"));
  });
});

describe("requiredEnvironment", () => {
  it("answers the selected environment, and names the known ones when none is selected", () => {
    expect(requiredEnvironment({ context: ["env=dev"] }, ["prod", "dev"])).toBe("dev");
    expect(() => requiredEnvironment({}, ["prod", "dev"])).toThrow(
      new UsageError("no environment selected; pass -c env=NAME (one of dev, prod)"),
    );
  });
});

describe("environmentOrFiles", () => {
  it("answers the environment, or undefined for files, and refuses both or neither", () => {
    expect(environmentOrFiles({ env: "dev" }, [])).toBe("dev");
    expect(environmentOrFiles({}, ["a.log"])).toBeUndefined();
    expect(() => environmentOrFiles({ env: "dev" }, ["a.log"])).toThrow(
      new UsageError("give either -c env=NAME or files, not both"),
    );
    expect(() => environmentOrFiles({}, [])).toThrow(
      new UsageError("no input: give files or directories, or -c env=NAME"),
    );
  });
});

describe("subVerb", () => {
  it("splits off a known sub-verb, answers help in its place, and names the sub-verbs otherwise", () => {
    expect(subVerb(["drift", "--json", "x"], ["suggest", "drift"])).toEqual({
      name: "drift",
      rest: ["--json", "x"],
    });
    expect(subVerb(["--help"], ["test"])).toBe("help");
    expect(() => subVerb([], ["suggest", "drift"])).toThrow("expected 'suggest' or 'drift', got nothing");
    expect(() => subVerb(["check"], ["test"])).toThrow("expected 'test', got 'check'");
  });
});

describe("runVerb", () => {
  class InputProblem extends Error {}
  const verb = (run: Verb<string[]>["run"]): Verb<string[]> => ({
    name: "demo",
    usage: "usage: audit-trail demo FILE",
    parse: (argv) => {
      const args = parseVerbArgs(argv, {}, { positionals: true });
      if (args === "help") return "help";
      if (args.positionals.length === 0) throw new UsageError("no input files");
      return args.positionals;
    },
    run,
    userErrors: [InputProblem],
  });

  it("prints the usage on stdout for --help, exit 0, without running", async () => {
    // Prepare
    const out = sink();
    const err = sink();
    const run = vi.fn(async () => 0);

    // Act
    const status = await runVerb(verb(run), ["--help"], { out, err });

    // Assess
    expect(status).toBe(0);
    expect(out.text()).toBe("usage: audit-trail demo FILE\n");
    expect(err.text()).toBe("");
    expect(run).not.toHaveBeenCalled();
  });

  it("says an argument error after the verb's name, then the usage, on stderr, exit 2", async () => {
    // Prepare
    const out = sink();
    const err = sink();

    // Act
    const status = await runVerb(
      verb(async () => 0),
      [],
      { out, err },
    );

    // Assess
    expect(status).toBe(2);
    expect(err.text()).toBe("audit-trail demo: no input files\n\nusage: audit-trail demo FILE\n");
    expect(out.text()).toBe("");
  });

  it("says a user error while running as its message alone, exit 2", async () => {
    // Prepare
    const err = sink();

    // Act
    const input = await runVerb(
      verb(async () => {
        throw new InputProblem("a.log: no such file");
      }),
      ["a.log"],
      { out: sink(), err },
    );
    const usage = await runVerb(
      verb(async () => {
        throw new UsageError("--html x/y.html: folder x does not exist; create it first");
      }),
      ["a.log"],
      { out: sink(), err },
    );

    // Assess
    expect([input, usage]).toEqual([2, 2]);
    expect(err.text()).toBe(
      "audit-trail demo: a.log: no such file\naudit-trail demo: --html x/y.html: folder x does not exist; create it first\n",
    );
  });

  it("lets any other error through (a bug, with its stack), and passes the work's status on", async () => {
    await expect(
      runVerb(
        verb(async () => {
          throw new TypeError("boom");
        }),
        ["a.log"],
        { out: sink(), err: sink() },
      ),
    ).rejects.toThrow("boom");
    expect(
      await runVerb(
        verb(async (files) => files.length),
        ["a", "b"],
        { out: sink(), err: sink() },
      ),
    ).toBe(2);
  });
});

describe("every verb", () => {
  const { out, err } = captureProcessOutput();

  /** The words before the options: the verb, and its sub-verb where it has several. */
  const invocations = Object.keys(commands).map((name) =>
    name === "rules" ? "rules test" : name === "policy" ? "policy drift" : name,
  );

  it.each(invocations)("%s: --help prints its usage on stdout, exit 0", async (verb) => {
    // Act
    const [name = "", ...sub] = verb.split(" ");
    const status = await commands[name]?.run([...sub, "--help"]);

    // Assess
    expect(status).toBe(0);
    expect(out.join("")).toMatch(new RegExp(`^usage: audit-trail ${name}[\\s\\S]*\\n$`));
    expect(err.join("")).toBe("");
  });

  it.each(invocations)("%s: an unknown option is the same message, then the usage, exit 2", async (verb) => {
    // Act
    const [name = "", ...sub] = verb.split(" ");
    const status = await commands[name]?.run([...sub, "--bogus", "x"]);

    // Assess
    expect(status).toBe(2);
    expect(err.join("")).toMatch(
      new RegExp(
        `^audit-trail ${verb}: unknown option '--bogus'\\n\\nusage: audit-trail ${name}[\\s\\S]*\\n$`,
      ),
    );
    expect(out.join("")).toBe("");
  });
});
