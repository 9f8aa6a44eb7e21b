import { readFileSync } from "node:fs";
import { isIP } from "node:net";
import type { ConnectionOptions } from "node:tls";
import type { RedisConfig } from "../config/types.js";

/**
 * TLS options for a Redis connection (the leg store's and the HA lease client's). Certificate
 * verification stays on (Node's default). For a host name, SNI and the host-name check use it;
 * an IP address must not be sent as SNI (RFC 6066) and Node checks it against the certificate's
 * IP SANs by itself. The CA is read once here (the loader already checked that it is readable),
 * so reconnects never touch the file system. If it cannot be read after all (removed since),
 * `onCaError` is told and Node's bundled CA roots are used: that fails closed — a server signed by the
 * private CA is refused — instead of throwing out of a constructor.
 */
export function redisTlsOptions(
  config: RedisConfig,
  onCaError: (error: unknown) => void,
): ConnectionOptions {
  const options: { servername?: string; ca?: Buffer } =
    isIP(config.host) === 0 ? { servername: config.host } : {};
  if (config.caFile !== "") {
    try {
      options.ca = readFileSync(config.caFile);
    } catch (error) {
      onCaError(error);
    }
  }
  return options;
}
