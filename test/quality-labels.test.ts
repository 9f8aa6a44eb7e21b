// Leg labels (SPEC §3) from channel events and FreeSWITCH lookups: the real samples (the
// libresbc A-leg then its B-leg, the cgrates G722 rate), refinement across CREATE / ANSWER /
// BRIDGE, the precedence rules, and the lookup forms.

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { JsonEvent, PlainEvent } from "../src/esl/event.js";
import { jsonEventBody } from "../src/esl/wire.js";
import { foldRtcp } from "../src/legs/fold-rtcp.js";
import {
  callOf,
  emptyLeg,
  legAtHangup,
  legFromChannelEvent,
  legFromLookup,
  legWithALeg,
} from "../src/quality/labels.js";
import { computeRtcp } from "../src/quality/rtcp.js";
import type { LegState, Unusable } from "../src/quality/types.js";
import { isUnusable, UNUSABLE_REASONS } from "../src/quality/unusable.js";
import { plainEvents } from "./support/raw-esl.js";
import {
  cgratesFrame,
  eventFrom,
  libresbcFrame,
  libresbcHeaders,
  SAMPLES,
  toEvent,
  webitelFrame,
} from "./support/samples.js";

function ok(result: LegState | Unusable): LegState {
  if (isUnusable(result)) assert.fail(`unexpectedly unusable: ${result.unusable}`);
  return result;
}

const A_UUID = "88b4673b-ad2c-4e8b-8fd6-4ad10aeb9ab0";
const B_UUID = "b1072f22-cdab-42c2-bea1-a3f3730098e5";
const A_CALL_ID = "3ce07fec6b701b334dddaf8f35c388c5@13.228.87.44:5060";

const aLegEvent = () => eventFrom(libresbcFrame(SAMPLES.libresbcALeg));
const bLegEvent = () => eventFrom(libresbcFrame(SAMPLES.libresbcBLeg));

/** Fresh state of a leg: no RTCP, not reported. */
function fresh(
  fields: Omit<
    LegState,
    | "inbound"
    | "outbound"
    | "videoSsrcs"
    | "jitterSumMs"
    | "jitterCount"
    | "farEndLost"
    | "qosReported"
    | "rtcpIn"
    | "rtcpOut"
  >,
): LegState {
  return {
    ...fields,
    inbound: [],
    outbound: [],
    videoSsrcs: [],
    jitterSumMs: 0,
    jitterCount: 0,
    farEndLost: 0,
    qosReported: false,
    rtcpIn: null,
    rtcpOut: null,
  };
}

