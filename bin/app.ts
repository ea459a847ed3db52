#!/usr/bin/env node
import { fileURLToPath } from "node:url";
import { App, Validations } from "aws-cdk-lib";
import { AuditTrailStack } from "../lib/audit-trail-stack.js";
import {
  AuditTrailConfigError,
  checkRuleOverrides,
  ENVIRONMENTS,
  loadEnvironmentConfig,
} from "../lib/config/index.js";
import { nagPacks } from "../lib/nag-packs.js";

/** `npx cdk synth|deploy -c env=NAME`: one environment's stack, checked by the four cdk-nag packs. */
const app = new App();
const requested: unknown = app.node.tryGetContext("env");

try {
  const config = loadEnvironmentConfig(typeof requested === "string" ? requested : undefined, ENVIRONMENTS);
  await checkRuleOverrides(config, fileURLToPath(new URL("../rules", import.meta.url)));
  new AuditTrailStack(app, `AuditTrail-${config.name}`, {
    config,
    env:
      config.account !== undefined || config.region !== undefined
        ? { account: config.account, region: config.region }
        : undefined,
    description: `mesh-audit-trail (${config.name}): service-mesh and Kubernetes audit logs to OpenSearch, an Object Lock archive and alerts`,
    terminationProtection: config.terminationProtection,
  });
} catch (error) {
  if (error instanceof AuditTrailConfigError) {
    process.stderr.write(`${error.message}\n`);
    process.exit(1);
  }
  throw error;
}

Validations.of(app).addPlugins(...nagPacks(app, { writeSuppressionsToCloudFormation: true }));
app.synth();
