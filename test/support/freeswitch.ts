// Real FreeSWITCH instances for system tests and benchmarks: each on its own free ports, in its
// own directory, from the project's copy of the test-bed configuration (test/freeswitch/conf),
// stopped whatever happens. Calls are bridged as the test bed makes them: 4 channels each,
//   L1 sofia/a outbound (plays 350 Hz) -> L2 sofia/a inbound, the A-leg, bridged to
//   L3 sofia/b outbound, the B-leg -> L4 sofia/b inbound (plays 440 Hz),
// with real RTP and RTCP both ways on every hop.
//
// FreeSWITCH itself stays outside the repository: /opt/freeswitch (../shared/freeswitch/
// install.sh puts it there), or FSAGENT_TEST_FREESWITCH=<prefix>.

import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import dgram from "node:dgram";
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { ephemeralLow } from "./net.js";
import { RawEslClient } from "./raw-esl.js";

const CONF_TEMPLATE = fileURLToPath(new URL("../freeswitch/conf", import.meta.url));

/** Where FreeSWITCH is installed: FSAGENT_TEST_FREESWITCH, else /opt/freeswitch. */
export const FREESWITCH_PREFIX = process.env.FSAGENT_TEST_FREESWITCH || "/opt/freeswitch";
const BINARY = path.join(FREESWITCH_PREFIX, "bin", "freeswitch");

export const HOW_TO_GET_FREESWITCH =
  "real FreeSWITCH not found at " +
  `${BINARY}: install it with 'bash ../shared/freeswitch/install.sh' (to /opt/freeswitch) ` +
  "or set FSAGENT_TEST_FREESWITCH=<prefix>";

/** Whether the FreeSWITCH binary is there (benchmarks skip their suite without it, CI or not). */
export function freeswitchInstalled(): boolean {
  return existsSync(BINARY);
}

/**
 * The `skip` option of a real-FreeSWITCH suite: the one-line reason when FreeSWITCH is missing,
 * false when it is there. In CI (CI=true) it is never skipped: a missing FreeSWITCH fails the
 * suite (.ci/run installs it).
 */
export function skipWithoutFreeswitch(): string | false {
  if (freeswitchInstalled()) return false;
  if (process.env.CI === "true") return false;
  return HOW_TO_GET_FREESWITCH;
}

export type Codec = "PCMU" | "PCMA" | "G722" | "OPUS";

export interface FreeswitchOptions {
  /** Shows in the directory name and the Switchname header. */
  readonly name?: string;
  readonly password?: string;
  /** Default RTCP interval of every leg, ms (a call may set its own). */
  readonly rtcpMsec?: number;
  /** fire_rtcp_events on every leg (SEND_RTCP_MESSAGE). */
  readonly fireRtcpEvents?: boolean;
  /** RTP ports to reserve: 8 per call (4 legs, RTP + RTCP). */
  readonly rtpPorts?: number;
  /** Run inside this network namespace (see impair.ts), listening on `ip`. */
  readonly netns?: string;
  /** The address SIP, RTP and the event socket listen on (default 127.0.0.1). */
  readonly ip?: string;
  /** The event socket ACL (default loopback.auto). */
  readonly eslAcl?: string;
}

export interface CallOptions {
  readonly codec?: Codec;
  /** rtcp_audio_interval_msec of the call, ms (default: the instance's). */
  readonly rtcpMsec?: number;
  readonly fireRtcpEvents?: boolean;
  /** Set as domain_name by the A-leg's dialplan (sip_h_X-Lab-Domain). */
  readonly domain?: string;
}

/** One originated bridged call: the uuid of its first leg (L1), which a hangup kills. */
export interface Call {
  readonly uuid: string;
  readonly codec: Codec | undefined;
  readonly domain: string | undefined;
}

interface Ports {
  readonly esl: number;
  readonly sipA: number;
  readonly sipB: number;
  readonly rtpStart: number;
  readonly rtpEnd: number;
}

