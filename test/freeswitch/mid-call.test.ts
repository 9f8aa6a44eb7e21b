// The agent started while calls are up on a real FreeSWITCH: it never saw their channel events,
// so it looks the legs up (`uuid_dump`) when their RTCP reports arrive, and must label all 4
// channels of each call as SPEC §3 says, then report each leg's end-of-call QoS once. The
// expected labels come from the test's own `uuid_dump` of every leg (what FreeSWITCH knew then).

import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { type Call, skipWithoutFreeswitch } from "../support/freeswitch.js";
import { assertQosPoints, assertQualityRecords, assertRtcpPoints } from "../support/fs-assert.js";
import { type AgentProcess, FS_NAME, Rig, sleep } from "../support/fs-rig.js";
import { type ExpectedLabels, type ExpectedLeg, labelsFromDumps } from "../support/spec-model.js";

describe("real FreeSWITCH: the agent started mid-call", { skip: skipWithoutFreeswitch() }, () => {
  let rig: Rig;
  let agent: AgentProcess;
  let legs: ExpectedLeg[] = [];
  let dumped = new Map<string, ExpectedLabels>();
  let lookups = 0;
  /** FreeSWITCH's uuid_dump answers for a leg that ended and for a uuid it never had. */
  let goneAnswers: string[] = [];

  before(async () => {
    rig = await Rig.start({ name: "midcall" });
    const calls: Call[] = [
      ...(await rig.fs.originate(1, { codec: "PCMU", domain: "tenant-a.example" })),
      ...(await rig.fs.originate(1, { codec: "OPUS" })),
    ];
    await sleep(6000); // the calls are up and reporting
    const uuids = new Set(rig.capture.events.map((e) => e.get("Unique-ID")));
    const dumps = new Map<string, Record<string, string>>();
    for (const uuid of uuids) {
      if (uuid === undefined) continue;
      const reply = await rig.fs.api(`uuid_dump ${uuid} json`);
      if (reply.startsWith("{")) dumps.set(uuid, JSON.parse(reply));
    }
    assert.equal(dumps.size, 8, "4 live channels per call");
    dumped = labelsFromDumps(dumps);
    agent = await rig.startAgent();
    await sleep(8000);
    lookups = await agent.requireSample("fsagent_leg_lookups_total", {
      fs_instance: FS_NAME,
      result: "found",
    });
    legs = await rig.endCalls(calls);
    goneAnswers = [
      await rig.fs.api(`uuid_dump ${legs[0]?.uuid ?? ""} json`),
      await rig.fs.api("uuid_dump 00000000-0000-4000-8000-000000000000 json"),
    ];
  });

  after(() => rig?.dispose());

  const labelsOf = (leg: ExpectedLeg): ExpectedLabels => {
    const labels = dumped.get(leg.uuid);
    assert.ok(labels !== undefined, `${leg.uuid} was dumped`);
    return labels;
  };

  it("looked every leg up on FreeSWITCH: one uuid_dump each", async () => {
    assert.equal(legs.length, 8);
    assert.equal(lookups, 8);
    const metrics = await agent.metrics();
    assert.doesNotMatch(
      metrics,
      /fsagent_leg_lookups_total\{[^}]*result="(failed|skipped|not_found)"\} [1-9]/,
    );
  });

  it("FreeSWITCH answers a uuid_dump of a leg it does not have with the text the agent remembers", () => {
    // src/legs/leg-lookups.ts remembers (lookups.not_found_ttl) only this answer.
    for (const answer of goneAnswers) assert.match(answer, /^-ERR No such channel!/);
  });

  it("labels right on all 4 channels of each call, RTCP values as FreeSWITCH reported them", () => {
    // The PCMU call's tenant reaches every leg; the other call has none: its legs carry the host.
    const tenant = legs.filter((l) => labelsOf(l).domain_name === "tenant-a.example");
    assert.equal(tenant.length, 4);
    assert.equal(
      new Set(legs.map((l) => labelsOf(l).correlation_id)).size,
      4,
      "two dialogs per call",
    );
    assertRtcpPoints(rig.receiver, legs, labelsOf);
  });

  it("QoS once per leg with those labels, and one quality record each", () => {
    assertQosPoints(rig.receiver, legs, { labelsOf, reportsSeenFromMidCall: true });
    assertQualityRecords(rig.receiver, legs, { labelsOf, reportsSeenFromMidCall: true });
  });
});
