/**
 * The controls of each framework that this stack addresses, each with the evidence (settings of the synthesized
 * template) that satisfies it, and the controls it does not address with who must. Requirement texts are short
 * paraphrases; the standard's own wording governs.
 */
import {
  accessToTrailLogged,
  alerting,
  archiveErasure,
  archiveExpiration,
  archiveProtection,
  bucketKmsEncryption,
  bucketTlsOnly,
  detectorSchedule,
  digestChain,
  type Evidence,
  type EvidenceContext,
  erasureLimits,
  ingestion,
  ingestionEncryption,
  logGroups,
  objectLock,
  objectLockDays,
  objectLockEnabled,
  objectLockMode,
  pipelineFailureAlarms,
  pseudonymization,
  searchAccessControl,
  searchAtRest,
  searchAuditLogRetention,
  searchableWindow,
  searchInTransit,
  weeklyReview,
} from "./evidence.js";

export const FRAMEWORK_IDS = ["pci-dss", "hipaa", "soc2", "iso27001", "gdpr"] as const;
export type FrameworkId = (typeof FRAMEWORK_IDS)[number];

export interface Control {
  readonly id: string;
  readonly framework: FrameworkId;
  readonly title: string;
  /** What the control asks, paraphrased. */
  readonly requirement: string;
  /** The settings of the template that satisfy it; every item must be `found`. */
  readonly evidence: (context: EvidenceContext) => Evidence[];
}

export interface NotAddressed {
  readonly id: string;
  readonly title: string;
  /** Who must address it, and how. */
  readonly owner: string;
}

export interface Framework {
  readonly id: FrameworkId;
  readonly name: string;
  readonly controls: readonly Control[];
  readonly notAddressed: readonly NotAddressed[];
}

/** PCI DSS 10.5.1 and 10.2.1.3: access to audit logs is itself an audit log, kept a year. */
const PCI_AUDIT_LOG_RETENTION_DAYS = 366;

const encryptionAtRest = (context: EvidenceContext): Evidence[] => [
  ...bucketKmsEncryption(context.template, context.parts.archiveBucket, "the archive bucket"),
  ...bucketKmsEncryption(context.template, context.parts.stagingBucket, "the staging bucket"),
  ...ingestionEncryption(context),
  ...searchAtRest(context),
];

const inTransit = (context: EvidenceContext): Evidence[] => [
  bucketTlsOnly(context.template, context.parts.archiveBucket, "the archive bucket"),
  bucketTlsOnly(context.template, context.parts.stagingBucket, "the staging bucket"),
  ...searchInTransit(context),
];