describe("the libresbc call: A-leg, then its B-leg", () => {
  it("A-leg (inbound opus): its own SIP Call-ID, domain_name and media IPs", () => {
    assert.deepEqual(
      ok(legFromChannelEvent(aLegEvent(), undefined, undefined)),
      fresh({
        uuid: A_UUID,
        callUuid: A_UUID, // Channel-Call-UUID = Unique-ID: the A-leg
        sipCallId: A_CALL_ID,
        ownDomain: "outside.libresbc",
        labels: {
          channelId: A_UUID,
          correlationId: A_CALL_ID,
          domainName: "outside.libresbc", // variable_domain_name beats sip_from_host 13.228.87.44
          callDirection: "inbound",
          codecName: "opus",
          srcIp: "13.228.87.44", // variable_remote_media_ip
          dstIp: "188.166.185.82", // variable_local_media_ip
        },
        rtpRate: 48000, // variable_rtp_use_codec_rate
        labelSource: "event",
      }),
    );
  });

  it("B-leg (outbound PCMA) after the A-leg: inherits the A-leg's correlation_id and domain", () => {
    const a = ok(legFromChannelEvent(aLegEvent(), undefined, undefined));
    assert.deepEqual(
      ok(legFromChannelEvent(bLegEvent(), undefined, a)),
      fresh({
        uuid: B_UUID,
        callUuid: A_UUID,
        sipCallId: "a69096bb-3551-123a-2e8c-ea0e9328da5f", // its own, kept but not the label
        ownDomain: "", // none: inherited
        labels: {
          channelId: B_UUID,
          correlationId: A_CALL_ID, // the A-leg's SIP Call-ID
          // no variable_domain_name of its own: the A-leg's, not its sip_from_host
          // 188.166.185.82 (FreeSWITCH's own address) nor sip_to_host 13.228.87.44
          domainName: "outside.libresbc",
          callDirection: "outbound",
          codecName: "PCMA",
          srcIp: "13.228.87.44",
          dstIp: "188.166.185.82",
        },
        rtpRate: 8000,
        labelSource: "event",
      }),
    );
  });

  it("B-leg with its A-leg unknown: the call UUID, and its own from-host as domain", () => {
    const b = ok(legFromChannelEvent(bLegEvent(), undefined, undefined));
    assert.equal(b.labels.correlationId, A_UUID); // Channel-Call-UUID
    assert.equal(b.labels.domainName, "188.166.185.82"); // variable_sip_from_host
    // Once the A-leg is known, a later event of the B-leg takes the A-leg's values...
    const a = ok(legFromChannelEvent(aLegEvent(), undefined, undefined));
    const later = ok(legFromChannelEvent(bLegEvent(), b, a));
    assert.equal(later.labels.correlationId, A_CALL_ID);
    assert.equal(later.labels.domainName, "outside.libresbc");
    // ...and keeps them when the A-leg's state is gone again (A destroyed first).
    const afterA = ok(legFromChannelEvent(bLegEvent(), later, undefined));
    assert.equal(afterA.labels.correlationId, A_CALL_ID);
    assert.equal(afterA.labels.domainName, "outside.libresbc");
    assert.equal(afterA.labels, later.labels, "unchanged labels: the same object");
  });

  it("an aLeg argument that is not this call's A-leg is ignored", () => {
    const other = ok(legFromChannelEvent(eventFrom(webitelFrame()), undefined, undefined));
    const b = ok(legFromChannelEvent(bLegEvent(), undefined, other));
    assert.equal(b.labels.correlationId, A_UUID);
    assert.equal(b.labels.domainName, "188.166.185.82");
    // and an A-leg never inherits from anything
    const a = ok(legFromChannelEvent(aLegEvent(), undefined, other));
    assert.equal(a.labels.correlationId, A_CALL_ID);
  });
});

describe("the other samples", () => {
  it("cgrates G722: rtp_use_codec_rate 8000 (the RTP clock), not Channel-Read-Codec-Rate 16000", () => {
    const leg = ok(
      legFromChannelEvent(eventFrom(cgratesFrame(SAMPLES.cgratesG722)), undefined, undefined),
    );
    assert.equal(leg.rtpRate, 8000);
    assert.equal(leg.labels.codecName, "G722");
    assert.equal(leg.labels.correlationId, "985e365faa0ec79a7fa75d001ef2449f@0:0:0:0:0:0:0:0");
    assert.equal(leg.labels.domainName, "192.168.56.202");
    assert.equal(leg.labels.srcIp, "192.168.56.1");
    assert.equal(leg.labels.dstIp, "192.168.56.202");
    assert.equal(leg.labels.callDirection, "", "the 2018 sample has no Call-Direction header");
  });

  it("G722 with only Channel-Read-Codec-Rate 16000: still the 8000 RTP clock", () => {
    const leg = ok(
      legFromChannelEvent(
        toEvent([
          ["Unique-ID", "g"],
          ["Channel-Read-Codec-Name", "G722"],
          ["Channel-Read-Codec-Rate", "16000"],
        ]),
        undefined,
        undefined,
      ),
    );
    assert.equal(leg.rtpRate, 8000);
    assert.equal(leg.labels.codecName, "G722");
  });

  it("cgrates SPEEX: sip_call_id, domain_name, 32000", () => {
    const leg = ok(
      legFromChannelEvent(eventFrom(cgratesFrame(SAMPLES.cgratesSpeex)), undefined, undefined),
    );
    assert.equal(leg.labels.correlationId, "r3xaJ8CLpyTAIHWUZG7gtZQYgAPEGf9S");
    assert.equal(leg.labels.domainName, "cgrates.org");
    assert.equal(leg.labels.codecName, "SPEEX");
    assert.equal(leg.rtpRate, 32000);
  });

  it("webitel CHANNEL_DESTROY of a leg never seen", () => {
    const leg = ok(legFromChannelEvent(eventFrom(webitelFrame()), undefined, undefined));
    assert.deepEqual(leg.labels, {
      channelId: "45d52500-06bd-4cd1-b0d0-ddcf18c7105c",
      correlationId: "1479889331@10.10.10.107",
      domainName: "demo.webitel.com",
      callDirection: "inbound",
      codecName: "PCMU",
      srcIp: "10.10.10.107",
      dstIp: "194.44.1.1",
    });
    assert.equal(leg.rtpRate, 8000);
  });

  it("a text/event-json event gives the same leg as the plain one", () => {
    const headers = libresbcHeaders(SAMPLES.libresbcALeg);
    const json = JsonEvent.parse(jsonEventBody(headers));
    assert.ok(json !== undefined);
    assert.deepEqual(
      ok(legFromChannelEvent(json, undefined, undefined)),
      ok(legFromChannelEvent(aLegEvent(), undefined, undefined)),
    );
  });
});

