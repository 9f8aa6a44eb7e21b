import { randomUUID } from "node:crypto";
import { hostname } from "node:os";
import { defaultResource, type Resource, resourceFromAttributes } from "@opentelemetry/resources";
import {
  ATTR_SERVICE_INSTANCE_ID,
  ATTR_SERVICE_NAME,
  ATTR_SERVICE_VERSION,
} from "@opentelemetry/semantic-conventions";
import type { OpenTelemetryConfig } from "../config/types.js";
import { VERSION } from "../version.js";

// host.name is still "incubating" in the semantic conventions; the project's advice is to copy
// such names rather than import the unstable entry point.
const ATTR_HOST_NAME = "host.name";

/**
 * One per process, so that every sink of this process (metrics now, log records in issue 8)
 * reports the same service.instance.id and a restart shows up as a new instance.
 */
export const PROCESS_INSTANCE_ID: string = randomUUID();

/**
 * The resource every export carries. Precedence, lowest first:
 *
 * 1. the SDK's telemetry.sdk.* attributes;
 * 2. what the agent knows about itself: service.version, host.name;
 * 3. the operator's OTEL_RESOURCE_ATTRIBUTES (`config.resourceAttributes`), which win over (2):
 *    e.g. host.name set to the node's name when the agent runs in a container, whose own
 *    hostname is meaningless;
 * 4. service.name is always `config.serviceName`: the config already resolved it with the
 *    OTel rule (OTEL_SERVICE_NAME beats a service.name resource attribute);
 * 5. service.instance.id: `instanceId` when the caller gives one (an identity the agent chose on
 *    purpose: with HA, the replica id, so that replicas exporting the same series never look
 *    like one producer), else one from OTEL_RESOURCE_ATTRIBUTES, else a random UUID per process.
 */
export function buildResource(config: OpenTelemetryConfig, instanceId?: string): Resource {
  const fromEnv = config.resourceAttributes;
  const attributes: Record<string, string> = {
    [ATTR_SERVICE_VERSION]: VERSION,
    [ATTR_HOST_NAME]: hostname(),
    ...fromEnv,
    [ATTR_SERVICE_NAME]: config.serviceName,
    [ATTR_SERVICE_INSTANCE_ID]:
      instanceId ?? fromEnv[ATTR_SERVICE_INSTANCE_ID] ?? PROCESS_INSTANCE_ID,
  };
  // merge(): the argument's attributes win over defaultResource()'s.
  return defaultResource().merge(resourceFromAttributes(attributes));
}