const pci: Framework = {
  id: "pci-dss",
  name: "PCI DSS v4.0",
  controls: [
    {
      id: "10.2",
      framework: "pci-dss",
      title: "Audit logs are implemented to support detection of anomalies and suspicious activity",
      requirement:
        "Audit logs are enabled and active for the in-scope components, and all access to audit logs is itself logged (10.2.1, 10.2.1.3).",
      evidence: (context) => [...ingestion(context), ...accessToTrailLogged(context)],
    },
    {
      id: "10.3",
      framework: "pci-dss",
      title: "Audit logs are protected from destruction and unauthorized modifications",
      requirement:
        "Read access is limited to those with a need (10.3.1); logs are protected from modification (10.3.2), promptly backed up to a central store that is hard to alter (10.3.3), and changes are detected by integrity monitoring (10.3.4).",
      evidence: (context) => [
        ...archiveProtection(context),
        ...digestChain(context),
        searchAccessControl(context),
      ],
    },
    {
      id: "10.4.1.1",
      framework: "pci-dss",
      title: "Automated mechanisms are used to perform audit log reviews",
      requirement: "Audit logs are reviewed at least daily, with automated mechanisms (10.4.1, 10.4.1.1).",
      evidence: (context) => [detectorSchedule(context), ...alerting(context), ...weeklyReview(context)],
    },
    {
      id: "10.5.1",
      framework: "pci-dss",
      title: "Audit log history is retained and available for analysis",
      requirement:
        "Retain audit log history for at least 12 months, with at least the most recent three months immediately available for analysis.",
      evidence: (context) => [
        objectLockDays(context),
        archiveExpiration(context),
        searchableWindow(context),
        searchAuditLogRetention(context, PCI_AUDIT_LOG_RETENTION_DAYS),
      ],
    },
    {
      id: "10.7.2",
      framework: "pci-dss",
      title: "Failures of critical security control systems are detected, alerted and addressed promptly",
      requirement:
        "Failures of audit logging mechanisms and automated review tools are detected and alerted on (10.7.1, 10.7.2).",
      evidence: pipelineFailureAlarms,
    },
  ],
  notAddressed: [
    {
      id: "10.2.1 (scope)",
      title: "Audit logs on every system component of the cardholder data environment",
      owner:
        "The entity: this stack receives mesh and Kubernetes API logs only; hosts, databases, payment applications and AWS accounts (CloudTrail) must log to it or to another trail.",
    },
    {
      id: "10.4.1 / 10.4.3",
      title: "Daily review by people and follow-up of exceptions",
      owner:
        "The security operations team: triage the alerts, record the outcome and follow up anomalies under a documented procedure.",
    },
    {
      id: "10.6",
      title: "Time synchronization",
      owner:
        "The platform team: NTP/chrony on cluster nodes (Amazon Time Sync Service) and an authoritative time source; the trail records event times as the sources report them.",
    },
    {
      id: "10.7.3",
      title: "Response to failures of critical security controls",
      owner:
        "The platform on-call: restore the pipeline, document the cause and duration, and check for security events during the outage.",
    },
    {
      id: "7.2 / 8.x",
      title: "Who may read the trail (IAM, OpenSearch role mappings) and access reviews",
      owner:
        "The account owner: grant and review access to the archive bucket, the KMS keys and the OpenSearch roles periodically.",
    },
    {
      id: "12.10",
      title: "Incident response plan",
      owner: "The entity: a tested incident response plan that the alerts feed into.",
    },
  ],
};

const hipaa: Framework = {
  id: "hipaa",
  name: "HIPAA Security Rule (45 CFR Part 164 Subpart C)",
  controls: [
    {
      id: "164.312(b)",
      framework: "hipaa",
      title: "Audit controls",
      requirement:
        "Implement mechanisms that record and examine activity in information systems that contain or use ePHI.",
      evidence: (context) => [
        ...ingestion(context),
        ...accessToTrailLogged(context),
        detectorSchedule(context),
      ],
    },
    {
      id: "164.308(a)(1)(ii)(D)",
      framework: "hipaa",
      title: "Information system activity review",
      requirement:
        "Regularly review records of information system activity, such as audit logs, access reports and security incident tracking reports.",
      evidence: (context) => [...weeklyReview(context), detectorSchedule(context)],
    },
    {
      id: "164.312(c)(1)",
      framework: "hipaa",
      title: "Integrity",
      requirement:
        "Protect the records from improper alteration or destruction, and be able to corroborate that they have not been altered (164.312(c)(2)).",
      evidence: (context) => [...archiveProtection(context), ...digestChain(context)],
    },
    {
      id: "164.312(a)(2)(iv)",
      framework: "hipaa",
      title: "Encryption and decryption",
      requirement: "Encrypt the records at rest.",
      evidence: encryptionAtRest,
    },
    {
      id: "164.312(e)(1)",
      framework: "hipaa",
      title: "Transmission security",
      requirement: "Guard against unauthorized access to the records while they are transmitted.",
      evidence: inTransit,
    },
    {
      id: "164.316(b)(2)",
      framework: "hipaa",
      title: "Documentation: time limit",
      requirement:
        "Retain the required documentation (including records of actions and activities) for 6 years from creation.",
      evidence: (context) => [...objectLock(context), archiveExpiration(context)],
    },
  ],
  notAddressed: [
    {
      id: "164.308(a)(1)(ii)(D) (sign-off)",
      title: "Information system activity review by people",
      owner:
        "The covered entity's security official: read and sign off each stored weekly review (reports/weekly/ of the archive) under a written procedure, and follow up what it shows.",
    },
    {
      id: "164.308(a)(6)",
      title: "Security incident procedures",
      owner: "The covered entity: identify, respond to, mitigate and document security incidents.",
    },
    {
      id: "164.312(a)(1) / 164.308(a)(4)",
      title: "Access control and access authorization for ePHI systems",
      owner:
        "The system owners: unique user IDs, emergency access and periodic review of who can read the trail (IAM, OpenSearch roles).",
    },
    {
      id: "164.308(b)",
      title: "Business associate agreement",
      owner:
        "The covered entity: a BAA with AWS covering the services this stack uses, in the account it runs in.",
    },
    {
      id: "Time synchronization",
      title: "Reliable event times (supports 164.312(b))",
      owner: "The platform team: time synchronization on cluster nodes.",
    },
    {
      id: "Pipeline logs",
      title: "Retention of the stack's own CloudWatch log groups",
      owner:
        "The environment owner: retention.logRetentionDays (the shortest group is shown above) is not held to this framework's period; raise it if your policy counts the pipeline's own logs as audit records.",
    },
  ],
};