describe("refinement across a leg's events", () => {
  const CALL = "c0ffee00-0000-4000-8000-000000000001";
  const create = toEvent([
    ["Event-Name", "CHANNEL_CREATE"],
    ["Unique-ID", CALL],
    ["Call-Direction", "inbound"],
    ["Channel-Call-UUID", CALL],
    ["variable_sip_call_id", "abc@192.0.2.1"],
    ["variable_sip_from_host", "tenant.example"],
    ["variable_sip_to_host", "192.0.2.10"],
  ]);
  const answer = toEvent([
    ["Event-Name", "CHANNEL_ANSWER"],
    ["Unique-ID", CALL],
    ["Call-Direction", "inbound"],
    ["Channel-Call-UUID", CALL],
    ["Channel-Read-Codec-Name", "PCMU"],
    ["Channel-Read-Codec-Rate", "8000"],
    ["variable_sip_call_id", "abc@192.0.2.1"],
    ["variable_domain_name", "tenant.example.com"],
    ["variable_sip_from_host", "tenant.example"],
    ["variable_rtp_use_codec_name", "PCMU"],
    ["variable_rtp_use_codec_rate", "8000"],
    ["variable_remote_media_ip", "198.51.100.7"],
    ["variable_local_media_ip", "192.0.2.10"],
  ]);
  /** Values present but empty (`_undef_` on the wire), others absent. */
  const bridgeEmpty = toEvent([
    ["Event-Name", "CHANNEL_BRIDGE"],
    ["Unique-ID", CALL],
    ["Call-Direction", ""],
    ["Channel-Call-UUID", ""],
    ["variable_sip_call_id", ""],
    ["variable_domain_name", ""],
    ["variable_rtp_use_codec_name", ""],
    ["variable_rtp_use_codec_rate", ""],
    ["variable_remote_media_ip", ""],
  ]);

  it("CREATE lacks codec and media IPs; ANSWER brings them; empty values never erase them", () => {
    const created = ok(legFromChannelEvent(create, undefined, undefined));
    assert.deepEqual(created.labels, {
      channelId: CALL,
      correlationId: "abc@192.0.2.1",
      domainName: "tenant.example", // no domain_name yet: sip_from_host
      callDirection: "inbound",
      codecName: "",
      srcIp: "",
      dstIp: "",
    });
    assert.equal(created.rtpRate, 0);

    const answered = ok(legFromChannelEvent(answer, created, undefined));
    assert.deepEqual(answered.labels, {
      channelId: CALL,
      correlationId: "abc@192.0.2.1",
      domainName: "tenant.example.com", // its own domain_name now
      callDirection: "inbound",
      codecName: "PCMU",
      srcIp: "198.51.100.7",
      dstIp: "192.0.2.10",
    });
    assert.equal(answered.rtpRate, 8000);

    const bridged = ok(legFromChannelEvent(bridgeEmpty, answered, undefined));
    assert.equal(bridged.labels, answered.labels, "nothing changed: the same labels object");
    assert.equal(bridged.callUuid, CALL);
    assert.equal(bridged.sipCallId, "abc@192.0.2.1");
    assert.equal(bridged.rtpRate, 8000);
  });

  it("RTCP baselines, jitter history, far-end loss and the QoS flag survive channel events", () => {
    const answered = ok(legFromChannelEvent(answer, undefined, undefined));
    const report = toEvent([
      ["Event-Name", "RECV_RTCP_MESSAGE"],
      ["Unique-ID", CALL],
      ["RTP-Rate", "8000"],
      ["Source0-SSRC", "0a0b0c0d"],
      ["Source0-Fraction", "0"],
      ["Source0-Lost", "4"],
      ["Source0-Jitter", "80"],
    ]);
    const r = computeRtcp(report, answered);
    assert.ok(!isUnusable(r));
    foldRtcp(r);
    const withRtcp: LegState = { ...r.leg, qosReported: true };
    const bridged = ok(legFromChannelEvent(bridgeEmpty, withRtcp, undefined));
    assert.deepEqual(bridged.inbound, [{ ssrc: "0a0b0c0d", lastLost: 4 }]);
    assert.equal(bridged.inbound, withRtcp.inbound);
    assert.deepEqual(bridged.outbound, []);
    assert.equal(bridged.jitterSumMs, 10);
    assert.equal(bridged.jitterCount, 1);
    assert.equal(bridged.farEndLost, 4);
    assert.equal(bridged.qosReported, true);
  });

  it("a rate a RECV report taught the leg beats a later codec sampling rate", () => {
    const known: LegState = { ...emptyLeg("o"), rtpRate: 48000 };
    const leg = ok(
      legFromChannelEvent(
        toEvent([
          ["Unique-ID", "o"],
          ["Channel-Read-Codec-Name", "L16"],
          ["Channel-Read-Codec-Rate", "16000"],
        ]),
        known,
        undefined,
      ),
    );
    assert.equal(leg.rtpRate, 48000);
    // but variable_rtp_use_codec_rate (the SDP's RTP clock) is authoritative
    const renegotiated = ok(
      legFromChannelEvent(
        toEvent([
          ["Unique-ID", "o"],
          ["variable_rtp_use_codec_rate", "8000"],
        ]),
        known,
        undefined,
      ),
    );
    assert.equal(renegotiated.rtpRate, 8000);
  });

  it("a partial leg (RTCP first) becomes a labelled one, keeping its RTCP state", () => {
    const partial: LegState = {
      ...emptyLeg(CALL),
      rtpRate: 8000,
      inbound: [{ ssrc: "0a0b0c0d", lastLost: 2 }],
      jitterSumMs: 7,
      jitterCount: 1,
      farEndLost: 2,
    };
    const leg = ok(legFromChannelEvent(answer, partial, undefined));
    assert.equal(leg.labelSource, "event");
    assert.equal(leg.labels.correlationId, "abc@192.0.2.1");
    assert.equal(leg.inbound, partial.inbound);
    assert.equal(leg.jitterSumMs, 7);
    assert.equal(leg.farEndLost, 2);
  });
});