const running = new Set<FreeswitchInstance>();
// Whatever happens to the test, no FreeSWITCH outlives it: at exit, and on Ctrl-C or a runner's
// SIGTERM, which would otherwise end the process without its exit handlers (FreeSWITCH runs in
// its own process group, so the signal does not reach it).
process.once("exit", () => {
  for (const fs of running) fs.killNow();
});
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => process.exit(signal === "SIGINT" ? 130 : 143));
}

/** A FreeSWITCH process of the test's own, on free ports. */
export class FreeswitchInstance {
  private child: ChildProcess | null = null;
  private exitPromise: Promise<void> = Promise.resolve();
  private control: RawEslClient | null = null;

  private constructor(
    readonly dir: string,
    readonly ports: Ports,
    readonly options: Required<Omit<FreeswitchOptions, "netns">> & { netns: string | undefined },
  ) {}

  /** Starts an instance and waits until its event socket and both SIP profiles are up. */
  static async start(options: FreeswitchOptions = {}): Promise<FreeswitchInstance> {
    if (!existsSync(BINARY)) throw new Error(HOW_TO_GET_FREESWITCH);
    const name = options.name ?? "t";
    const full = {
      name,
      password: options.password ?? "ClueCon",
      rtcpMsec: options.rtcpMsec ?? 1000,
      fireRtcpEvents: options.fireRtcpEvents ?? true,
      rtpPorts: options.rtpPorts ?? 200,
      netns: options.netns,
      ip: options.ip ?? "127.0.0.1",
      eslAcl: options.eslAcl ?? "loopback.auto",
    };
    const ports = await freePorts(full.rtpPorts, full.netns);
    const dir = mkdtempSync(path.join(tmpdir(), `fsagent-fs-${name}-`));
    const instance = new FreeswitchInstance(dir, ports, full);
    running.add(instance);
    try {
      await instance.launch();
    } catch (error) {
      await instance.stop();
      throw error;
    }
    return instance;
  }

  get host(): string {
    return this.options.ip;
  }

  get eslPort(): number {
    return this.ports.esl;
  }