const soc2: Framework = {
  id: "soc2",
  name: "SOC 2 (AICPA Trust Services Criteria 2017, rev. 2022)",
  controls: [
    {
      id: "CC7.2",
      framework: "soc2",
      title: "Monitoring of system components for anomalies",
      requirement:
        "Monitor system components and their operation for anomalies indicating malicious acts or errors, and keep the evidence for the observation period.",
      evidence: (context) => [
        ...ingestion(context),
        detectorSchedule(context),
        ...alerting(context),
        ...pipelineFailureAlarms(context),
        ...objectLock(context),
        logGroups(context),
      ],
    },
    {
      id: "CC7.3",
      framework: "soc2",
      title: "Evaluation of security events",
      requirement:
        "Evaluate security events to determine whether they could or did result in a failure to meet objectives, with the records needed to do so intact.",
      evidence: (context) => [
        searchableWindow(context),
        searchAccessControl(context),
        ...accessToTrailLogged(context),
        ...digestChain(context),
        objectLockMode(context),
      ],
    },
  ],
  notAddressed: [
    {
      id: "CC7.4 / CC7.5",
      title: "Incident response and recovery",
      owner: "The service organization: a documented, exercised incident response and recovery process.",
    },
    {
      id: "CC6.2 / CC6.3",
      title: "Access provisioning and periodic access reviews",
      owner: "The account owner: review who can read the trail (IAM, OpenSearch roles, KMS key policies).",
    },
    {
      id: "CC7.2 (scope)",
      title: "Monitoring of components outside the mesh",
      owner:
        "The service organization: CloudTrail, GuardDuty and host monitoring for what this stack does not receive.",
    },
    {
      id: "CC8.1",
      title: "Change management",
      owner:
        "The engineering team: reviewed changes to this stack's configuration (the repository) before deploy.",
    },
    {
      id: "Pipeline logs",
      title: "Retention of the stack's own CloudWatch log groups",
      owner:
        "The environment owner: retention.logRetentionDays (the shortest group is shown above) is not held to this framework's period; raise it if your policy counts the pipeline's own logs as audit records.",
    },
  ],
};