describe("precedence rules", () => {
  const A = "a0000000-0000-4000-8000-00000000000a";
  const B = "b0000000-0000-4000-8000-00000000000b";
  const leg = (headers: Array<[string, string]>, known?: LegState, aLeg?: LegState) =>
    ok(
      legFromChannelEvent(
        toEvent([["Unique-ID", headers[0]![1]], ...headers.slice(1)]),
        known,
        aLeg,
      ),
    );

  it("domain: own domain_name, else sip_from_host, else sip_to_host (an A-leg)", () => {
    const base: Array<[string, string]> = [
      ["Unique-ID", A],
      ["Channel-Call-UUID", A],
    ];
    assert.equal(
      leg([
        ...base,
        ["variable_domain_name", "d"],
        ["variable_sip_from_host", "f"],
        ["variable_sip_to_host", "t"],
      ]).labels.domainName,
      "d",
    );
    assert.equal(
      leg([...base, ["variable_sip_from_host", "f"], ["variable_sip_to_host", "t"]]).labels
        .domainName,
      "f",
    );
    assert.equal(leg([...base, ["variable_sip_to_host", "t"]]).labels.domainName, "t");
    assert.equal(leg(base).labels.domainName, "");
  });

  it("domain of a B-leg: own domain_name, else the A-leg's, else its from/to hosts", () => {
    const a = leg([
      ["Unique-ID", A],
      ["Channel-Call-UUID", A],
      ["variable_sip_from_host", "caller.example"], // the A-leg's domain from its from-host
    ]);
    assert.equal(a.labels.domainName, "caller.example");
    const b: Array<[string, string]> = [
      ["Unique-ID", B],
      ["Channel-Call-UUID", A],
      ["variable_sip_from_host", "fs.local"],
      ["variable_sip_to_host", "carrier.example"],
    ];
    assert.equal(leg(b, undefined, a).labels.domainName, "caller.example");
    assert.equal(
      leg([...b, ["variable_domain_name", "own.example"]], undefined, a).labels.domainName,
      "own.example",
    );
    const aWithout = leg([
      ["Unique-ID", A],
      ["Channel-Call-UUID", A],
    ]);
    assert.equal(leg(b, undefined, aWithout).labels.domainName, "fs.local");
  });

  it("correlation_id: an A-leg without a SIP Call-ID uses the call UUID", () => {
    const a = leg([
      ["Unique-ID", A],
      ["Channel-Call-UUID", A],
    ]);
    assert.equal(a.labels.correlationId, A);
    const b = leg(
      [
        ["Unique-ID", B],
        ["Channel-Call-UUID", A],
        ["variable_sip_call_id", "b-own@x"],
      ],
      undefined,
      a,
    );
    assert.equal(b.labels.correlationId, A, "every leg of the call shares it");
    assert.equal(b.sipCallId, "b-own@x");
  });

  it("correlation_id: without Channel-Call-UUID a leg stands for its own call", () => {
    const withCallId = leg([
      ["Unique-ID", B],
      ["variable_sip_call_id", "own@x"],
    ]);
    assert.equal(withCallId.labels.correlationId, "own@x");
    assert.equal(withCallId.callUuid, "");
    assert.equal(leg([["Unique-ID", B]]).labels.correlationId, B);
  });

  it("a B-leg known only partially gets the call UUID, not its own placeholder", () => {
    const b = leg(
      [
        ["Unique-ID", B],
        ["Channel-Call-UUID", A],
      ],
      emptyLeg(B),
    );
    assert.equal(b.labels.correlationId, A);
  });

  it("missing or empty Unique-ID: missing_unique_id", () => {
    for (const headers of [
      [["Event-Name", "CHANNEL_CREATE"]],
      [
        ["Event-Name", "CHANNEL_CREATE"],
        ["Unique-ID", ""],
      ],
    ] as Array<Array<[string, string]>>) {
      const r = legFromChannelEvent(toEvent(headers), undefined, undefined);
      assert.ok(isUnusable(r));
      assert.equal(r.unusable, UNUSABLE_REASONS.missingUniqueId);
    }
  });
});

