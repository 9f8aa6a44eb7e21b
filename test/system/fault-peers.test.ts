import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import type { HealthBody } from "../../src/server/health.js";
import { SimServer } from "../../src/sim/index.js";
import { CliProcess, killAllChildren, tempDir } from "../support/child.js";
import { closedPort, httpRequest, pollUntil } from "../support/net.js";
import { sleep } from "../support/wait.js";

// Issue 4, fault 3: a wrong password, a rude rejection (ACL deny), a refused connection and a
// host name that does not resolve. ONE built agent (node dist/cli.js) watches five instances at
// once, with the DEFAULT backoff (initial 1 s, factor 2, max 30 s), for 30 s:
//
//   ok       a healthy SimServer sending a HEARTBEAT every second
//   badpw    a SimServer with another password
//   rude     a SimServer with rudeReject (text/rude-rejection, then close)
//   refused  a closed port on 127.0.0.1
//   nodns    no-such-host.invalid (RFC 2606: never resolves)
//
// and then checks /health, the attempt counts against the full-jitter schedule, the attempt
// times seen by the two SimServers against the per-attempt ceilings, the log volume per
// instance, and that `ok` never noticed any of it.
//
// ---- The backoff bounds --------------------------------------------------------------------
// Delay n (n = 0, 1, ...) is uniform in [0, c_n], c_n = min(30 s, 1 s · 2^n): ceilings
// 1, 2, 4, 8, 16, 30, 30, ... s. Attempt 1 is at t = 0, attempt k+1 at S_k = d_0 + ... + d_(k-1)
// (plus the attempt's own few milliseconds, which only lower the count).
//
// Lower bound, deterministic: S_4 <= 1+2+4+8 = 15 s, so 5 attempts have happened by 15 s
// whatever the draws; in 30 s at least 5 attempts (4 reconnects). Zero flake probability, 15 s
// of margin for scheduling overhead. (S_5 <= 31 s > 30 s, so 6 is not guaranteed.)
//
// Upper bound: 15 or more attempts in 30 s need S_14 <= 30 s, which needs the nine draws
// d_5..d_13, each uniform in [0, 30 s], to sum to <= 30 s: probability 1/9! = 2.8e-6 (the
// volume of the unit simplex), and far less in fact since d_0..d_4 must fit too. A Monte Carlo
// run of 2·10^7 schedules gave P(>= 13 attempts) = 6e-7 and never 15. So "<= 14 attempts" fails
// a correct backoff less than once in 10^5 runs for the four failing instances together (the
// expected count is ~6-7: the mean delay sum reaches 30 s after 0.5+1+2+4+8+15 = 30.5 s).
// A broken backoff fails it by far: no growth at 1 s (uniform [0, 1 s]) makes ~60 attempts, a
// fixed 1 s ~30, no delay at all thousands.
//
// Attempt TIMES (badpw and rude, where a SimServer sees each attempt): gap n between attempt
// n+1 and n+2 is d_n plus the handshake, so each gap must be <= c_n + GAP_SLACK_MS. This is
// deterministic too; it catches a backoff that waits longer than its ceiling (a wrong curve, an
// exponent off by one, a max ignored), which the count alone would not.

const WINDOW_MS = 30_000;
const MIN_ATTEMPTS = 5;
const MAX_ATTEMPTS = 14;
const GAP_SLACK_MS = 500;
/** warn/error lines per failing instance over the window: the rate limiter logs a key once a minute. */
const MAX_LOG_LINES = 3;

const AGENT_PASSWORD = "Peer-Fault-Pw-9qTz";
const OTHER_PASSWORD = "Another-Pw-Xk41";
const FAILING = ["badpw", "rude", "refused", "nodns"] as const;

function ceilingMs(n: number): number {
  return Math.min(30_000, 1000 * 2 ** n);
}

async function health(url: string): Promise<HealthBody> {
  const reply = await httpRequest(`${url}/health`);
  return JSON.parse(reply.body) as HealthBody;
}

async function metrics(url: string): Promise<string> {
  const reply = await httpRequest(`${url}/metrics`);
  assert.equal(reply.status, 200);
  return reply.body;
}

/** The value of the one series of `name` with exactly these labels, or undefined. */
function sample(text: string, name: string, labels: Record<string, string>): number | undefined {
  const wanted = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  for (const line of text.split("\n")) {
    const match = /^([a-zA-Z_:][\w:]*)\{([^}]*)\} (\S+)$/.exec(line);
    if (match?.[1] !== name) continue;
    const have = (match[2] ?? "").split(",");
    if (have.length === wanted.length && wanted.every((w) => have.includes(w))) {
      return Number(match[3]);
    }
  }
  return undefined;
}

/** Records when a SimServer accepted each connection (polled every 5 ms). */
function recordAccepts(sim: SimServer, t0: number): { times: number[]; stop(): void } {
  const times: number[] = [];
  let seen = 0;
  const timer = setInterval(() => {
    const now = Date.now();
    while (seen < sim.stats.connectionsAccepted) {
      seen++;
      times.push(now - t0);
    }
  }, 5);
  return { times, stop: () => clearInterval(timer) };
}

