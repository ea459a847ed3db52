/** The detector's alert topics as the stack passes them (`DETECTOR_ENV.topicArns`): one per severity, and ops. */
export const TOPICS = {
  critical: "arn:aws:sns:eu-west-1:111122223333:audit-critical",
  high: "arn:aws:sns:eu-west-1:111122223333:audit-high",
  medium: "arn:aws:sns:eu-west-1:111122223333:audit-medium",
  low: "arn:aws:sns:eu-west-1:111122223333:audit-low",
  ops: "arn:aws:sns:eu-west-1:111122223333:audit-ops",
};