describe("legs looked up on FreeSWITCH", () => {
  it("uuid_dump json (the channel's headers as a flat object): the same leg, source lookup", () => {
    const a = ok(legFromChannelEvent(aLegEvent(), undefined, undefined));
    const dump = Object.fromEntries(libresbcHeaders(SAMPLES.libresbcBLeg));
    const fromDump = ok(legFromLookup(dump, undefined, a));
    const fromEvent = ok(legFromChannelEvent(bLegEvent(), undefined, a));
    assert.deepEqual(fromDump, { ...fromEvent, labelSource: "lookup" });
  });

  it("a show channels row: uuid, direction, call_uuid, read_codec, read_rate", () => {
    const row = {
      uuid: B_UUID,
      direction: "outbound",
      created: "2021-05-22 03:35:26",
      created_epoch: "1621654526",
      name: "sofia/external/33123456789@13.228.87.44",
      read_codec: "G722",
      read_rate: "16000",
      write_codec: "G722",
      write_rate: "16000",
      call_uuid: A_UUID,
      ip_addr: "13.228.87.44",
    };
    const a = ok(legFromChannelEvent(aLegEvent(), undefined, undefined));
    assert.deepEqual(
      ok(legFromLookup(row, undefined, a)),
      fresh({
        uuid: B_UUID,
        callUuid: A_UUID,
        sipCallId: "",
        ownDomain: "",
        labels: {
          channelId: B_UUID,
          correlationId: A_CALL_ID, // from the A-leg's state
          domainName: "outside.libresbc", // inherited: the row has no domain
          callDirection: "outbound",
          codecName: "G722",
          srcIp: "", // no media IPs in a show channels row
          dstIp: "",
        },
        rtpRate: 8000, // G722's RTP clock, not read_rate 16000
        labelSource: "lookup",
      }),
    );
    const alone = ok(legFromLookup(row, undefined, undefined));
    assert.equal(alone.labels.correlationId, A_UUID);
    assert.equal(alone.labels.domainName, "");
  });

  it("a partial leg upgraded by a lookup keeps its RTCP state; an event-labelled one stays event", () => {
    const partial: LegState = {
      ...emptyLeg(B_UUID),
      outbound: [{ ssrc: "01020304", lastLost: 1 }],
      jitterSumMs: 3,
      jitterCount: 1,
    };
    const looked = ok(
      legFromLookup(
        { uuid: B_UUID, call_uuid: A_UUID, read_codec: "PCMA", read_rate: "8000" },
        partial,
        undefined,
      ),
    );
    assert.equal(looked.labelSource, "lookup");
    assert.equal(looked.outbound, partial.outbound);
    assert.equal(looked.jitterSumMs, 3);
    assert.equal(looked.rtpRate, 8000);
    assert.equal(looked.labels.correlationId, A_UUID);
    const byEvent = ok(legFromChannelEvent(bLegEvent(), undefined, undefined));
    assert.equal(ok(legFromLookup({ uuid: B_UUID }, byEvent, undefined)).labelSource, "event");
  });

  it("only own string (or number) fields count; no uuid is missing_unique_id", () => {
    const parsed = JSON.parse(
      '{"uuid":"u1","read_rate":8000,"read_codec":null,"direction":{}}',
    ) as Record<string, unknown>;
    const leg = ok(legFromLookup(parsed, undefined, undefined));
    assert.equal(leg.rtpRate, 8000);
    assert.equal(leg.labels.codecName, "");
    assert.equal(leg.labels.callDirection, "");
    assert.equal(leg.labels.correlationId, "u1");
    // "constructor" and "toString" are inherited by every object: never read as fields
    const r = legFromLookup(JSON.parse("{}") as Record<string, unknown>, undefined, undefined);
    assert.ok(isUnusable(r));
    assert.equal(r.unusable, UNUSABLE_REASONS.missingUniqueId);
  });
});