  get password(): string {
    return this.options.password;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  get isRunning(): boolean {
    return this.child !== null && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** An fsagent instance entry for this FreeSWITCH. */
  agentInstance(name: string, password = this.password) {
    return { name, host: this.host, port: this.eslPort, password };
  }

  /** A new authenticated event socket connection of the test's own. */
  connect(password = this.password): Promise<RawEslClient> {
    return RawEslClient.connect(this.host, this.eslPort, password);
  }

  /** `api <command>` on the instance's control connection. */
  async api(command: string): Promise<string> {
    if (this.control === null || this.control.isClosed) this.control = await this.connect();
    return this.control.api(command);
  }

  /**
   * Originates bridged calls (4 channels each), one after the other; resolves once every one is
   * answered. The calls stay up until hangup().
   */
  async originate(count: number, options: CallOptions = {}): Promise<Call[]> {
    const calls: Call[] = [];
    for (let i = 0; i < count; i++) {
      const uuid = randomUUID();
      const rtcp = options.rtcpMsec ?? this.options.rtcpMsec;
      const fire = options.fireRtcpEvents ?? this.options.fireRtcpEvents;
      const vars = [
        `origination_uuid=${uuid}`,
        `origination_caller_id_number=${1000 + i}`,
        `rtcp_audio_interval_msec=${rtcp}`,
        `fire_rtcp_events=${fire}`,
        `sip_h_X-Lab-Rtcp-Msec=${rtcp}`,
        `sip_h_X-Lab-Fire-Rtcp=${fire}`,
        "ignore_early_media=true",
      ];
      if (options.codec !== undefined) vars.push(`absolute_codec_string=${options.codec}`);
      if (options.domain !== undefined) vars.push(`sip_h_X-Lab-Domain=${options.domain}`);
      const reply = await this.api(
        `originate {${vars.join(",")}}sofia/a/bridge@${this.host}:${this.ports.sipA} caller_tone XML lab`,
      );
      if (!reply.startsWith("+OK")) throw new Error(`originate failed: ${reply.trim()}`);
      calls.push({ uuid, codec: options.codec, domain: options.domain });
    }
    return calls;
  }

  /** Hangs the calls up (their first leg; the BYEs end the rest) and waits for no channel left. */
  async hangup(calls: readonly Call[], timeoutMs = 15_000): Promise<void> {
    for (const call of calls) await this.api(`uuid_kill ${call.uuid}`);
    await this.waitForChannels(0, timeoutMs);
  }

  /** Channels FreeSWITCH has now (`show channels count`). */
  async channelCount(): Promise<number> {
    const reply = await this.api("show channels count");
    const match = /(\d+) total/.exec(reply);
    if (match === null) throw new Error(`unreadable 'show channels count': ${reply.trim()}`);
    return Number(match[1]);
  }

  async waitForChannels(count: number, timeoutMs = 15_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const now = await this.channelCount();
      if (now === count) return;
      if (Date.now() > deadline)
        throw new Error(`${now} channels, not ${count}, after ${timeoutMs} ms`);
      await sleep(200);
    }
  }

  /** Stops FreeSWITCH cleanly (SIGTERM; SIGKILL after 20 s). Idempotent. */
  async stop(): Promise<void> {
    this.control?.close();
    this.control = null;
    const child = this.child;
    if (child !== null && this.isRunning) {
      child.kill("SIGTERM");
      const killer = setTimeout(() => child.kill("SIGKILL"), 20_000);
      await this.exitPromise;
      clearTimeout(killer);
    }
    this.child = null;
  }

  /** SIGKILL, as a crash: no goodbye on any socket. Resolves once the process is gone. */
  async kill(): Promise<void> {
    this.control?.close();
    this.control = null;
    this.child?.kill("SIGKILL");
    await this.exitPromise;
    this.child = null;
  }

  /** Starts again on the same ports and directory (after stop() or kill()). */
  async restart(): Promise<void> {
    await this.launch();
  }

  /** Stops FreeSWITCH and removes its directory. */
  async dispose(): Promise<void> {
    await this.stop();
    running.delete(this);
    rmSync(this.dir, { recursive: true, force: true });
  }

  /** Synchronous last resort (process exit). */
  killNow(): void {
    try {
      this.child?.kill("SIGKILL");
    } catch {
      // already gone
    }
  }

  /** The instance's log, for a failing test's message. */
  logTail(lines = 30): string {
    try {
      return readFileSync(path.join(this.dir, "log", "freeswitch.log"), "utf8")
        .split("\n")
        .slice(-lines)
        .join("\n");
    } catch {
      return "(no log)";
    }
  }

  private writeConf(): void {
    const conf = path.join(this.dir, "conf");
    rmSync(conf, { recursive: true, force: true });
    rmSync(path.join(this.dir, "run"), { recursive: true, force: true });
    rmSync(path.join(this.dir, "db"), { recursive: true, force: true });
    for (const sub of [
      "log",
      "db",
      "run",
      "temp",
      "storage",
      "cache",
      "recordings",
      "certs",
      "scripts",
    ]) {
      mkdirSync(path.join(this.dir, sub), { recursive: true });
    }
    cpSync(CONF_TEMPLATE, conf, { recursive: true });
    const o = this.options;
    const p = this.ports;
    const vars: Record<string, string | number | boolean> = {
      esl_listen_ip: o.ip,
      esl_listen_port: p.esl,
      esl_password: o.password,
      esl_acl: o.eslAcl,
      lab_ip: o.ip,
      sip_port_a: p.sipA,
      sip_port_b: p.sipB,
      lab_rtp_start_port: p.rtpStart,
      lab_rtp_end_port: p.rtpEnd,
      lab_rtcp_msec: o.rtcpMsec,
      lab_fire_rtcp_events: o.fireRtcpEvents,
      lab_switchname: `fs-${o.name}`,
      lab_loglevel: "warning",
    };
    const file = path.join(conf, "vars.xml");
    let text = readFileSync(file, "utf8");
    for (const [key, value] of Object.entries(vars)) {
      const line = new RegExp(`data="${key}=[^"]*"`);
      if (!line.test(text)) throw new Error(`vars.xml has no ${key}`);
      text = text.replace(line, `data="${key}=${value}"`);
    }
    writeFileSync(file, text);
  }

  private async launch(): Promise<void> {
    this.writeConf();
    const d = (sub: string) => path.join(this.dir, sub);
    const args = [
      "-nc",
      "-nf",
      "-nonat",
      "-np",
      "-conf",
      d("conf"),
      "-log",
      d("log"),
      "-db",
      d("db"),
      "-run",
      d("run"),
      "-temp",
      d("temp"),
      "-storage",
      d("storage"),
      "-cache",
      d("cache"),
      "-recordings",
      d("recordings"),
      "-certs",
      d("certs"),
      "-scripts",
      d("scripts"),
    ];
    const netns = this.options.netns;
    const child =
      netns === undefined
        ? spawn(BINARY, args, { stdio: "ignore", detached: true })
        : spawn("ip", ["netns", "exec", netns, BINARY, ...args], {
            stdio: "ignore",
            detached: true,
          });
    this.child = child;
    this.exitPromise = new Promise((resolve) => child.once("exit", () => resolve()));
    await this.waitReady(60_000);
  }

  /** The event socket answers, `status` says ready, and both SIP profiles run. */
  private async waitReady(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let last = "";
    while (Date.now() < deadline) {
      if (!this.isRunning) {
        throw new Error(`FreeSWITCH exited during start; its log:\n${this.logTail()}`);
      }
      try {
        const client = await this.connect();
        try {
          const status = await client.api("status");
          const sofia = await client.api("sofia status");
          const a = /^\s*a\tprofile\t.*RUNNING/m.test(sofia);
          const b = /^\s*b\tprofile\t.*RUNNING/m.test(sofia);
          if (status.includes("is ready") && a && b) {
            this.control = client;
            return;
          }
          last = `ready: ${status.includes("is ready")}, profile a: ${a}, profile b: ${b}`;
        } catch (error) {
          client.close();
          throw error;
        }
        client.close();
      } catch (error) {
        last = error instanceof Error ? error.message : String(error);
      }
      await sleep(250);
    }
    throw new Error(`FreeSWITCH did not get ready in ${timeoutMs} ms (${last})`);
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function canListenTcp(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once("error", () => resolve(false));
    server.listen(port, "0.0.0.0", () => server.close(() => resolve(true)));
  });
}

function canBindUdp(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = dgram.createSocket("udp4");
    socket.once("error", () => resolve(false));
    socket.bind(port, "0.0.0.0", () => socket.close(() => resolve(true)));
  });
}

