// Delay, jitter and loss on a FreeSWITCH's RTP and RTCP, the way ../shared/freeswitch/testbed/
// impair.sh does it (this kernel has no `tc netem`): a private network namespace in which an
// iptables rule hands the RTP range's UDP to nfq-netem (test/freeswitch/nfq-netem.c, built on
// first use). FreeSWITCH runs inside the namespace; a veth pair lets the agent and the test,
// outside, reach its event socket. Needs root, iproute2, iptables and libnetfilter-queue-dev
// (.ci/run installs them).

import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { existsSync, mkdirSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const SOURCE = fileURLToPath(new URL("../freeswitch/nfq-netem.c", import.meta.url));
const BINARY = path.join(tmpdir(), "fsagent-nfq-netem", "nfq-netem");

export interface ImpairmentOptions {
  /** Every packet held this long, ± jitterMs (uniform), or dropped with lossPct % chance. */
  readonly delayMs: number;
  readonly jitterMs: number;
  readonly lossPct: number;
  /** The UDP destination ports impaired (FreeSWITCH's RTP range: RTCP is in it too). */
  readonly portFrom: number;
  readonly portTo: number;
}

const run = (cmd: string, args: string[]) => execFileSync(cmd, args, { stdio: "pipe" });

/**
 * The `skip` option of a suite that impairs media: false in CI (where it must run), else the
 * one-line reason when it cannot run here.
 */
export function skipWithoutImpairment(): string | false {
  return process.env.CI === "true" ? false : (impairmentUnavailable() ?? false);
}

/** Why impairment cannot run here, or undefined when it can. */
export function impairmentUnavailable(): string | undefined {
  if (process.getuid?.() !== 0) return "impairment needs root (network namespaces, iptables)";
  for (const tool of ["ip", "iptables", "gcc"]) {
    try {
      run("sh", ["-c", `command -v ${tool}`]);
    } catch {
      return `impairment needs ${tool} (apt-get install iproute2 iptables gcc)`;
    }
  }
  if (!existsSync("/usr/include/libnetfilter_queue/libnetfilter_queue.h")) {
    return "impairment needs libnetfilter-queue-dev (apt-get install libnetfilter-queue-dev)";
  }
  return undefined;
}

function buildNfqNetem(): void {
  if (existsSync(BINARY) && statSync(BINARY).mtimeMs >= statSync(SOURCE).mtimeMs) return;
  mkdirSync(path.dirname(BINARY), { recursive: true });
  run("gcc", ["-O2", "-o", BINARY, SOURCE, "-lnetfilter_queue"]);
}

const open = new Set<ImpairedNetwork>();
process.once("exit", () => {
  for (const net of open) net.down();
});

/** A network namespace with impaired RTP, reachable from outside at `innerIp`. */
export class ImpairedNetwork {
  private netem: ChildProcess | null = null;

  private constructor(
    readonly netns: string,
    /** The namespace's address: FreeSWITCH listens here. */
    readonly innerIp: string,
    /** The host side of the veth pair. */
    readonly outerIp: string,
  ) {}

  /**
   * A namespace with its loopback up and a veth pair to the host. Start FreeSWITCH in it (on
   * `innerIp`), then impair() its RTP range.
   */
  static create(): ImpairedNetwork {
    const id = Math.floor(Math.random() * 200) + 20;
    const netns = `fsagent-${process.pid}-${id}`;
    const outer = `fsa${id}o`;
    const inner = `fsa${id}i`;
    const net = new ImpairedNetwork(netns, `10.211.${id}.2`, `10.211.${id}.1`);
    open.add(net);
    try {
      run("ip", ["netns", "add", netns]);
      net.inside("ip", ["link", "set", "lo", "up"]);
      run("ip", ["link", "add", outer, "type", "veth", "peer", "name", inner]);
      run("ip", ["link", "set", inner, "netns", netns]);
      run("ip", ["addr", "add", `${net.outerIp}/30`, "dev", outer]);
      run("ip", ["link", "set", outer, "up"]);
      net.inside("ip", ["addr", "add", `${net.innerIp}/30`, "dev", inner]);
      net.inside("ip", ["link", "set", inner, "up"]);
    } catch (error) {
      net.down();
      throw error;
    }
    return net;
  }

  /** Delay, jitter and loss from now on, on UDP to the ports given (inside the namespace). */
  async impair(options: ImpairmentOptions): Promise<void> {
    buildNfqNetem();
    const ports = `${options.portFrom}:${options.portTo}`;
    this.inside("iptables", [
      "-A",
      "INPUT",
      "-p",
      "udp",
      "--dport",
      ports,
      "-j",
      "NFQUEUE",
      "--queue-num",
      "7",
    ]);
    const args = ["-q", "7", "-d", String(options.delayMs), "-j", String(options.jitterMs)];
    args.push("-l", String(options.lossPct), "-s", "42");
    this.netem = spawn("ip", ["netns", "exec", this.netns, BINARY, ...args], { stdio: "ignore" });
    await new Promise((resolve) => setTimeout(resolve, 300));
    if (this.netem.exitCode !== null) throw new Error("nfq-netem exited at start");
  }

  private inside(cmd: string, args: string[]): void {
    run("ip", ["netns", "exec", this.netns, cmd, ...args]);
  }

  /** Removes the namespace (and the veth pair with it). Idempotent. */
  down(): void {
    open.delete(this);
    this.netem?.kill("SIGKILL");
    this.netem = null;
    try {
      run("ip", ["netns", "del", this.netns]);
    } catch {
      // already gone
    }
  }
}
