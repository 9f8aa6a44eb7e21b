import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import type { AddressInfo } from "node:net";
import type { Registry } from "prom-client";
import type { Logger } from "../log/logger.js";
import { type Clock, systemClock } from "../util/clock.js";
import { healthBody, readyBody } from "./health.js";
import type { AgentView } from "./source.js";
import { parseLegLimit, statusBody } from "./status.js";
import { statusPage } from "./status-page.js";
import type { WebSecurity } from "./web-config/web-security.js";

export interface HttpServerOptions {
  host: string;
  /** 0 picks a free port; the bound one is on the handle. */
  port: number;
  /** Serve the status page (/) and /api/status (http.ui); they need view.status. Default false. */
  ui?: boolean;
  view: AgentView;
  registry: Registry;
  logger: Logger;
  /** Times the grace period of close(); default the system clock. */
  clock?: Clock;
  /** http.web_config_file: TLS, basic authentication, response headers. Absent: plain HTTP, open. */
  security?: WebSecurity;
}

export interface HttpServerHandle {
  /** The port actually bound. */
  readonly port: number;
  readonly url: string;
  /** Stops accepting, drops idle keep-alive connections, and resolves once the server is closed. */
  close(): Promise<void>;
}

interface Reply {
  status: number;
  contentType: string;
  body: string | Buffer;
  headers?: Readonly<Record<string, string>>;
}

const JSON_TYPE = "application/json; charset=utf-8";
const ALLOW = "GET, HEAD";
/** Requests still running at close() get this long before their sockets are cut. */
const CLOSE_GRACE_MS = 1000;

function json(status: number, value: unknown, headers?: Record<string, string>): Reply {
  return { status, contentType: JSON_TYPE, body: JSON.stringify(value), headers };
}

type Route = (options: HttpServerOptions, query: URLSearchParams) => Reply | Promise<Reply>;

const routes: ReadonlyMap<string, Route> = new Map<string, Route>([
  ["/health", ({ view }) => json(200, healthBody(view))],
  [
    "/ready",
    ({ view }) => {
      const body = readyBody(view);
      return json(body.ready ? 200 : 503, body);
    },
  ],
  [
    "/metrics",
    async ({ registry }) => ({
      status: 200,
      contentType: registry.contentType,
      body: await registry.metrics(),
    }),
  ],
]);

/** With http.ui: the status page and the JSON it polls (docs/status-page.md). */
const uiRoutes: ReadonlyMap<string, Route> = new Map<string, Route>([
  [
    "/",
    () => {
      const { html, headers } = statusPage();
      return { status: 200, contentType: "text/html; charset=utf-8", body: html, headers };
    },
  ],
  [
    "/api/status",
    ({ view }, query) => {
      const limit = parseLegLimit(query.get("limit"));
      if (typeof limit === "string") return json(400, { error: limit });
      const snapshot = view.status?.();
      if (snapshot === undefined) return json(404, { error: "not found" });
      return json(200, statusBody(view, snapshot, limit));
    },
  ],
]);

function handlerFor(path: string, options: HttpServerOptions): Route | undefined {
  const handler = routes.get(path);
  if (handler !== undefined) return handler;
  // http.ui false (or a view without status data): these paths do not exist.
  return options.ui === true && options.view.status !== undefined ? uiRoutes.get(path) : undefined;
}

const UNAUTHORIZED: Reply = json(
  401,
  { error: "unauthorized" },
  { "WWW-Authenticate": 'Basic realm="fsagent", charset="UTF-8"' },
);

const THROTTLED: Reply = json(
  429,
  { error: "too many authentication attempts" },
  { "Retry-After": "1" },
);

async function route(req: IncomingMessage, options: HttpServerOptions): Promise<Reply> {
  // Only the path selects a route; the query string is the route's (most ignore it, e.g. a
  // probe's cache buster).
  const url = req.url ?? "/";
  const query = url.indexOf("?");
  const path = query === -1 ? url : url.slice(0, query);
  // Every path, known or not, needs credentials unless exempt: a 404 must not tell what exists.
  const refused = await options.security?.authorize(path, req);
  if (refused === "throttled") return THROTTLED;
  if (refused !== undefined && refused !== null) return UNAUTHORIZED;
  const handler = handlerFor(path, options);
  if (handler === undefined) return json(404, { error: "not found" });
  if (req.method !== "GET" && req.method !== "HEAD") {
    return json(405, { error: "method not allowed" }, { Allow: ALLOW });
  }
  return handler(options, new URLSearchParams(query === -1 ? "" : url.slice(query + 1)));
}