describe("emptyLeg", () => {
  it("channel_id and correlation_id are the uuid, every other label empty", () => {
    assert.deepEqual(emptyLeg("u9"), {
      uuid: "u9",
      callUuid: "",
      sipCallId: "",
      ownDomain: "",
      labels: {
        channelId: "u9",
        correlationId: "u9",
        domainName: "",
        callDirection: "",
        codecName: "",
        srcIp: "",
        dstIp: "",
      },
      rtpRate: 0,
      inbound: [],
      outbound: [],
      videoSsrcs: [],
      jitterSumMs: 0,
      jitterCount: 0,
      farEndLost: 0,
      rtcpIn: null,
      rtcpOut: null,
      qosReported: false,
      labelSource: "partial",
    });
  });
});

describe("hangup events never move a leg to another call (SPEC §3)", () => {
  // capture-netem-plain: FreeSWITCH unbridged this B-leg before its hangup, so its
  // CHANNEL_HANGUP_COMPLETE names the leg itself as Channel-Call-UUID; CREATE named the A-leg.
  const events = plainEvents(
    readFileSync(new URL("./fixtures/freeswitch-1.11/capture-netem-plain.esl", import.meta.url)),
  );
  const created = events.filter((e) => e.name === "CHANNEL_CREATE");
  const bLegCreate = created.find((e) => {
    const uuid = e.get("Unique-ID");
    const hangup = events.find(
      (h) => h.name === "CHANNEL_HANGUP_COMPLETE" && h.get("Unique-ID") === uuid,
    );
    return e.get("Channel-Call-UUID") !== uuid && hangup?.get("Channel-Call-UUID") === uuid;
  });
  assert.ok(bLegCreate !== undefined, "the capture has such a B-leg");
  const bUuid = bLegCreate.get("Unique-ID")!;
  const aUuid = bLegCreate.get("Channel-Call-UUID")!;
  const of = (name: string, uuid: string) =>
    new PlainEvent(events.find((e) => e.name === name && e.get("Unique-ID") === uuid)!.raw);

  it("the B-leg keeps its A-leg's call and correlation_id at CHANNEL_HANGUP_COMPLETE and DESTROY", () => {
    const aLeg = ok(legFromChannelEvent(of("CHANNEL_CREATE", aUuid), undefined, undefined));
    const aSipCallId = of("CHANNEL_CREATE", aUuid).get("variable_sip_call_id");
    assert.ok(aSipCallId, "the A-leg has a SIP Call-ID from its CREATE");
    let bLeg = ok(legFromChannelEvent(of("CHANNEL_CREATE", bUuid), undefined, aLeg));
    bLeg = ok(legFromChannelEvent(of("CHANNEL_ANSWER", bUuid), bLeg, aLeg));
    assert.equal(bLeg.callUuid, aUuid);
    assert.equal(bLeg.labels.correlationId, aSipCallId);
    for (const name of ["CHANNEL_HANGUP_COMPLETE", "CHANNEL_DESTROY"]) {
      const hangup = of(name, bUuid);
      assert.equal(hangup.get("Channel-Call-UUID"), bUuid, `${name} names the leg itself`);
      assert.equal(callOf(bLeg, hangup.get("Channel-Call-UUID"), true), aUuid);
      // Whether the A-leg is still known or already gone.
      for (const a of [aLeg, undefined]) {
        const ended = ok(legAtHangup(hangup, bLeg, a));
        assert.equal(ended.callUuid, aUuid, name);
        assert.equal(ended.labels.correlationId, aSipCallId, name);
        assert.equal(ended.labels.codecName, hangup.get("variable_rtp_use_codec_name"));
      }
      // The old rule, for contrast: the event alone re-parents the leg to itself.
      assert.notEqual(
        ok(legFromChannelEvent(hangup, bLeg, undefined)).labels.correlationId,
        aSipCallId,
      );
    }
  });

  it("a leg known nowhere, or only from a report, takes its call from the hangup event", () => {
    const hangup = of("CHANNEL_HANGUP_COMPLETE", bUuid);
    assert.equal(callOf(undefined, bUuid, true), bUuid);
    assert.equal(callOf(emptyLeg(bUuid), bUuid, true), bUuid);
    assert.equal(ok(legAtHangup(hangup, undefined, undefined)).callUuid, bUuid);
  });
});

