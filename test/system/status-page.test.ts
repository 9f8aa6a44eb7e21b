// Issue 9 in a real browser: Debian's chromium driven by playwright-core (never a downloaded
// browser) against the real agent connected to the simulator over TCP (the in-process e2e
// harness). The page must show the instance connected, list the active legs with the numbers
// /api/status gives, sort them from the keyboard, add a new call without a reload, show the
// instance disconnected once the simulator stops, and log no console error on the way. It saves
// a screenshot to test-artifacts/status-page.png (UPDATE_DOCS_SCREENSHOT=1 also writes
// docs/status-page.png, the picture in the README and docs/status-page.md).

import assert from "node:assert/strict";
import { copyFileSync, mkdirSync } from "node:fs";
import path from "node:path";
import { after, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import type { Browser, Page } from "playwright-core";
import type { StatusBody, StatusLeg } from "../../src/server/status-body.js";
import { CallGenerator } from "../../src/sim/index.js";
import { ntpMiddle, toUnits65536 } from "../../src/sim/ntp.js";
import { VERSION } from "../../src/version.js";
import { launchChromium } from "../support/chromium.js";
import { E2eHarness, FS_INSTANCE } from "../support/e2e.js";
import { sleep } from "../support/wait.js";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const SCREENSHOT = path.join(ROOT, "test-artifacts", "status-page.png");
const DOCS_SCREENSHOT = path.join(ROOT, "docs", "status-page.png");

let h: E2eHarness | undefined;
let browser: Browser | undefined;
let traffic: CallGenerator | undefined;

async function setUp(): Promise<{ harness: E2eHarness; browser: Browser }> {
  h = await E2eHarness.start({ statusSampleMs: 500, version: VERSION });
  browser = await launchChromium();
  return { harness: h, browser };
}

after(async () => {
  traffic?.stop();
  await browser?.close();
  await h?.close();
});

async function waitFor(check: () => Promise<boolean>, what: string, timeoutMs = 5000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

async function apiStatus(base: string): Promise<StatusBody> {
  const res = await fetch(`${base}/api/status`);
  assert.equal(res.status, 200);
  return (await res.json()) as StatusBody;
}

/** The page's rendering of a number with its threshold word, as docs/status-page.md describes it. */
function mosText(m: number | null): string {
  if (m === null) return "\u2014";
  return `${m.toFixed(2)}${m >= 4 ? "good" : m >= 3.5 ? "fair" : "poor"}`;
}
function highText(v: number | null, digits: number, high: number): string {
  if (v === null) return "\u2014";
  return `${v.toFixed(digits)}${v > high ? "high" : ""}`;
}

/** The first line of a cell (its value and threshold word, without the per-direction line). */
async function cellValue(page: Page, channelId: string, col: string): Promise<string> {
  return page
    .locator(`#active tbody tr[data-channel-id="${channelId}"] td[data-col="${col}"] > span`)
    .allTextContents()
    .then((parts) => parts.join(""));
}

/** A bridged call with one RECV report per leg: `quality` sets its jitter, loss and RTT. */
function callWithReports(
  gen: CallGenerator,
  domain: string,
  codec: "PCMU" | "G722" | "opus",
  quality: { jitterMs: number; fraction: number; rttMs: number },
): { a: string; b: string; uuid: string } {
  const call = gen.startCall({ bridged: true, domain, codec });
  const a = call.aLeg.uuid;
  const b = call.bLeg?.uuid ?? "";
  const at = Date.now();
  for (const [leg, factor] of [
    [a, 1],
    [b, 0.5],
  ] as const) {
    gen.sendRtcp(leg, {
      jitterMs: quality.jitterMs * factor,
      fraction: Math.round(quality.fraction * factor),
      lost: quality.fraction,
      lsr: ntpMiddle(at - quality.rttMs - 200),
      dlsr: toUnits65536(200),
      atMs: at,
    });
  }
  return { a, b, uuid: call.uuid };
}

describe("the status page in chromium", () => {
  it("shows the agent live, matches /api/status, sorts, updates, shows a disconnection", async () => {
    const { harness, browser } = await setUp();
    const base = harness.current.url ?? "";
    const gen = harness.generator;

    // Calls of known quality: good, fair and poor; one poor call ends with FreeSWITCH's MOS.
    const good = callWithReports(gen, "tenant-a.example", "PCMU", {
      jitterMs: 2,
      fraction: 0,
      rttMs: 40,
    });
    const fair = callWithReports(gen, "tenant-b.example", "G722", {
      jitterMs: 25,
      fraction: 8,
      rttMs: 120,
    });
    const poor = callWithReports(gen, "tenant-a.example", "opus", {
      jitterMs: 60,
      fraction: 40,
      rttMs: 380,
    });
    const ended = callWithReports(gen, "tenant-b.example", "PCMU", {
      jitterMs: 45,
      fraction: 20,
      rttMs: 200,
    });
    await harness.waitProcessed("RECV_RTCP_MESSAGE", 8);
    gen.hangupCall(ended.uuid, {
      qos: { inPacketCount: 1000, inFlaws: 400 },
      bQos: { inPacketCount: 1000, inFlaws: 150 },
    });
    await harness.waitProcessed("CHANNEL_DESTROY", 2);

    const page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
    const problems: string[] = [];
    page.on("console", (m) => {
      if (m.type() === "error" || m.type() === "warning") problems.push(`${m.type()}: ${m.text()}`);
    });
    page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
    page.on("requestfailed", (r) => problems.push(`request failed: ${r.url()}`));
    await page.goto(`${base}/`);
    // (Page-side code is given as text: this project's TypeScript has no DOM types.)
    await page.evaluate("window.loadedOnce = true");

    // The instance, connected, in words and colour.
    const card = page.locator(`#instances li[data-instance="${FS_INSTANCE}"]`);
    await card.locator('[data-state="connected"]').waitFor({ timeout: 5000 });
    assert.match((await card.textContent()) ?? "", /connected/);
    assert.equal(await card.getAttribute("class"), "ok");

    // What FreeSWITCH (here the simulator) says of itself, under the card: sessions of the limit
    // its HEARTBEAT and `status` report, the version, and the gateways with the down ones first.
    await card.locator('[data-field="sessions"]').waitFor({ timeout: 5000 });
    const server = (await apiStatus(base)).instances[0]?.server;
    assert.ok(server?.sessions && server.session_rate && server.version !== null);
    assert.equal(
      server.sessions.limit,
      harness.server.maxSessions,
      "Max-Sessions of the simulator",
    );
    assert.equal(
      await card.locator('[data-field="sessions"]').textContent(),
      `${server.sessions.active} / ${server.sessions.limit} sessions`,
    );
    assert.equal(
      await card.locator('[data-field="version"]').textContent(),
      `FreeSWITCH ${server.version}`,
    );
    assert.match(
      (await card.locator('[data-field="idle_cpu"]').textContent()) ?? "",
      /^idle CPU \d+ %$/,
    );
    const gateways = server.gateways ?? [];
    const shown = await card
      .locator("ul.gateways li")
      .evaluateAll((lis) =>
        lis.map((li) => [li.getAttribute("data-gateway"), li.getAttribute("data-up")]),
      );
    assert.deepEqual(
      shown,
      gateways.map((g) => [g.name, String(g.up)]),
    );

    // The active legs: the same legs and figures as /api/status, worst first.
    const api = await apiStatus(base);
    assert.equal(api.totals.active_legs, 6);
    const rows = page.locator("#active tbody tr[data-channel-id]");
    // Waits poll from here: the page's CSP (no eval) refuses page.waitForFunction's polling.
    await waitFor(async () => (await rows.count()) === api.active_legs.length, "the legs listed");
    const listed = await rows.evaluateAll((trs) =>
      trs.map((tr) => tr.getAttribute("data-channel-id")),
    );
    assert.deepEqual(
      listed,
      api.active_legs.map((l) => l.channel_id),
    );
    assert.equal(listed[0], poor.a, "the poor call's A-leg first");
    assert.equal(listed[listed.length - 1], good.b, "the good call's B-leg last");
    for (const leg of api.active_legs) {
      const id = leg.channel_id;
      assert.equal(await cellValue(page, id, "mos"), mosText(leg.mos_estimate), `${id} MOS`);
      assert.equal(await cellValue(page, id, "jitter"), highText(leg.jitter_ms, 1, 30), id);
      const lossPct = leg.fraction_lost === null ? null : leg.fraction_lost * 100;
      assert.equal(await cellValue(page, id, "loss"), highText(lossPct, 1, 3), `${id} loss`);
      assert.equal(await cellValue(page, id, "rtt"), highText(leg.rtt_ms, 0, 300), `${id} RTT`);
      const row = page.locator(`#active tbody tr[data-channel-id="${id}"]`);
      assert.equal(await row.locator('td[data-col="domain"]').textContent(), leg.domain_name);
      assert.equal(await row.locator('td[data-col="codec"]').textContent(), leg.codec_name);
    }
    const poorRow = (await page.locator(`tr[data-channel-id="${poor.a}"]`).textContent()) ?? "";
    assert.match(poorRow, /poor/);
    assert.match(poorRow, /high/);
    assert.ok(
      api.active_legs.some((l: StatusLeg) => l.channel_id === fair.a && l.mos_estimate !== null),
    );
    assert.match((await page.locator("#active-summary").textContent()) ?? "", /6 of 6 legs/);

    // The ended legs: FreeSWITCH's MOS next to the estimate.
    const endedRow = page.locator(`#ended tbody tr[data-channel-id="${ended.a}"]`);
    await endedRow.waitFor({ timeout: 5000 });
    const endedApi = api.ended_legs.find((l) => l.channel_id === ended.a);
    assert.ok(endedApi?.mos !== null && endedApi?.mos !== undefined);
    assert.equal(
      (await endedRow.locator('td[data-col="mos"] > span').allTextContents()).join(""),
      mosText(endedApi.mos),
    );
    assert.equal(
      (await endedRow.locator('td[data-col="mos_estimate"] > span').allTextContents()).join(""),
      mosText(endedApi.mos_estimate),
    );

    // Sorting from the keyboard: focus the jitter column's button, Enter, Enter again.
    const jitterHeader = page.locator('#active th[data-key="jitter"]');
    await jitterHeader.locator("button").focus();
    await page.keyboard.press("Enter");
    assert.equal(await jitterHeader.getAttribute("aria-sort"), "descending");
    assert.equal(await page.locator('#active th[data-key="mos"]').getAttribute("aria-sort"), null);
    const byJitter = [...api.active_legs].sort((x, y) => (y.jitter_ms ?? -1) - (x.jitter_ms ?? -1));
    assert.equal(await rows.first().getAttribute("data-channel-id"), byJitter[0]?.channel_id);
    await page.keyboard.press("Enter");
    assert.equal(await jitterHeader.getAttribute("aria-sort"), "ascending");
    assert.equal(await rows.first().getAttribute("data-channel-id"), good.b);
    await page.locator('#active th[data-key="mos"] button').click();
    assert.equal(
      await page.locator('#active th[data-key="mos"]').getAttribute("aria-sort"),
      "ascending",
      "back to worst first",
    );
    assert.equal(await rows.first().getAttribute("data-channel-id"), poor.a);

    // A new call shows up without a reload.
    const fresh = callWithReports(gen, "tenant-c.example", "G722", {
      jitterMs: 35,
      fraction: 12,
      rttMs: 90,
    });
    await page.locator(`#active tbody tr[data-channel-id="${fresh.a}"]`).waitFor({ timeout: 5000 });
    assert.equal(await page.evaluate("window.loadedOnce"), true, "the same document: no reload");

    // Varied live traffic for the charts and the screenshot.
    traffic = new CallGenerator({
      factory: harness.factory,
      channels: harness.channels,
      sink: (event) => harness.server.publish(event),
      callsPerSecond: 4,
      meanDurationMs: 3000,
      bridgedShare: 0.4,
      rtcpIntervalMs: 1000,
      sendRtcp: true,
      profileWeights: { good: 55, average: 30, bad: 15 },
      seed: 20261124,
    });
    traffic.start(50);
    await page.waitForTimeout(7000);
    traffic.stop();
    await page.locator("#ended tbody tr[data-channel-id]").nth(3).waitFor({ timeout: 5000 });
    const caption = (await page.locator("#cap-events").textContent()) ?? "";
    assert.match(caption, /^now [\d.]+ events\/s, peak [\d.]+/, caption);
    assert.equal(await page.locator("#chart-mos svg rect").count(), 10, "one bar per MOS bucket");
    mkdirSync(path.dirname(SCREENSHOT), { recursive: true });
    await page.screenshot({ path: SCREENSHOT });
    if (process.env.UPDATE_DOCS_SCREENSHOT === "1") {
      mkdirSync(path.dirname(DOCS_SCREENSHOT), { recursive: true });
      copyFileSync(SCREENSHOT, DOCS_SCREENSHOT);
    }

    // The simulator goes away: the instance is shown as not connected, in words.
    await harness.server.stop();
    await card.locator('[data-state]:not([data-state="connected"])').waitFor({ timeout: 5000 });
    const state = (await card.locator("[data-state]").getAttribute("data-state")) ?? "";
    assert.match(state, /^(disconnected|connecting)$/);
    assert.match((await card.textContent()) ?? "", new RegExp(state));
    assert.notEqual(await card.getAttribute("class"), "ok");
    assert.equal(await card.locator(".server").count(), 0, "no figures of a FreeSWITCH gone");

    assert.deepEqual(problems, [], "no console error or warning");
    await page.close();
  });
});