/**
 * A block of ports below the ephemeral range (nobody's connect() or listen(0) takes them):
 * ESL, two SIP ports (UDP and TCP) and an RTP range. In a fresh network namespace every port is
 * free; its block is still random, so that two tests never share one.
 */
async function freePorts(rtpPorts: number, netns: string | undefined): Promise<Ports> {
  const size = 10 + rtpPorts + (rtpPorts % 2);
  const high = Math.min(ephemeralLow(), 32_768) - size;
  for (let attempt = 0; attempt < 100; attempt++) {
    const base = 20_000 + 2 * Math.floor((Math.random() * (high - 20_000)) / 2);
    const ports: Ports = {
      esl: base,
      sipA: base + 2,
      sipB: base + 4,
      rtpStart: base + 10,
      rtpEnd: base + 10 + rtpPorts + (rtpPorts % 2) - 1,
    };
    if (netns !== undefined) return ports;
    const checks = [canListenTcp(ports.esl), canListenTcp(ports.sipA), canListenTcp(ports.sipB)];
    checks.push(canBindUdp(ports.sipA), canBindUdp(ports.sipB));
    for (let p = ports.rtpStart; p <= ports.rtpEnd; p += 1) checks.push(canBindUdp(p));
    if ((await Promise.all(checks)).every(Boolean)) return ports;
  }
  throw new Error("no free block of ports for FreeSWITCH");
}

/** Whether `ip netns` works here (root and iproute2), for the impairment tests. */
export function canUseNetns(): boolean {
  try {
    execFileSync("ip", ["netns", "list"], { stdio: "ignore" });
    return process.getuid?.() === 0;
  } catch {
    return false;
  }
}
