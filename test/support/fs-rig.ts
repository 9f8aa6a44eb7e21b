// The rig of the real-FreeSWITCH system tests: a FreeSWITCH of the test's own (optionally in an
// impaired network namespace), the built agent as a child process (dist/cli.js, configured through
// its environment only), an OTLP receiver decoding with the official protobuf root, and the
// test's own second event socket connection capturing everything FreeSWITCH sent (parsed by
// raw-esl.ts, not src/esl). fs-assert.ts compares the agent's output with that capture.

import assert from "node:assert/strict";
import { CliProcess, killAllChildren, tempDir } from "./child.js";
import { type Call, FreeswitchInstance } from "./freeswitch.js";
import { endedLegs, waitForEndOfCalls } from "./fs-assert.js";
import { ImpairedNetwork, type ImpairmentOptions } from "./impair.js";
import { requireSample, sampleOf, scrape } from "./load.js";
import { httpRequest } from "./net.js";
import { OtlpReceiver } from "./otlp-receiver.js";
import type { RawEslClient } from "./raw-esl.js";
import type { ExpectedLeg } from "./spec-model.js";

export const FS_NAME = "fs-real";

/** The events the agent subscribes to by default (SPEC §2), spelled out by the test. */
export const AGENT_SUBSCRIPTION = [
  "CHANNEL_CREATE",
  "CHANNEL_ANSWER",
  "CHANNEL_BRIDGE",
  "CHANNEL_DESTROY",
  "HEARTBEAT",
  "CHANNEL_HANGUP_COMPLETE",
  "RECV_RTCP_MESSAGE",
  "SEND_RTCP_MESSAGE",
] as const;

/** A capture of everything FreeSWITCH sends, on the test's own connection. */
export async function captureAll(fs: FreeswitchInstance): Promise<RawEslClient> {
  const client = await fs.connect();
  const reply = await client.command("event plain ALL");
  assert.match(reply, /^\+OK/);
  return client;
}

export interface AgentOptions {
  readonly env?: Readonly<Record<string, string>>;
  /** The password the agent uses (default the instance's). */
  readonly password?: string;
}

/** The built agent as a child process, against one FreeSWITCH and the receiver. */
export class AgentProcess {
  private constructor(
    readonly process: CliProcess,
    readonly url: string,
    private readonly dir: { remove(): void },
  ) {}

  static async start(
    fs: FreeswitchInstance,
    receiver: OtlpReceiver,
    options: AgentOptions = {},
  ): Promise<AgentProcess> {
    const dir = tempDir();
    const env = {
      FSAGENT_FREESWITCH_INSTANCES: JSON.stringify([fs.agentInstance(FS_NAME, options.password)]),
      FSAGENT_OTEL_ENDPOINT: receiver.endpoint,
      FSAGENT_OTEL_EXPORT_INTERVAL: "250ms",
      FSAGENT_OTEL_EXPORT_TIMEOUT: "250ms",
      FSAGENT_HTTP_HOST: "127.0.0.1",
      FSAGENT_HTTP_PORT: "0",
      FSAGENT_LOG_FORMAT: "json",
      ...options.env,
    };
    const child = new CliProcess(["run"], { cwd: dir.dir, env });
    try {
      return new AgentProcess(child, await child.jsonHttpUrl(10_000), dir);
    } catch (error) {
      await child.kill();
      dir.remove();
      throw error;
    }
  }

  metrics(): Promise<string> {
    return scrape(this.url);
  }

  async ready(): Promise<number> {
    return (await httpRequest(`${this.url}/ready`)).status;
  }

  async health(): Promise<{
    status: string;
    connections: Record<string, Record<string, unknown>>;
  }> {
    return JSON.parse((await httpRequest(`${this.url}/health`)).body);
  }

  /** Polls /metrics until `accept` holds for the sample's value. */
  async waitForSample(
    name: string,
    labels: Readonly<Record<string, string>>,
    accept: (value: number) => boolean,
    what: string,
    timeoutMs = 15_000,
  ): Promise<number> {
    const deadline = Date.now() + timeoutMs;
    let last: number | undefined;
    for (;;) {
      last = sampleOf(await this.metrics(), name, labels);
      if (last !== undefined && accept(last)) return last;
      if (Date.now() > deadline) {
        throw new Error(
          `timed out waiting for ${what}: ${name}${JSON.stringify(labels)} = ${last}`,
        );
      }
      await sleep(100);
    }
  }