describe("a B-leg inherits what its A-leg learns later (legWithALeg)", () => {
  const aLeg = ok(legFromChannelEvent(aLegEvent(), undefined, undefined));
  // The A-leg as it was at the B-leg's CREATE: no domain_name yet (a dialplan sets it later).
  const aEarly: LegState = {
    ...aLeg,
    ownDomain: "",
    labels: { ...aLeg.labels, domainName: "13.228.87.44" },
  };

  it("takes the A-leg's domain learnt after the B-leg's channel events", () => {
    const b = ok(legFromChannelEvent(bLegEvent(), undefined, aEarly));
    assert.equal(b.labels.domainName, "13.228.87.44");
    const refreshed = legWithALeg(b, aLeg);
    assert.equal(refreshed.labels.domainName, "outside.libresbc");
    assert.equal(refreshed.labels.correlationId, A_CALL_ID);
    assert.deepEqual({ ...refreshed, labels: b.labels }, b, "only the labels change");
  });

  it("keeps a B-leg's own domain_name, and returns the same state when nothing changes", () => {
    const own = ok(
      legFromChannelEvent(
        toEvent([...libresbcHeaders(SAMPLES.libresbcBLeg), ["variable_domain_name", "b.example"]]),
        undefined,
        aEarly,
      ),
    );
    assert.equal(own.labels.domainName, "b.example");
    assert.equal(legWithALeg(own, aLeg), own);
    const b = ok(legFromChannelEvent(bLegEvent(), undefined, aLeg));
    assert.equal(legWithALeg(b, aLeg), b);
  });

  it("ignores a leg that is not the A-leg's B-leg", () => {
    const other = { ...aLeg, uuid: "someone-else" };
    const b = ok(legFromChannelEvent(bLegEvent(), undefined, aEarly));
    assert.equal(legWithALeg(b, other), b);
    assert.equal(legWithALeg(emptyLeg(B_UUID), aLeg).labelSource, "partial");
  });
});