function send(
  req: IncomingMessage,
  res: ServerResponse,
  reply: Reply,
  extra: Readonly<Record<string, string>> | undefined,
): void {
  const body = typeof reply.body === "string" ? Buffer.from(reply.body, "utf8") : reply.body;
  res.writeHead(reply.status, {
    ...extra,
    ...reply.headers,
    "Content-Type": reply.contentType,
    "Content-Length": body.length,
    "Cache-Control": "no-store",
  });
  // HEAD gets the headers GET would get, Content-Length included, and no body.
  res.end(req.method === "HEAD" ? undefined : body);
}

async function handle(
  req: IncomingMessage,
  res: ServerResponse,
  options: HttpServerOptions,
): Promise<void> {
  let reply: Reply;
  try {
    reply = await route(req, options);
  } catch (err) {
    options.logger.error({ err, path: req.url }, "http request failed");
    reply = json(500, { error: "internal error" });
  }
  if (res.headersSent || res.destroyed) return;
  send(req, res, reply, options.security?.headers);
}

function describeListenError(err: NodeJS.ErrnoException): string {
  switch (err.code) {
    case "EADDRINUSE":
      return "address already in use";
    case "EACCES":
      return "permission denied";
    case "EADDRNOTAVAIL":
      return "address not available on this host";
    case "ENOTFOUND":
    case "EAI_AGAIN":
      return "host name not found";
    default:
      return err.message.split("\n", 1)[0] ?? String(err.code);
  }
}

function hostPort(host: string, port: number): string {
  return host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`;
}

function listen(server: Server, host: string, port: number): Promise<AddressInfo> {
  return new Promise((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException): void => {
      server.off("listening", onListening);
      reject(
        new Error(`cannot listen on ${hostPort(host, port)}: ${describeListenError(err)}`, {
          cause: err,
        }),
      );
    };
    const onListening = (): void => {
      server.off("error", onError);
      resolve(server.address() as AddressInfo);
    };
    server.once("error", onError);
    server.once("listening", onListening);
    server.listen(port, host);
  });
}

function closeServer(server: Server, clock: Clock): Promise<void> {
  return new Promise((resolve, reject) => {
    // Requests in flight are short; they get a moment to finish before their sockets are cut.
    const force = clock.setTimeout(() => server.closeAllConnections(), CLOSE_GRACE_MS);
    force.unref?.();
    server.close((err) => {
      clock.clearTimeout(force);
      // Closing an already closed server is not a failure of shutdown.
      if (err && (err as NodeJS.ErrnoException).code !== "ERR_SERVER_NOT_RUNNING") reject(err);
      else resolve();
    });
    // Without this, a scraper's keep-alive connection would hold close() open until its own
    // keep-alive timeout.
    server.closeIdleConnections();
  });
}

/**
 * Serves /health, /ready and /metrics, and with `ui` the status page and /api/status. Resolves once listening; rejects with a one-line message
 * when the address cannot be bound. Node's own limits stay in place (e.g. oversized request
 * headers get 431 before reaching the handler).
 */
export async function startHttpServer(options: HttpServerOptions): Promise<HttpServerHandle> {
  // A page whose files are missing stops the start with its one-line reason, not a later 500.
  if (options.ui === true) statusPage();
  const onRequest = (req: IncomingMessage, res: ServerResponse): void => {
    handle(req, res, options).catch((err: unknown) => {
      // Only reachable if writing the reply itself failed; the socket is of no further use.
      options.logger.error({ err }, "http response failed");
      res.destroy();
    });
  };
  const tls = options.security?.tls ?? null;
  const server: Server =
    tls === null
      ? createServer(onRequest)
      : createHttpsServer(
          {
            ...tls.context,
            requestCert: tls.requestCert,
            rejectUnauthorized: tls.rejectUnauthorized,
          },
          onRequest,
        );
  // A client that fails the handshake (no or a wrong certificate, plain HTTP on the TLS port)
  // is its own problem: its socket goes, quietly.
  server.on("tlsClientError", (_err, socket) => socket.destroy());
  const address = await listen(server, options.host, options.port);
  // After startup, a server error must not crash the agent through an unhandled 'error' event.
  server.on("error", (err) => options.logger.error({ err }, "http server error"));
  options.security?.attach(server);

  let closing: Promise<void> | null = null;
  return {
    port: address.port,
    url: `${tls === null ? "http" : "https"}://${hostPort(address.address, address.port)}`,
    close() {
      options.security?.close();
      closing ??= closeServer(server, options.clock ?? systemClock);
      return closing;
    },
  };
}
