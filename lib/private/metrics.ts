import { Duration } from "aws-cdk-lib";
import * as cloudwatch from "aws-cdk-lib/aws-cloudwatch";

/** Where a handler's Powertools metrics land: its `Metrics` namespace and `serviceName` (the `service` dimension). */
export interface PowertoolsMetricsSource {
  readonly namespace: string;
  readonly service: string;
}

/** One metric a handler emits through Powertools, over five minutes unless `props` say otherwise. */
export function powertoolsMetric(
  source: PowertoolsMetricsSource,
  metricName: string,
  props: cloudwatch.MetricOptions = {},
): cloudwatch.Metric {
  return new cloudwatch.Metric({
    namespace: source.namespace,
    metricName,
    dimensionsMap: { service: source.service },
    period: Duration.minutes(5),
    ...props,
  });
}
