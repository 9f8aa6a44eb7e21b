// Test support shared by the Redis store tests: a leg's key, a sample leg, a logger whose output
// can be read, and a private redis-server child process (for faults, ACL users and TLS listeners, which must
// never touch the shared server on 6379).

import { type ChildProcess, spawn } from "node:child_process";
import { type Logger, pino } from "pino";
import type { LegState } from "../../src/quality/types.js";

/** The key of a leg's state: `<key_prefix>leg:<uuid>`, as docs/configuration.md says. */
export function legKey(keyPrefix: string, uuid: string): string {
  return `${keyPrefix}leg:${uuid}`;
}

/** A fully labelled leg whose RTCP history is `n` reports (lastLost n, jitter 1.5 ms each). */
export function sampleLeg(uuid: string, n = 0): LegState {
  return {
    uuid,
    callUuid: `call-${uuid}`,
    sipCallId: `${uuid}@sip.example.com`,
    ownDomain: "",
    labels: {
      channelId: uuid,
      correlationId: `${uuid}@sip.example.com`,
      domainName: "example.com",
      callDirection: "inbound",
      codecName: "PCMU",
      srcIp: "192.0.2.1",
      dstIp: "192.0.2.2",
    },
    rtpRate: 8000,
    inbound: [{ ssrc: "1a2b3c4d", lastLost: n }],
    outbound: [],
    videoSsrcs: [],
    jitterSumMs: n * 1.5,
    jitterCount: n,
    farEndLost: 3,
    qosReported: false,
    rtcpIn: null,
    rtcpOut: null,
    labelSource: "event",
  };
}

/** A pino logger whose raw output and parsed lines the test can read. */
export function capturingLogger(level = "debug"): {
  logger: Logger;
  readonly lines: Record<string, unknown>[];
  text(): string;
} {
  const raw: string[] = [];
  const logger = pino({ level }, { write: (line: string) => raw.push(line) });
  return {
    logger,
    get lines() {
      return raw.map((line) => JSON.parse(line) as Record<string, unknown>);
    },
    text: () => raw.join(""),
  };
}

export interface PrivateRedis {
  readonly child: ChildProcess;
  /** What redis-server printed (its log goes to stdout); the last 8 KiB. */
  output(): string;
}

/** Starts `redis-server` on 127.0.0.1:port with nothing persisted, `password` required. */
export function spawnRedisServer(
  port: number,
  dir: string,
  password: string,
  extra: readonly string[] = [],
): PrivateRedis {
  const child = spawn(
    "redis-server",
    [
      "--port",
      String(port),
      "--bind",
      "127.0.0.1",
      "--save",
      "",
      "--appendonly",
      "no",
      "--daemonize",
      "no",
      "--dir",
      dir,
      "--requirepass",
      password,
      ...extra,
    ],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  child.on("error", () => {});
  let output = "";
  const collect = (chunk: Buffer): void => {
    output = (output + chunk.toString("utf8")).slice(-8192);
  };
  child.stdout?.on("data", collect);
  child.stderr?.on("data", collect);
  return { child, output: () => output };
}

/** SIGKILLs a child process and resolves once it has exited (at once if it already has). */
export function killProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise<void>((resolve) => {
    child.once("exit", () => resolve());
    child.kill("SIGKILL");
  });
}
