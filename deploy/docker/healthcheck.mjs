// The container's HEALTHCHECK: GET /health on the agent's own HTTP port, exit 0 on a 200 and 1
// otherwise. No curl in the image: this runs on the image's node.
//
// The port and host come from the agent's own configuration loader, run the way the agent runs
// it (same working directory, so the same ./config.yaml, and the same FSAGENT_* variables), so
// the check follows http.port / FSAGENT_HTTP_PORT wherever it was set, and its default. Started
// with `--config <file>`, it reads that file instead, as the agent does.
//
// It lives at deploy/docker/ in the repository and at /app/deploy/docker/ in the image; both are
// two levels below the directory that holds dist/.
//
// With a web config that turns TLS on (http.web_config_file), the agent speaks HTTPS only, so the
// check does too. It does not verify the certificate: it asks its own process on loopback, where
// the certificate's names (the Service's) do not apply, and it sends no credentials. /health must
// stay in http.auth_exempt (the default), and client_auth_type must not require a certificate.

import { request as httpRequest } from "node:http";
import { request as httpsRequest } from "node:https";

const TIMEOUT_MS = 3000;

function fail(message) {
  process.stderr.write(`healthcheck: ${message}\n`);
  process.exit(1);
}

/** Where to connect for a server bound to `host`: a wildcard address is reached on loopback. */
function connectHost(host) {
  if (host === "0.0.0.0" || host === "") return "127.0.0.1";
  if (host === "::" || host === "[::]") return "::1";
  return host;
}

let config;
try {
  const { extractConfigFlag, loadConfig } = await import("../../dist/config/load.js");
  const { configPath } = extractConfigFlag(process.argv.slice(2));
  config = loadConfig({
    configPath,
    env: process.env,
    cwd: process.cwd(),
    requireInstances: false,
  });
} catch (error) {
  fail(`cannot read the configuration: ${error instanceof Error ? error.message : error}`);
}

const { port } = config.http;
if (port === 0) fail("http.port is 0 (a random port): set a fixed port to health-check it");
const host = connectHost(config.http.host);
const tls = config.http.web?.tls != null;
const request = tls ? httpsRequest : httpRequest;
const where = `GET /health on ${tls ? "https" : "http"}://${host}:${port}`;

const req = request(
  {
    host,
    port,
    path: "/health",
    method: "GET",
    timeout: TIMEOUT_MS,
    agent: false,
    ...(tls ? { rejectUnauthorized: false } : {}),
  },
  (res) => {
    res.resume();
    if (res.statusCode === 200) process.exit(0);
    const hint = res.statusCode === 401 ? " (keep /health in http.auth_exempt)" : "";
    fail(`${where} answered ${res.statusCode}${hint}`);
  },
);
req.on("timeout", () => req.destroy(new Error(`no answer within ${TIMEOUT_MS} ms`)));
req.on("error", (error) => fail(`${where}: ${error.message}`));
req.end();
