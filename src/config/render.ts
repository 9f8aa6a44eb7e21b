import YAML from "yaml";
import type { WebConfig } from "../server/web-config/parse.js";
import { formatDuration } from "./scalars.js";
import type { Config } from "./types.js";

const MASK = "***";

function mask(secret: string): string {
  return secret === "" ? "" : MASK;
}

/**
 * The effective configuration in the file's own format and key names, secrets masked, for
 * `fsagent check-config`. The OTel service name and resource attributes come only from OTEL_*
 * variables and have no key in the file, so they are shown as comments: the output stays a
 * valid config file.
 */
export function renderConfig(config: Config): string {
  const { esl, storage, opentelemetry: otel } = config;
  const tree = {
    freeswitch_instances: config.freeswitchInstances.map((instance) => ({
      name: instance.name,
      host: instance.host,
      port: instance.port,
      password: mask(instance.password),
    })),
    storage: {
      type: storage.type,
      max_legs: storage.maxLegs,
      leg_ttl: formatDuration(storage.legTtlMs),
      redis: {
        host: storage.redis.host,
        port: storage.redis.port,
        password: mask(storage.redis.password),
        db: storage.redis.db,
        key_prefix: storage.redis.keyPrefix,
        username: storage.redis.username,
        tls: storage.redis.tls,
        ca_file: storage.redis.caFile,
      },
    },
    opentelemetry: {
      enabled: otel.enabled,
      protocol: otel.protocol,
      endpoint: otel.endpoint,
      insecure: otel.insecure,
      headers: Object.fromEntries(Object.keys(otel.headers).map((name) => [name, MASK])),
      compression: otel.compression,
      export_interval: formatDuration(otel.exportIntervalMs),
      export_timeout: formatDuration(otel.exportTimeoutMs),
      retry_queue_size: otel.retryQueueSize,
      tls: {
        ca_file: otel.tls.caFile,
        cert_file: otel.tls.certFile,
        key_file: otel.tls.keyFile,
      },
    },
    http: {
      host: config.http.host,
      port: config.http.port,
      ui: config.http.ui,
      web_config_file: config.http.webConfigFile,
      auth_exempt: [...config.http.authExempt],
    },
    logging: { level: config.logging.level, format: config.logging.format },
    events: { rtcp: config.events.rtcp, qos: config.events.qos },
    metrics: { per_leg: config.metrics.perLeg },
    logs: { enabled: config.logs.enabled },
    esl: {
      connect_timeout: formatDuration(esl.connectTimeoutMs),
      command_timeout: formatDuration(esl.commandTimeoutMs),
      idle_timeout: formatDuration(esl.idleTimeoutMs),
      max_frame_bytes: esl.maxFrameBytes,
      backoff: {
        initial: formatDuration(esl.backoff.initialMs),
        factor: esl.backoff.factor,
        max: formatDuration(esl.backoff.maxMs),
        reset_after: formatDuration(esl.backoff.resetAfterMs),
      },
    },
    ha: {
      enabled: config.ha.enabled,
      lease_ttl: formatDuration(config.ha.leaseTtlMs),
      unreachable_release_after: formatDuration(config.ha.unreachableReleaseAfterMs),
      replica_id: config.ha.replicaId,
    },
    health: {
      poll_interval:
        config.health.pollIntervalMs === 0 ? 0 : formatDuration(config.health.pollIntervalMs),
    },
    lookups: {
      rate: config.lookups.ratePerSecond,
      not_found_ttl: formatDuration(config.lookups.notFoundTtlMs),
      max_waiting_bytes: config.lookups.maxWaitingBytes,
    },
  };
  const doc = new YAML.Document(tree);
  // JSON-quoted so that a path or attribute value with a line break cannot escape the comment.
  doc.commentBefore = [
    ` fsagent effective configuration; secrets are shown as ${MASK}`,
    ` source: ${config.source === null ? "environment and defaults (no file)" : JSON.stringify(config.source)}`,
    ` service name: ${JSON.stringify(otel.serviceName)}`,
    ` resource attributes: ${JSON.stringify(otel.resourceAttributes)}`,
    otel.endpointExplicit ? "" : " opentelemetry.endpoint is the default (not set explicitly)",
    // Over OTLP/HTTP the URLs actually POSTed to are not the endpoint itself: show them.
    otel.signalEndpoints === undefined
      ? ""
      : ` OTLP/HTTP: metrics to ${JSON.stringify(otel.signalEndpoints.metrics)}, quality records to ${JSON.stringify(otel.signalEndpoints.logs)}`,
    ...webConfigLines(config.http.web),
  ]
    .filter((line) => line !== "")
    .join("\n");
  return doc.toString();
}

/** What the web config file sets, as comments (it is another file); bcrypt hashes masked. */
function webConfigLines(web: WebConfig | null): string[] {
  if (web === null) return [];
  const tls = web.tls;
  return [
    " web config (http.web_config_file):",
    tls === null
      ? "   TLS: off (plain HTTP)"
      : `   TLS: cert_file ${JSON.stringify(tls.certFile)}, key_file ${JSON.stringify(tls.keyFile)}, client_ca_file ${JSON.stringify(tls.clientCaFile)}, client_auth_type ${tls.clientAuthType}, min_version ${tls.minVersion}, max_version ${tls.maxVersion}`,
    Object.keys(web.users).length === 0
      ? "   basic auth: off"
      : `   basic auth users: ${Object.keys(web.users)
          .map((user) => `${JSON.stringify(user)}: ${MASK}`)
          .join(", ")}`,
    Object.keys(web.headers).length === 0
      ? ""
      : `   response headers: ${JSON.stringify(web.headers)}`,
  ].filter((line) => line !== "");
}

/** Every non-empty secret in the configuration, for tests that prove none of them leaks. */
export function secretsOf(config: Config): string[] {
  const secrets = [
    ...config.freeswitchInstances.map((instance) => instance.password),
    config.storage.redis.password,
    ...Object.values(config.opentelemetry.headers),
    ...Object.values(config.http.web?.users ?? {}),
  ];
  return [...new Set(secrets.filter((secret) => secret !== ""))];
}
