import type { X509Certificate } from "node:crypto";
import { readFileSync } from "node:fs";
import http, { type IncomingHttpHeaders } from "node:http";
import https from "node:https";
import net from "node:net";
import type { TLSSocket } from "node:tls";

export interface HttpReply {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
  /** HTTPS: the certificate the server presented. */
  readonly peer?: X509Certificate;
}

/** HTTPS and credentials for httpsRequest(). */
export interface TlsRequestOptions {
  /** The CA the server's certificate must verify against (default: Node's bundled roots). */
  readonly ca?: Buffer | undefined;
  /** No verification at all, as a kubelet probe does. */
  readonly insecure?: boolean | undefined;
  readonly servername?: string | undefined;
  /** A client certificate and its key (mTLS). */
  readonly cert?: Buffer | undefined;
  readonly key?: Buffer | undefined;
  /** The Authorization header. */
  readonly authorization?: string | undefined;
  readonly timeoutMs?: number | undefined;
}

/** One request on a fresh connection (no keep-alive pool holding the agent's server open). */
export function httpRequest(url: string, method = "GET", timeoutMs = 2000): Promise<HttpReply> {
  return send(http.request, url, { method, agent: false, timeout: timeoutMs });
}

/**
 * One GET on a fresh connection, over HTTPS when the URL says so; rejects with the TLS or socket
 * error (a refused handshake).
 */
export function httpsRequest(url: string, options: TlsRequestOptions = {}): Promise<HttpReply> {
  const { ca, insecure, servername, cert, key, authorization } = options;
  return send(url.startsWith("https:") ? https.request : http.request, url, {
    agent: false,
    timeout: options.timeoutMs ?? 2000,
    headers: authorization === undefined ? {} : { Authorization: authorization },
    ...(insecure === true ? { rejectUnauthorized: false } : {}),
    ...(ca === undefined ? {} : { ca }),
    ...(servername === undefined ? {} : { servername }),
    ...(cert === undefined ? {} : { cert }),
    ...(key === undefined ? {} : { key }),
  });
}

function send(
  request: typeof http.request,
  url: string,
  options: https.RequestOptions,
): Promise<HttpReply> {
  return new Promise((resolve, reject) => {
    const req = request(url, options, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (s: string) => {
        body += s;
      });
      res.on("end", () => {
        const socket = res.socket as Partial<TLSSocket>;
        const peer = socket.getPeerX509Certificate?.();
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          body,
          ...(peer === undefined ? {} : { peer }),
        });
      });
      res.on("error", reject);
    });
    req.on("timeout", () => req.destroy(new Error(`${options.method ?? "GET"} ${url} timed out`)));
    req.on("error", reject);
    req.end();
  });
}

/**
 * Calls `probe` until `accept` holds for its result, every 25 ms; a probe that throws (e.g. the
 * server not up yet) counts as not accepted. Resolves with the accepted result.
 */
export async function pollUntil<T>(
  probe: () => Promise<T>,
  accept: (value: T) => boolean,
  what: string,
  timeoutMs = 5000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (accept(value)) return value;
      last = value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) {
      const shown = last instanceof Error ? last.message : JSON.stringify(last);
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; last: ${shown}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/** The first port of the kernel's ephemeral range (what connect() and listen(0) pick from). */
export function ephemeralLow(): number {
  try {
    const [low] = readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8")
      .trim()
      .split(/\s+/);
    return Number(low);
  } catch {
    return 32768;
  }
}

function canBind(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once("error", () => resolve(false));
    server.listen(port, "127.0.0.1", () => server.close(() => resolve(true)));
  });
}

/**
 * A TCP port on 127.0.0.1 that nothing listens on, so connecting is refused. It is taken below
 * the ephemeral range when the range allows it: a client connecting over and over to a closed
 * port inside that range can, rarely, be given that very port as its source port and connect to
 * itself (TCP simultaneous open); and nobody else's listen(0) picks it up meanwhile.
 */
export async function closedPort(): Promise<number> {
  const low = ephemeralLow();
  if (Number.isFinite(low) && low > 11_000) {
    for (let attempt = 0; attempt < 50; attempt++) {
      const port = 10_000 + Math.floor(Math.random() * (low - 10_000));
      if (await canBind(port)) return port;
    }
  }
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
