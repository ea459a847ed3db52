import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { ISM_POLICY_ID } from "../../lambdas/core/contracts.js";
import { bootstrapDomain } from "../../lambdas/core/opensearch/index.js";
import { deleteIndices, TEST_BOOTSTRAP_OPTIONS, testClient, testSettings } from "./helpers.js";

const reason = inject("ismUnavailableReason");
const INDEX = "audit-2099-02-01";
if (reason !== "") console.warn(`ISM integration tests skipped: ${reason}`);
/** The node runs ISM jobs every minute (`job_interval: 1`): init, then the transition after the 1-minute hot age. */
const TRANSITION_BOUND_MS = 5 * 60_000;

interface Explained {
  policy_id?: string;
  state?: { name?: string };
}

describe.skipIf(reason !== "")(
  `ISM policy on a real node${reason === "" ? "" : ` (skipped: ${reason})`}`,
  () => {
    const client = testClient();

    async function explain(index: string): Promise<Explained> {
      const response = await client.transport.request({
        method: "GET",
        path: `/_plugins/_ism/explain/${index}`,
      });
      return ((response.body as Record<string, unknown>)[index] ?? {}) as Explained;
    }

    beforeAll(async () => {
      await deleteIndices(client, "audit-*");
    });
    afterAll(async () => {
      await deleteIndices(client, "audit-*");
    });

    it("creates the plain-actions policy and leaves it unchanged when applied again", async () => {
      // Act
      const first = await bootstrapDomain(client, testSettings(), TEST_BOOTSTRAP_OPTIONS);
      const second = await bootstrapDomain(client, testSettings(), TEST_BOOTSTRAP_OPTIONS);

      // Assess
      const outcome = (steps: typeof first) =>
        steps.find((step) => step.step === `ISM policy ${ISM_POLICY_ID}`)?.outcome;
      expect(["created", "updated"]).toContain(outcome(first));
      expect(outcome(second)).toBe("unchanged");
    });

    it("updates the policy with its sequence number when the ages change", async () => {
      // Act
      const steps = await bootstrapDomain(
        client,
        testSettings({ DeleteAfterDays: 90 }),
        TEST_BOOTSTRAP_OPTIONS,
      );

      // Assess
      expect(steps.find((step) => step.step === `ISM policy ${ISM_POLICY_ID}`)?.outcome).toBe("updated");
      const stored = await client.transport.request({
        method: "GET",
        path: `/_plugins/_ism/policies/${ISM_POLICY_ID}`,
      });
      expect(JSON.stringify(stored.body)).toContain('"min_index_age":"90m"');
      await bootstrapDomain(client, testSettings(), TEST_BOOTSTRAP_OPTIONS);
    });

    it("manages a new daily index and moves it from hot to warm (read-only) at the warm age", async () => {
      // Prepare
      await bootstrapDomain(client, testSettings(), TEST_BOOTSTRAP_OPTIONS);

      // Act
      await client.indices.create({ index: INDEX });
      const deadline = Date.now() + TRANSITION_BOUND_MS;
      let state: string | undefined;
      while (Date.now() < deadline) {
        state = (await explain(INDEX)).state?.name;
        if (state === "warm") break;
        await new Promise((resolve) => setTimeout(resolve, 5_000));
      }

      // Assess
      expect((await explain(INDEX)).policy_id).toBe(ISM_POLICY_ID);
      expect(state).toBe("warm");
      const alerts = await explain("audit-alerts");
      expect(alerts.policy_id).toBeUndefined();
    });
  },
);