const iso27001: Framework = {
  id: "iso27001",
  name: "ISO/IEC 27001:2022 Annex A",
  controls: [
    {
      id: "A.8.15",
      framework: "iso27001",
      title: "Logging",
      requirement:
        "Logs that record activities, exceptions, faults and other relevant events are produced, stored, protected and analysed, for the period the logging policy sets.",
      evidence: (context) => [
        ...ingestion(context),
        ...archiveProtection(context),
        archiveExpiration(context),
        ...digestChain(context),
        searchableWindow(context),
        ...accessToTrailLogged(context),
      ],
    },
    {
      id: "A.8.16",
      framework: "iso27001",
      title: "Monitoring activities",
      requirement:
        "Networks, systems and applications are monitored for anomalous behaviour and appropriate actions taken to evaluate potential incidents.",
      evidence: (context) => [
        detectorSchedule(context),
        ...alerting(context),
        ...pipelineFailureAlarms(context),
      ],
    },
  ],
  notAddressed: [
    {
      id: "A.8.17",
      title: "Clock synchronization",
      owner: "The platform team: synchronize cluster nodes to an approved time source.",
    },
    {
      id: "A.5.24 – A.5.27",
      title: "Information security incident management",
      owner: "The organization: plan, assess, respond to and learn from the incidents the alerts raise.",
    },
    {
      id: "A.5.18 / A.8.2",
      title: "Access rights and privileged access to the logs",
      owner: "The account owner: grant and review access to the archive, the keys and OpenSearch.",
    },
    {
      id: "A.8.15 (policy)",
      title: "The logging policy itself",
      owner:
        "The ISMS owner: the policy defines what is logged and for how long (compliance.iso27001 in the environment config mirrors it).",
    },
    {
      id: "Pipeline logs",
      title: "Retention of the stack's own CloudWatch log groups",
      owner:
        "The environment owner: retention.logRetentionDays (the shortest group is shown above) is not held to this framework's period; raise it if your policy counts the pipeline's own logs as audit records.",
    },
  ],
};

const gdpr: Framework = {
  id: "gdpr",
  name: "GDPR (Regulation (EU) 2016/679)",
  controls: [
    {
      id: "Art. 30",
      framework: "gdpr",
      title: "Records of processing activities",
      requirement:
        "The record of this processing states the envisaged time limits for erasure (Art. 30(1)(f)) and describes the technical security measures (Art. 30(1)(g)); the settings below are those time limits and measures.",
      evidence: (context) => [...erasureLimits(context), logGroups(context)],
    },
    {
      id: "Art. 32",
      framework: "gdpr",
      title: "Security of processing",
      requirement:
        "Appropriate measures including pseudonymisation and encryption (32(1)(a)), ongoing integrity and confidentiality (32(1)(b)).",
      evidence: (context) => [
        ...pseudonymization(context),
        ...encryptionAtRest(context),
        ...inTransit(context),
        searchAccessControl(context),
        objectLockEnabled(context),
        objectLockMode(context),
      ],
    },
    {
      id: "Art. 5(1)(e)",
      framework: "gdpr",
      title: "Storage limitation",
      requirement:
        "Personal data is kept no longer than its purposes need: the archive covers the longest declared purpose and expires.",
      evidence: (context) => [objectLockDays(context), archiveErasure(context)],
    },
  ],
  notAddressed: [
    {
      id: "Art. 30 (the record)",
      title: "Maintaining the record of processing activities",
      owner:
        "The controller (with the DPO): purposes, categories of data subjects and recipients, transfers; this report supplies points (f) and (g).",
    },
    {
      id: "Art. 6 / 13 / 14",
      title: "Lawful basis and information to data subjects",
      owner:
        "The controller: document the lawful basis (e.g. legitimate interest in security monitoring) and inform staff.",
    },
    {
      id: "Art. 15 – 22",
      title: "Data subject rights",
      owner:
        "The controller: handle access and erasure requests; Object Lock prevents erasure before retention ends, so record the Art. 17(3)(b)/(e) exemption relied on.",
    },
    {
      id: "Art. 33 / 34",
      title: "Personal data breach notification",
      owner:
        "The controller: notify the supervisory authority within 72 hours and data subjects where required.",
    },
    {
      id: "Art. 35",
      title: "Data protection impact assessment",
      owner: "The controller: assess systematic monitoring of employees and workloads before deploying.",
    },
    {
      id: "Art. 28",
      title: "Processor agreement",
      owner: "The controller: a data processing agreement with AWS (the AWS GDPR DPA) for the account.",
    },
  ],
};

export const FRAMEWORKS: Readonly<Record<FrameworkId, Framework>> = {
  "pci-dss": pci,
  hipaa,
  soc2,
  iso27001,
  gdpr,
};

export function isFrameworkId(value: string): value is FrameworkId {
  return (FRAMEWORK_IDS as readonly string[]).includes(value);
}
