// One Lambda execution environment for a bundle from the cloud assembly: forked by `lambda.ts` with the function's
// environment, it imports the bundle once (the cold start) and then runs one invocation at a time, as Lambda does,
// answering over the IPC channel. Plain JavaScript so that Node runs it as the Lambda runtime runs the bundle.
import { pathToFileURL } from "node:url";

const entry = process.env.AUDIT_TRAIL_E2E_ENTRY;
const exportName = process.env.AUDIT_TRAIL_E2E_EXPORT;
const functionName = process.env.AWS_LAMBDA_FUNCTION_NAME;
const timeoutMs = Number(process.env.AUDIT_TRAIL_E2E_TIMEOUT_MS);
delete process.env.AUDIT_TRAIL_E2E_ENTRY;
delete process.env.AUDIT_TRAIL_E2E_EXPORT;
delete process.env.AUDIT_TRAIL_E2E_TIMEOUT_MS;

let handler;
try {
  const module = await import(pathToFileURL(entry).href);
  handler = module[exportName];
  if (typeof handler !== "function") throw new Error(`${entry} exports no function ${exportName}`);
  process.send({ type: "ready" });
} catch (error) {
  process.send({
    type: "init-error",
    message: error instanceof Error ? (error.stack ?? error.message) : String(error),
  });
  process.exit(1);
}

process.on("message", async (message) => {
  const deadline = Date.now() + timeoutMs;
  const context = {
    awsRequestId: message.requestId,
    functionName,
    functionVersion: "$LATEST",
    invokedFunctionArn: process.env.AUDIT_TRAIL_E2E_FUNCTION_ARN,
    memoryLimitInMB: process.env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE,
    logGroupName: `/aws/lambda/${functionName}`,
    logStreamName: "e2e",
    callbackWaitsForEmptyEventLoop: true,
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
  };
  try {
    const result = await handler(message.event, context);
    process.send({ type: "result", requestId: message.requestId, result });
  } catch (error) {
    process.send({
      type: "error",
      requestId: message.requestId,
      message: error instanceof Error ? `${error.name}: ${error.message}` : String(error),
    });
  }
});