const running: Array<() => Promise<void> | void> = [];
let removeCwd = (): void => undefined;

after(async () => {
  for (const stop of running.splice(0).reverse()) await stop();
  await killAllChildren();
  removeCwd();
});

describe("fault: wrong password, rude rejection, refused, unresolvable host", () => {
  it("reports each clearly, backs off, logs little, and leaves the healthy instance alone", {
    timeout: 45_000,
  }, async (t) => {
    const temp = tempDir();
    removeCwd = temp.remove;

    const ok = new SimServer({ password: AGENT_PASSWORD, heartbeatIntervalMs: 1000 });
    const badpw = new SimServer({ password: OTHER_PASSWORD, heartbeatIntervalMs: 0 });
    const rude = new SimServer({ rudeReject: true, heartbeatIntervalMs: 0 });
    const okPort = await ok.listen();
    const badpwPort = await badpw.listen();
    const rudePort = await rude.listen();
    for (const sim of [ok, badpw, rude]) running.push(() => sim.stop());
    const refusedPort = await closedPort();
    const otlpPort = await closedPort();

    const instances = [
      { name: "ok", host: "127.0.0.1", port: okPort },
      { name: "badpw", host: "127.0.0.1", port: badpwPort },
      { name: "rude", host: "127.0.0.1", port: rudePort },
      { name: "refused", host: "127.0.0.1", port: refusedPort },
      { name: "nodns", host: "no-such-host.invalid", port: 8021 },
    ].map((i) => ({ ...i, password: AGENT_PASSWORD }));

    const t0 = Date.now();
    const badpwAccepts = recordAccepts(badpw, t0);
    const rudeAccepts = recordAccepts(rude, t0);
    running.push(badpwAccepts.stop, rudeAccepts.stop);
    // Default backoff and timeouts: no FSAGENT_ESL_* at all.
    const agent = new CliProcess([], {
      cwd: temp.dir,
      env: {
        FSAGENT_FREESWITCH_INSTANCES: JSON.stringify(instances),
        FSAGENT_HTTP_HOST: "127.0.0.1",
        FSAGENT_HTTP_PORT: "0",
        FSAGENT_OTEL_ENDPOINT: `127.0.0.1:${otlpPort}`,
      },
      timeoutMs: 45_000,
    });
    running.push(() => agent.kill());
    const url = await agent.jsonHttpUrl();

    const first = await pollUntil(
      () => health(url),
      (h) => h.connections.ok?.connected === true,
      "ok connected",
    );
    assert.equal(first.connections.ok?.reconnects, 0);

    // Through the window: `ok` is connected at every look, never reconnects, keeps receiving.
    let looks = 0;
    let heartbeatsMid: number | undefined;
    while (Date.now() - t0 < WINDOW_MS - 1000) {
      await sleep(1000);
      assert.ok(agent.running, `the agent exited:\n${agent}`);
      const h = await health(url);
      looks++;
      assert.equal(h.connections.ok?.connected, true, `ok connected at look ${looks}`);
      assert.equal(h.connections.ok?.reconnects, 0, `ok never reconnected (look ${looks})`);
      if (heartbeatsMid === undefined && Date.now() - t0 >= WINDOW_MS / 2) {
        heartbeatsMid = sample(await metrics(url), "fsagent_events_received_total", {
          fs_instance: "ok",
          event: "HEARTBEAT",
        });
      }
    }
    await sleep(Math.max(0, WINDOW_MS - (Date.now() - t0)));
    const elapsed = Date.now() - t0;
    const scraped = await metrics(url);
    const seenBySim = {
      badpw: badpw.stats.connectionsAccepted,
      rude: rude.stats.connectionsAccepted,
    };
    badpwAccepts.stop();
    rudeAccepts.stop();

    // ---- /health: a clear state per instance ----------------------------------------------
    // Polled briefly: a look that lands inside an attempt (a few ms) sees connecting.
    const body = await pollUntil(
      () => health(url),
      (h) =>
        h.connections.badpw?.state === "auth_failed" &&
        h.connections.rude?.state === "rejected" &&
        h.connections.refused?.state === "disconnected" &&
        h.connections.nodns?.state === "disconnected",
      "the failing instances between attempts",
      3000,
    );
    const c = body.connections;
    assert.equal(body.status, "degraded");
    assert.equal(c.ok?.connected, true);
    assert.equal(c.ok?.state, "connected");
    assert.equal(c.ok?.last_error, undefined);
    assert.equal(c.ok?.reconnects, 0);
    assert.equal(c.badpw?.connected, false);
    assert.equal(c.badpw?.last_error, "authentication failed: password rejected by FreeSWITCH");
    assert.equal(c.rude?.connected, false);
    assert.match(c.rude?.last_error ?? "", /^rejected by FreeSWITCH: Access Denied, go away/);
    assert.equal(c.refused?.connected, false);
    assert.equal(c.refused?.last_error, "connection refused");
    assert.equal(c.nodns?.connected, false);
    assert.equal(c.nodns?.last_error, "cannot resolve host no-such-host.invalid");

    // ---- Backoff: attempt counts over the window ------------------------------------------
    const attempts: Record<string, number> = {};
    for (const name of FAILING) {
      const reconnects = sample(scraped, "fsagent_esl_reconnects_total", { fs_instance: name });
      assert.ok(reconnects !== undefined, `fsagent_esl_reconnects_total for ${name}`);
      attempts[name] = reconnects + 1;
    }
    const report = JSON.stringify({ elapsed, attempts, seenBySim });
    for (const name of FAILING) {
      const n = attempts[name] ?? 0;
      assert.ok(
        n >= MIN_ATTEMPTS,
        `${name}: ${n} attempts, expected >= ${MIN_ATTEMPTS}; ${report}`,
      );
      assert.ok(
        n <= MAX_ATTEMPTS,
        `${name}: ${n} attempts, expected <= ${MAX_ATTEMPTS}; ${report}`,
      );
    }
    // The SimServers saw the same attempts (the counter is bumped just before connecting, so
    // an attempt in flight at the scrape may be counted on one side only).
    for (const name of ["badpw", "rude"] as const) {
      const diff = seenBySim[name] - (attempts[name] ?? 0);
      assert.ok(diff >= -1 && diff <= 1, `${name}: server saw ${seenBySim[name]}; ${report}`);
    }

    // ---- Backoff: each gap within its ceiling ----------------------------------------------
    for (const [name, rec] of [
      ["badpw", badpwAccepts],
      ["rude", rudeAccepts],
    ] as const) {
      const times = rec.times;
      assert.ok(times.length >= MIN_ATTEMPTS, `${name}: attempt times ${times.join(", ")}`);
      for (let n = 0; n + 1 < times.length; n++) {
        const gap = (times[n + 1] ?? 0) - (times[n] ?? 0);
        assert.ok(
          gap <= ceilingMs(n) + GAP_SLACK_MS,
          `${name}: gap ${n} was ${gap} ms, ceiling ${ceilingMs(n)} ms; times ${times.join(", ")}`,
        );
      }
    }

    // ---- Bounded log volume ----------------------------------------------------------------
    const lines = agent.jsonLines();
    const loud = (name: string): Record<string, unknown>[] =>
      lines.filter((l) => l.fs_instance === name && typeof l.level === "number" && l.level >= 40);
    for (const name of FAILING) {
      const n = loud(name).length;
      const a = attempts[name] ?? 0;
      assert.ok(n >= 1, `${name}: the failure is logged at all`);
      assert.ok(n <= MAX_LOG_LINES, `${name}: ${n} warn/error lines for ${a} attempts`);
      assert.ok(n < a, `${name}: fewer log lines (${n}) than attempts (${a})`);
    }
    assert.match(String(loud("badpw")[0]?.msg), /password rejected/);
    assert.match(String(loud("rude")[0]?.msg), /Access Denied/);
    assert.match(String(loud("refused")[0]?.msg), /connection refused/);
    assert.match(String(loud("nodns")[0]?.msg), /cannot resolve host no-such-host\.invalid/);
    // The password (right or wrong) never appears in the output.
    for (const secret of [AGENT_PASSWORD, OTHER_PASSWORD]) {
      assert.ok(!agent.stdout.includes(secret) && !agent.stderr.includes(secret), "no password");
    }

    // ---- The healthy instance was unaffected ------------------------------------------------
    assert.deepEqual(loud("ok"), [], "ok logged no warning or error");
    assert.equal(ok.stats.connectionsAccepted, 1, "ok connected exactly once");
    assert.equal(sample(scraped, "fsagent_esl_reconnects_total", { fs_instance: "ok" }), 0);
    const heartbeats =
      sample(scraped, "fsagent_events_received_total", { fs_instance: "ok", event: "HEARTBEAT" }) ??
      0;
    // One per second for ~29 s after connecting; 20 leaves room for a loaded machine.
    assert.ok(heartbeats >= 20, `ok received ${heartbeats} HEARTBEATs`);
    assert.ok(
      heartbeatsMid !== undefined && heartbeats >= heartbeatsMid + 8,
      `HEARTBEATs kept coming in the second half: ${heartbeatsMid} -> ${heartbeats}`,
    );
    const lastEvent = Date.parse(c.ok?.last_event ?? "");
    assert.ok(Date.now() - lastEvent < 3000, `ok last_event recent: ${c.ok?.last_event}`);
    const logged = Object.fromEntries(FAILING.map((name) => [name, loud(name).length]));
    t.diagnostic(
      `${report} logged ${JSON.stringify(logged)} heartbeats ${heartbeats} ` +
        `times badpw [${badpwAccepts.times.join(", ")}] rude [${rudeAccepts.times.join(", ")}]`,
    );
  });
});
