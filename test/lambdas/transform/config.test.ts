import { describe, expect, it } from "vitest";
import { TRANSFORM_ENV } from "../../../lambdas/core/contracts.js";
import { loadTransformConfig } from "../../../lambdas/transform/config.js";

const REINGEST = "arn:aws:secretsmanager:eu-west-1:111122223333:secret:reingest";
const base = {
  [TRANSFORM_ENV.rulesDir]: "/var/task/rules",
  [TRANSFORM_ENV.reingestKeySecretArn]: REINGEST,
};

describe("loadTransformConfig", () => {
  it("defaults to keeping event.original and no pseudonymization", () => {
    expect(loadTransformConfig(base)).toEqual({
      rulesDir: "/var/task/rules",
      keepEventOriginal: true,
      pseudonymizeFields: [],
      reingestKeySecretArn: REINGEST,
    });
  });

  it("reads the field list and the key source", () => {
    const config = loadTransformConfig({
      ...base,
      [TRANSFORM_ENV.keepEventOriginal]: "false",
      [TRANSFORM_ENV.pseudonymizeFields]: "user.name, source.ip,",
      [TRANSFORM_ENV.pseudonymizationKeyParameterName]: "/k",
    });
    expect(config).toEqual({
      rulesDir: "/var/task/rules",
      keepEventOriginal: false,
      pseudonymizeFields: ["user.name", "source.ip"],
      keySource: { source: "ssm-parameter", parameterName: "/k" },
      reingestKeySecretArn: REINGEST,
    });
  });

  it.each([
    [{}, TRANSFORM_ENV.rulesDir],
    [{ ...base, [TRANSFORM_ENV.keepEventOriginal]: "yes" }, `${TRANSFORM_ENV.keepEventOriginal} is "yes"`],
    [
      { ...base, [TRANSFORM_ENV.reingestKeySecretArn]: " " },
      `${TRANSFORM_ENV.reingestKeySecretArn} is not set`,
    ],
    [
      { ...base, [TRANSFORM_ENV.ruleOverrides]: '{"rules":{}}' },
      `${TRANSFORM_ENV.ruleOverrides} is set, but the transform takes no overrides at run time`,
    ],
    [{ ...base, [TRANSFORM_ENV.pseudonymizeFields]: "user.name" }, "no key is configured"],
    [
      {
        ...base,
        [TRANSFORM_ENV.pseudonymizeFields]: "user.name",
        [TRANSFORM_ENV.pseudonymizationKeySecretArn]: "a",
        [TRANSFORM_ENV.pseudonymizationKeyParameterName]: "b",
      },
      "set exactly one",
    ],
  ])("rejects a bad environment with a message naming the variable (%#)", (env, message) => {
    expect(() => loadTransformConfig(env)).toThrow(message);
  });
});