  /** The agent's count of events of one name from the socket (its ESL layer's delivery). */
  async received(event: string): Promise<number> {
    return (
      sampleOf(await this.metrics(), "fsagent_events_received_total", {
        fs_instance: FS_NAME,
        event,
      }) ?? 0
    );
  }

  async requireSample(
    name: string,
    labels: Readonly<Record<string, string>> = {},
  ): Promise<number> {
    return requireSample(await this.metrics(), name, labels);
  }

  /** SIGTERM and a clean exit (code 0) within 10 s. */
  async stop(): Promise<void> {
    if (!this.process.running) return;
    this.process.signal("SIGTERM");
    const exit = await this.process.waitForExit(10_000);
    this.dir.remove();
    assert.equal(exit.code, 0, `the agent exits cleanly:\n${this.process}`);
  }

  /** SIGKILL, whatever state it is in. */
  async kill(): Promise<void> {
    await this.process.kill();
    this.dir.remove();
  }

  /** Log lines (JSON) so far. */
  logs(): Record<string, unknown>[] {
    return this.process.jsonLines();
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export interface RigOptions {
  /** Shows in FreeSWITCH's directory name and Switchname. */
  readonly name: string;
  readonly password?: string;
  /** Delay, jitter and loss on FreeSWITCH's RTP and RTCP: it then runs in a network namespace. */
  readonly impair?: Omit<ImpairmentOptions, "portFrom" | "portTo">;
}

/**
 * One test's world: FreeSWITCH, the receiver, the capture (open before any agent or call), and
 * the agents it starts. dispose() ends all of it, whatever state it is in.
 */
export class Rig {
  private readonly agents: AgentProcess[] = [];

  private constructor(
    readonly fs: FreeswitchInstance,
    readonly receiver: OtlpReceiver,
    readonly capture: RawEslClient,
    readonly net: ImpairedNetwork | undefined,
  ) {}

  static async start(options: RigOptions): Promise<Rig> {
    let net: ImpairedNetwork | undefined;
    let fs: FreeswitchInstance | undefined;
    try {
      net = options.impair === undefined ? undefined : ImpairedNetwork.create();
      fs = await FreeswitchInstance.start({
        name: options.name,
        ...(options.password === undefined ? {} : { password: options.password }),
        // In a namespace, the agent connects from the host's end of the veth pair.
        ...(net === undefined ? {} : { netns: net.netns, ip: net.innerIp, eslAcl: "any_v4.auto" }),
      });
      if (net !== undefined && options.impair !== undefined) {
        await net.impair({
          ...options.impair,
          portFrom: fs.ports.rtpStart,
          portTo: fs.ports.rtpEnd,
        });
      }
      const receiver = await OtlpReceiver.start();
      return new Rig(fs, receiver, await captureAll(fs), net);
    } catch (error) {
      await fs?.dispose();
      net?.down();
      throw error;
    }
  }

  /** Starts an agent against this FreeSWITCH and, unless told not to, waits until it is connected. */
  async startAgent(options: AgentOptions & { connected?: boolean } = {}): Promise<AgentProcess> {
    const agent = await AgentProcess.start(this.fs, this.receiver, options);
    this.agents.push(agent);
    if (options.connected !== false) {
      await agent.waitForSample(
        "fsagent_fs_connections",
        { fs_instance: FS_NAME },
        (v) => v === 1,
        "connected",
      );
    }
    return agent;
  }

  /** Hangs the calls up; resolves with the ended legs once their QoS and records are exported. */
  async endCalls(calls: readonly Call[]): Promise<ExpectedLeg[]> {
    await this.fs.hangup(calls);
    const legs = endedLegs(this.capture);
    await waitForEndOfCalls(this.receiver, legs);
    return legs;
  }

  async dispose(): Promise<void> {
    await Promise.all(this.agents.map((a) => a.stop()));
    this.capture.close();
    await this.receiver.close();
    await this.fs.dispose();
    this.net?.down();
    await killAllChildren();
  }
}
