import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { eventFromFrame, JsonEvent, PlainEvent } from "../src/esl/event.js";
import { ContentType, Frame } from "../src/esl/frame.js";
import { HeaderBlock, HeaderIndex } from "../src/esl/headers.js";
import { eventFrame, type Headers, jsonEventBody, plainEventBody } from "../src/esl/wire.js";
import {
  cgratesFrame,
  eventFrom,
  jsonCdrFrame,
  libresbcFrame,
  libresbcHeaders,
  parseStream,
  readSample,
  SAMPLES,
  webitelFrame,
  webitelHeaders,
} from "./support/samples.js";

/** Naive decoder for the reference: every %XX of hex digits, then UTF-8. */
function naiveDecode(value: string): string {
  const bytes: number[] = [];
  for (let i = 0; i < value.length; i++) {
    if (value[i] === "%" && /^[0-9A-Fa-f]{2}$/.test(value.slice(i + 1, i + 3))) {
      bytes.push(Number.parseInt(value.slice(i + 1, i + 3), 16));
      i += 2;
    } else {
      bytes.push(...Buffer.from(value[i]!, "utf8"));
    }
  }
  return Buffer.from(bytes).toString("utf8");
}

/** Naive reading of a plain body's `Name: value` lines (split at the first ": "). */
function naiveLines(text: string): Array<[string, string]> {
  return text
    .split("\n")
    .filter((line) => line.includes(": "))
    .map((line) => {
      const at = line.indexOf(": ");
      return [line.slice(0, at), naiveDecode(line.slice(at + 2))];
    });
}

/** What HeaderBlock.get must return for `name`: the first value, `_undef_` and empty as "". */
function expectedValue(headers: Headers, name: string): string | undefined {
  const found = headers.find(([n]) => n === name);
  if (found === undefined) return undefined;
  return found[1] === "_undef_" ? "" : found[1];
}

function expectedEntries(headers: Headers): Array<[string, string]> {
  return headers.map(([n, v]) => [n, v === "_undef_" ? "" : v]);
}

describe("events from the cgrates samples (text/event-plain bodies)", () => {
  it("2015 SPEEX CHANNEL_HANGUP_COMPLETE", () => {
    const e = eventFrom(cgratesFrame(SAMPLES.cgratesSpeex));
    assert.ok(e instanceof PlainEvent);
    assert.equal(e.name, "CHANNEL_HANGUP_COMPLETE");
    assert.equal(e.get("Event-Name"), "CHANNEL_HANGUP_COMPLETE");
    assert.equal(e.get("variable_Event-Name"), "REQUEST_PARAMS");
    assert.equal(e.get("Core-UUID"), "651a8db2-4f67-4cf8-b622-169e8a482e50");
    assert.equal(e.get("Unique-ID"), "e3133bf7-dcde-4daf-9663-9a79ffcef5ad");
    assert.equal(e.get("Channel-Call-UUID"), "e3133bf7-dcde-4daf-9663-9a79ffcef5ad");
    assert.equal(e.get("Other-Leg-Unique-ID"), "0a30dd7c-c222-482f-a322-b1218a15f8cd");
    assert.equal(e.get("FreeSWITCH-IPv6"), "::1"); // %3A%3A1
    assert.equal(e.get("Event-Date-Local"), "2015-07-07 16:53:14"); // %20, %3A
    assert.equal(e.get("Event-Date-GMT"), "Tue, 07 Jul 2015 14:53:14 GMT");
    assert.equal(e.get("Channel-Read-Codec-Name"), "SPEEX");
    assert.equal(e.get("Channel-Read-Codec-Rate"), "32000");
    assert.equal(e.get("variable_rtp_use_codec_name"), "SPEEX");
    assert.equal(e.get("variable_rtp_use_codec_rate"), "32000");
    assert.equal(e.get("variable_rtp_audio_in_mos"), "4.50");
    assert.equal(e.get("variable_rtp_audio_in_flaw_total"), "0");
    assert.equal(e.get("variable_rtp_audio_in_skip_packet_count"), "6");
    assert.equal(e.get("variable_rtp_audio_in_quality_percentage"), "100.00");
    assert.equal(e.get("variable_rtp_audio_rtcp_packet_count"), "1450");
    assert.equal(e.get("variable_rtp_audio_rtcp_octet_count"), "45940");
    assert.equal(e.get("variable_sip_call_id"), "r3xaJ8CLpyTAIHWUZG7gtZQYgAPEGf9S");
    assert.equal(e.get("variable_domain_name"), "cgrates.org");
    assert.equal(
      e.get("variable_sip_full_from"),
      "sip:1001@127.0.0.1;tag=YwuG8U3rRbqIn.xYTnU8NrI3giyxDBHJ",
    );
    assert.equal(e.get("variable_ringback"), "%(2000,4000,440,480)"); // %25
    assert.ok(
      e
        .get("variable_switch_r_sdp")
        ?.startsWith("v=0\r\no=- 3645269528 3645269528 IN IP4 10.0.3.15\r\n"),
    );
    assert.equal(e.get("variable_rtp_audio_in_mos_x"), undefined);
    assert.equal(e.body, undefined);
    const text = readSample(SAMPLES.cgratesSpeex).toString("utf8");
    assert.deepEqual(e.entries(), naiveLines(text));
    assert.equal(e.entries().length, 303);
  });

  it("2018 G722 CHANNEL_HANGUP_COMPLETE with one flaw", () => {
    const e = eventFrom(cgratesFrame(SAMPLES.cgratesG722));
    assert.equal(e.name, "CHANNEL_HANGUP_COMPLETE");
    assert.equal(e.get("Core-UUID"), "63e2315b-d538-4dfa-9ed5-af73ba6210b6");
    assert.equal(e.get("Unique-ID"), "5a3a1d91-90d3-4db4-af5c-cc3ae15d93a4");
    assert.equal(e.get("Channel-Call-UUID"), "5a3a1d91-90d3-4db4-af5c-cc3ae15d93a4");
    assert.equal(e.get("Other-Leg-Unique-ID"), "9c1afb4f-1d4a-4e45-84a3-d25721981bf5");
    assert.equal(e.get("Channel-Read-Codec-Name"), "G722");
    assert.equal(e.get("Channel-Read-Codec-Rate"), "16000");
    assert.equal(e.get("variable_rtp_use_codec_name"), "G722");
    assert.equal(e.get("variable_rtp_use_codec_rate"), "8000");
    assert.equal(e.get("variable_rtp_audio_in_flaw_total"), "1");
    assert.equal(e.get("variable_rtp_audio_in_quality_percentage"), "99.00");
    assert.equal(e.get("variable_rtp_audio_in_mos"), "4.49");
    assert.equal(e.get("variable_rtp_audio_in_skip_packet_count"), "7");
    // %40 and %3A
    assert.equal(e.get("variable_sip_call_id"), "985e365faa0ec79a7fa75d001ef2449f@0:0:0:0:0:0:0:0");
    assert.equal(e.get("variable_sip_full_from"), '"1001" <sip:1001@192.168.56.202>;tag=df94d020');
    assert.equal(e.get("variable_domain_name"), "192.168.56.202");
    assert.equal(e.get("variable_remote_media_ip"), "192.168.56.1");
    assert.equal(e.get("variable_local_media_ip"), "192.168.56.202");
    assert.equal(e.get("variable_cgr_flags"), "*resources;*attributes;*sessions;*routes");
    const text = readSample(SAMPLES.cgratesG722).toString("utf8");
    assert.deepEqual(e.entries(), naiveLines(text));
  });

  it("the JSON CDR of the same call agrees with the plain event, variable by variable", () => {
    const cdr = eventFrom(jsonCdrFrame());
    assert.ok(cdr instanceof JsonEvent);
    assert.equal(cdr.name, "", "a CDR has no Event-Name");
    assert.equal(cdr.body, undefined);
    assert.equal(cdr.get("core-uuid"), "63e2315b-d538-4dfa-9ed5-af73ba6210b6");
    assert.equal(cdr.get("switchname"), "teo");
    assert.equal(cdr.get("Event-Name"), undefined);
    assert.deepEqual(
      cdr.entries().map(([k]) => k),
      ["core-uuid", "switchname", "channel_data", "callStats", "variables", "app_log", "callflow"],
    );

    const parsed: unknown = JSON.parse(readSample(SAMPLES.cgratesJsonCdr).toString("utf8"));
    assert.ok(typeof parsed === "object" && parsed !== null && "variables" in parsed);
    const variables = parsed.variables as Record<string, string>;
    // The `variables` object is a flat object of strings, like a text/event-json body.
    const vars = eventFrom(eventFrame(Buffer.from(JSON.stringify(variables)), "json"));
    const plain = eventFrom(cgratesFrame(SAMPLES.cgratesG722));
    let compared = 0;
    for (const [name, value] of Object.entries(variables)) {
      assert.equal(vars.get(name), value);
      if (name === "cgr_flags") continue; // rewritten by CGRateS between the two records
      assert.equal(plain.get(`variable_${name}`), value, name);
      compared++;
    }
    assert.equal(compared, 216);
    assert.equal(vars.get("rtp_audio_in_mos"), "4.49");
    assert.equal(vars.get("rtp_audio_in_flaw_total"), "1");
    assert.equal(vars.get("sip_call_id"), "985e365faa0ec79a7fa75d001ef2449f@0:0:0:0:0:0:0:0");
  });
});

describe("events from the decoded prints, URL-encoded into wire frames", () => {
  it("libresbc A-leg: opus, degraded (MOS 3.86)", () => {
    const e = eventFrom(libresbcFrame(SAMPLES.libresbcALeg));
    assert.equal(e.name, "CHANNEL_HANGUP_COMPLETE");
    assert.equal(e.get("Unique-ID"), "88b4673b-ad2c-4e8b-8fd6-4ad10aeb9ab0");
    assert.equal(e.get("Channel-Call-UUID"), "88b4673b-ad2c-4e8b-8fd6-4ad10aeb9ab0");
    assert.equal(e.get("Other-Leg-Unique-ID"), "b1072f22-cdab-42c2-bea1-a3f3730098e5");
    assert.equal(e.get("Call-Direction"), "inbound");
    assert.equal(e.get("Hangup-Cause"), "NORMAL_CLEARING");
    assert.equal(e.get("FreeSWITCH-IPv6"), "::1");
    assert.equal(e.get("Event-Date-GMT"), "Sat, 22 May 2021 03:35:56 GMT");
    assert.equal(e.get("Caller-Caller-ID-Name"), "Donald Trump");
    assert.equal(e.get("Channel-Read-Codec-Name"), "opus");
    assert.equal(e.get("Channel-Read-Codec-Rate"), "48000");
    assert.equal(e.get("variable_rtp_use_codec_name"), "opus");
    assert.equal(e.get("variable_rtp_use_codec_rate"), "48000");
    assert.equal(e.get("variable_rtp_audio_in_mos"), "3.86");
    assert.equal(e.get("variable_rtp_audio_in_flaw_total"), "12");
    assert.equal(e.get("variable_rtp_audio_in_skip_packet_count"), "62");
    assert.equal(e.get("variable_rtp_audio_in_quality_percentage"), "76.00");
    assert.equal(e.get("variable_rtp_audio_in_packet_count"), "134");
    assert.equal(
      e.get("variable_sip_call_id"),
      "3ce07fec6b701b334dddaf8f35c388c5@13.228.87.44:5060",
    );
    assert.equal(e.get("variable_domain_name"), "outside.libresbc");
    assert.equal(e.get("variable_remote_media_ip"), "13.228.87.44");
    assert.equal(e.get("variable_local_media_ip"), "188.166.185.82");
    assert.equal(
      e.get("variable_sip_full_from"),
      '"Donald Trump" <sip:33123456789@13.228.87.44>;tag=as5f8208c3',
    );
    // "variable_nolocal: sip_cid_type: none": the first of the repeated name, value keeps ": ".
    assert.equal(e.get("variable_nolocal"), "sip_cid_type: none");
    // The line the terminal wrapped is one value again.
    const exportVars = e.get("variable_export_vars") ?? "";
    assert.match(
      exportVars,
      /nolocal:origination_caller_id_name,nolocal:origination_caller_id_number,/,
    );
    assert.ok(exportVars.endsWith(",nolocal:X-LIBRE-INTCONNAME"));
    assert.doesNotMatch(exportVars, /\n/);
    // A multi-line value (SDP) survives the trip through %0A.
    const sdp = e.get("variable_switch_r_sdp") ?? "";
    assert.ok(sdp.startsWith("v=0\no=root 1198252565 1198252565 IN IP4 13.228.87.44\n"));
    assert.match(sdp, /\na=rtpmap:107 opus\/48000\/2\n/);
    assert.deepEqual(e.entries(), expectedEntries(libresbcHeaders(SAMPLES.libresbcALeg)));
  });

  it("libresbc B-leg: PCMA, Channel-Call-UUID is the A-leg's, no domain_name", () => {
    const e = eventFrom(libresbcFrame(SAMPLES.libresbcBLeg));
    assert.equal(e.name, "CHANNEL_HANGUP_COMPLETE");
    assert.equal(e.get("Unique-ID"), "b1072f22-cdab-42c2-bea1-a3f3730098e5");
    assert.equal(e.get("Channel-Call-UUID"), "88b4673b-ad2c-4e8b-8fd6-4ad10aeb9ab0");
    assert.equal(e.get("Other-Leg-Unique-ID"), "88b4673b-ad2c-4e8b-8fd6-4ad10aeb9ab0");
    assert.equal(e.get("Call-Direction"), "outbound");
    assert.equal(e.get("Caller-Logical-Direction"), "outbound"); // the line that carried [698/2075]
    assert.equal(e.get("Channel-Read-Codec-Name"), "PCMA");
    assert.equal(e.get("Channel-Read-Codec-Rate"), "8000");
    assert.equal(e.get("variable_rtp_use_codec_name"), "PCMA");
    assert.equal(e.get("variable_rtp_use_codec_rate"), "8000");
    assert.equal(e.get("variable_rtp_audio_in_mos"), "4.50");
    assert.equal(e.get("variable_rtp_audio_in_flaw_total"), "0");
    assert.equal(e.get("variable_rtp_audio_in_skip_packet_count"), "5");
    assert.equal(e.get("variable_sip_call_id"), "a69096bb-3551-123a-2e8c-ea0e9328da5f");
    assert.equal(e.get("variable_domain_name"), undefined);
    assert.equal(e.get("variable_remote_media_ip"), "13.228.87.44");
    assert.equal(e.get("variable_local_media_ip"), "188.166.185.82");
    assert.equal(e.get("variable_progress_media_epoch"), "0");

    // The print repeats the codec-name line (tmux redraw): the wire frame carries it once...
    const raw = readSample(SAMPLES.libresbcBLeg).toString("utf8");
    assert.equal(raw.match(/^variable_rtp_use_codec_name: PCMA/gm)?.length, 2);
    const headers = libresbcHeaders(SAMPLES.libresbcBLeg);
    assert.equal(headers.filter(([n]) => n === "variable_rtp_use_codec_name").length, 1);
    assert.equal(headers.filter(([n]) => n === "Other-Leg-Screen-Bit").length, 1);
    assert.equal(headers.filter(([n]) => n === "variable_progress_media_uepoch").length, 1);
    assert.deepEqual(e.entries(), expectedEntries(headers));
    const sdp = e.get("variable_rtp_local_sdp_str") ?? "";
    assert.equal(sdp.split("a=fmtp:101 0-16").length, 2, "the redrawn SDP line is not doubled");
    assert.ok(sdp.endsWith("a=silenceSupp:off - - - -\na=ptime:20\na=sendrecv\n"));

    // ...and had it been sent twice, with the artifact, the first occurrence would still win.
    const at = headers.findIndex(([n]) => n === "variable_rtp_use_codec_name");
    const doubled: Array<[string, string]> = [
      ...headers.slice(0, at + 1),
      ["variable_rtp_use_codec_name", "PCMA [523/2075]"],
      ...headers.slice(at + 1),
    ];
    assert.equal(
      eventFrom(eventFrame(plainEventBody(doubled))).get("variable_rtp_use_codec_name"),
      "PCMA",
    );
  });

  it("webitel CHANNEL_DESTROY: PCMU, decoded values carried through", () => {
    const e = eventFrom(webitelFrame());
    assert.equal(e.name, "CHANNEL_DESTROY");
    assert.equal(e.get("variable_Event-Name"), "REQUEST_PARAMS");
    assert.equal(e.get("Event-Date-Timestamp"), "1468572446707176");
    assert.equal(e.get("variable_Event-Date-Timestamp"), "1468572421527202");
    assert.equal(e.get("Unique-ID"), "45d52500-06bd-4cd1-b0d0-ddcf18c7105c");
    assert.equal(e.get("Channel-Call-UUID"), "45d52500-06bd-4cd1-b0d0-ddcf18c7105c");
    assert.equal(e.get("Other-Leg-Unique-ID"), "2af264d8-f7c0-48aa-ab32-e8d042463db0");
    assert.equal(e.get("FreeSWITCH-IPv6"), "2a00:fc00::1");
    assert.equal(e.get("Channel-Read-Codec-Name"), "PCMU");
    assert.equal(e.get("variable_rtp_use_codec_name"), "PCMU");
    assert.equal(e.get("variable_rtp_use_codec_rate"), "8000");
    assert.equal(e.get("variable_rtp_audio_in_mos"), "4.50");
    assert.equal(e.get("variable_rtp_audio_in_flaw_total"), "0");
    assert.equal(e.get("variable_rtp_audio_in_skip_packet_count"), "9");
    assert.equal(e.get("variable_rtp_audio_in_jitter_max_variance"), "400.00");
    assert.equal(e.get("variable_sip_call_id"), "1479889331@10.10.10.107");
    assert.equal(e.get("variable_domain_name"), "demo.webitel.com");
    assert.equal(
      e.get("variable_sip_full_from"),
      '"Igor" <sip:9999@demo.webitel.com:5070>;tag=3861088024',
    );
    assert.equal(e.get("variable_ringback"), "%(2000,4000,440,480)");
    assert.equal(e.get("variable_transfer_ringback"), "%(400,200,400,450);%(400,2000,400,450)");
    assert.equal(
      e.get("variable_originated_legs"),
      "ARRAY::2af264d8-f7c0-48aa-ab32-e8d042463db0;Outbound Call;100|:2af264d8-f7c0-48aa-ab32-e8d042463db0;Outbound Call;100",
    );
    assert.equal(
      e.get("variable_switch_r_sdp"),
      "v=0\no=- 20104 20105 IN IP4 10.10.10.107\ns=SDP data\nc=IN IP4 10.10.10.107\nt=0 0\n" +
        "a=sendrecv\nm=audio 11788 RTP/AVP 0 101\na=rtpmap:0 PCMU/8000\n" +
        "a=rtpmap:101 telephone-event/8000\na=fmtp:101 0-15\na=ptime:20\n",
    );
    assert.equal(e.get("variable_remote_media_ip"), "10.10.10.107");
    const headers = webitelHeaders();
    assert.equal(headers.length, 328);
    assert.deepEqual(e.entries(), expectedEntries(headers));
  });
});

describe("nested bodies (BACKGROUND_JOB)", () => {
  it("the 2008 sample: body `+OK <uuid>`, 40 bytes, headers stop before it", () => {
    // The published frame is one byte short of its outer Content-Length: complete it.
    const e = eventFrom(Buffer.concat([readSample(SAMPLES.backgroundJob), Buffer.from("\n")]));
    assert.equal(e.name, "BACKGROUND_JOB");
    assert.equal(e.body, "+OK 7f4de4bc-17d7-11dd-b7a0-db4edd065621");
    assert.equal(Buffer.byteLength(e.body ?? ""), 40);
    assert.equal(e.get("Content-Length"), "40");
    assert.equal(e.get("Job-UUID"), "7f4db78a-17d7-11dd-b7a0-db4edd065621");
    assert.equal(e.get("Job-Command"), "originate");
    assert.equal(e.get("Job-Command-Arg"), "sofia/default/1005 '&park'");
    assert.equal(e.get("Core-UUID"), "42bdf272-16e6-11dd-b7a0-db4edd065621");
    assert.equal(e.get("Event-Date-GMT"), "Thu, 01 May 2008 23:37:03 GMT");
    assert.equal(e.get("Event-Calling-Line-Number"), "609");
    // 2008 spelling; lookups are case-sensitive.
    assert.equal(e.get("Event-Date-timestamp"), "1209685023894968");
    assert.equal(e.get("Event-Date-Timestamp"), undefined);
    assert.equal(e.get("+OK 7f4de4bc-17d7-11dd-b7a0-db4edd065621"), undefined);
    assert.deepEqual(
      e.entries().map(([n]) => n),
      [
        "Job-UUID",
        "Job-Command",
        "Job-Command-Arg",
        "Event-Name",
        "Core-UUID",
        "FreeSWITCH-Hostname",
        "FreeSWITCH-IPv4",
        "FreeSWITCH-IPv6",
        "Event-Date-Local",
        "Event-Date-GMT",
        "Event-Date-timestamp",
        "Event-Calling-File",
        "Event-Calling-Function",
        "Event-Calling-Line-Number",
        "Content-Length",
      ],
    );
    // Re-framed with the right outer length, the event is the same.
    const sample = readSample(SAMPLES.backgroundJob);
    const inner = sample.subarray(sample.indexOf("\n\n") + 2);
    const reframed = eventFrom(eventFrame(inner));
    assert.equal(reframed.body, e.body);
    assert.deepEqual(reframed.entries(), e.entries());
  });

  it("header lookups never run into a body that looks like headers", () => {
    const headers: Array<[string, string]> = [
      ["Event-Name", "BACKGROUND_JOB"],
      ["Job-UUID", "7f4db78a-17d7-11dd-b7a0-db4edd065621"],
    ];
    for (const body of [
      "Unique-ID: fake\nEvent-Name: FAKE\nContent-Length: 99\n\nX",
      "\nUnique-ID: fake",
      "\n\nUnique-ID: fake\n",
      "Unique-ID: fake",
      "100% done %41 %zz",
      "résumé 中文 😀\n",
      "",
    ]) {
      const e = eventFrom(eventFrame(plainEventBody(headers, body)));
      assert.equal(e.name, "BACKGROUND_JOB", JSON.stringify(body));
      assert.equal(e.get("Unique-ID"), undefined);
      assert.equal(e.get("Job-UUID"), "7f4db78a-17d7-11dd-b7a0-db4edd065621");
      assert.equal(e.get("Content-Length"), String(Buffer.byteLength(body)));
      assert.equal(e.body, body === "" ? undefined : body, "bodies are not URL-decoded");
      assert.deepEqual(e.entries(), [
        ...headers,
        ["Content-Length", String(Buffer.byteLength(body))],
      ]);
    }
  });

  it("keeps any body exact and separate from any headers (fast-check)", () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.tuple(
            fc.stringMatching(/^[A-Za-z0-9_-]{1,10}$/),
            fc.string({ unit: "binary", maxLength: 12 }),
          ),
          {
            maxLength: 8,
          },
        ),
        fc.string({ unit: "binary", minLength: 1, maxLength: 60 }),
        (headers, body) => {
          const list: Array<[string, string]> = [["Event-Name", "BACKGROUND_JOB"], ...headers];
          const e = new PlainEvent(plainEventBody(list, body));
          assert.equal(e.body, body);
          assert.deepEqual(e.entries(), [
            ...expectedEntries(list),
            ["Content-Length", String(Buffer.byteLength(body))],
          ]);
          for (const line of body.split("\n")) {
            const name = line.split(": ")[0]!;
            if (!list.some(([n]) => n === name) && name !== "Content-Length") {
              assert.equal(e.get(name), undefined, name);
            }
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe("lazy header lookup vs a naive reference", () => {
  const TRICKY = [
    "Lost",
    "Source0-Lost",
    "Source1-Lost",
    "x",
    "variable_x",
    "X",
    "x_y",
    "Event-Name",
    "variable_Event-Name",
    "Event-Name-X",
    "Unique-ID",
    "Other-Leg-Unique-ID",
    "Content-Length",
    "a",
    "ab",
    "b",
    "-",
    "_",
  ];
  const name = fc.oneof(
    { weight: 2, arbitrary: fc.constantFrom(...TRICKY) },
    { weight: 3, arbitrary: fc.stringMatching(/^[A-Za-z0-9_-]{1,12}$/) },
  );
  const value = fc.oneof(
    fc.string({ unit: "binary", maxLength: 16 }),
    fc.string({
      unit: fc.constantFrom("%", ":", " ", "4", "1", "A", "z", "_", "\n", "\r"),
      maxLength: 12,
    }),
    fc.constantFrom(
      "",
      "_undef_",
      "_undef_x",
      "%",
      "%4",
      "%zz",
      "100%",
      "%41",
      ": ",
      "a: b",
      "\nLost: 9",
    ),
  );
  const headerList = fc.array(fc.tuple(name, value), { maxLength: 25 });

  /** Names worth probing for a list: the list's, the tricky ones, and their prefixes/suffixes. */
  function probes(headers: Headers): string[] {
    const set = new Set<string>(TRICKY);
    for (const [n] of headers) {
      set.add(n);
      if (n.length > 1) {
        set.add(n.slice(1));
        set.add(n.slice(0, -1));
      }
      set.add(`variable_${n}`);
    }
    return [...set];
  }

  it("PlainEvent.get and entries() agree with the list (fast-check)", () => {
    fc.assert(
      fc.property(headerList, (headers) => {
        const e = new PlainEvent(plainEventBody(headers));
        for (const probe of probes(headers)) {
          assert.equal(e.get(probe), expectedValue(headers, probe), probe);
          // has() answers without decoding, and agrees with get() ("_undef_" is present, "").
          assert.equal(e.has(probe), expectedValue(headers, probe) !== undefined, probe);
        }
        assert.deepEqual(e.entries(), expectedEntries(headers));
        assert.equal(e.name, expectedValue(headers, "Event-Name") ?? "");
        assert.equal(e.body, undefined);
      }),
      { numRuns: 400 },
    );
  });

  it("gives each of two events taking turns its own answers (one reader's shared line index)", () => {
    fc.assert(
      fc.property(headerList, headerList, (first, second) => {
        const index = new HeaderIndex(8);
        const a = new PlainEvent(plainEventBody(first), 0, undefined, index);
        const b = new PlainEvent(plainEventBody(second), 0, undefined, index);
        const names = [...new Set([...probes(first), ...probes(second)])];
        // Alternating lookups: each one finds the index built for the other event.
        for (const probe of names) {
          assert.equal(a.get(probe), expectedValue(first, probe), `a: ${probe}`);
          assert.equal(b.get(probe), expectedValue(second, probe), `b: ${probe}`);
        }
      }),
    );
  });

  it("indexes an event of more lines than the index first holds, its own or a reader's", () => {
    const headers: Headers = Array.from({ length: 1500 }, (_, i) => [`h${i}`, `v${i}`]);
    const body = plainEventBody(headers);
    for (const e of [new PlainEvent(body), new PlainEvent(body, 0, undefined, new HeaderIndex())]) {
      for (const i of [0, 1, 63, 64, 511, 512, 513, 1023, 1024, 1499]) {
        assert.equal(e.get(`h${i}`), `v${i}`);
      }
      assert.equal(e.get("h1500"), undefined);
    }
  });

  it("finds the last header with and without a trailing newline (fast-check)", () => {
    fc.assert(
      fc.property(
        headerList.filter((h) => h.length > 0),
        fc.constantFrom("\n\n", "\n", ""),
        (headers, tail) => {
          const full = plainEventBody(headers); // lines, then the blank line
          const bytes = Buffer.concat([full.subarray(0, full.length - 2), Buffer.from(tail)]);
          const e = new PlainEvent(bytes);
          for (const probe of probes(headers)) {
            assert.equal(e.get(probe), expectedValue(headers, probe), probe);
          }
          assert.deepEqual(e.entries(), expectedEntries(headers));
        },
      ),
      { numRuns: 200 },
    );
  });

  it("a HeaderBlock inside a larger buffer sees only its own lines (fast-check)", () => {
    fc.assert(
      fc.property(headerList, headerList, headerList, (before, headers, after) => {
        const lines = (list: Headers) => {
          const b = plainEventBody(list);
          return b.subarray(0, b.length - 1); // without the blank line
        };
        const head = lines(before);
        const own = lines(headers);
        const buf = Buffer.concat([head, own, lines(after)]);
        const block = new HeaderBlock(buf, head.length, head.length + own.length, true);
        for (const probe of probes([...before, ...headers, ...after])) {
          assert.equal(block.get(probe), expectedValue(headers, probe), probe);
          assert.equal(
            block.has(probe),
            headers.some(([n]) => n === probe),
            probe,
          );
        }
        assert.deepEqual(block.entries(), expectedEntries(headers));
      }),
      { numRuns: 200 },
    );
  });

  it("never matches a name that is a suffix or prefix of another header's name", () => {
    const cases: Array<[Headers, string, string | undefined]> = [
      [[["Source0-Lost", "7"]], "Lost", undefined],
      [
        [
          ["Source0-Lost", "7"],
          ["Lost", "1"],
        ],
        "Lost",
        "1",
      ],
      [
        [
          ["Lost", "1"],
          ["Source0-Lost", "7"],
        ],
        "Source0-Lost",
        "7",
      ],
      [[["variable_x", "v"]], "x", undefined],
      [
        [
          ["variable_x", "v"],
          ["x", "plain"],
        ],
        "x",
        "plain",
      ],
      [[["x_y", "1"]], "x", undefined],
      [[["x", "1"]], "x_y", undefined],
      [
        [
          ["Lost-X", "1"],
          ["Lost", "2"],
        ],
        "Lost",
        "2",
      ],
      [[["A", "B: c"]], "B", undefined],
      [[["A", "z\nB: injected"]], "B", undefined],
      [[["Event-Name", "CUSTOM"]], "Event-Name", "CUSTOM"],
      [[["Event-Name", "CUSTOM"]], "Event", undefined],
      [[["Event-Name", "CUSTOM"]], "vent-Name", undefined],
    ];
    for (const [headers, probe, expected] of cases) {
      assert.equal(
        new PlainEvent(plainEventBody(headers)).get(probe),
        expected,
        `${probe} in ${JSON.stringify(headers)}`,
      );
    }
  });

  it('maps _undef_ and empty values to "", keeps look-alikes', () => {
    const e = new PlainEvent(
      plainEventBody([
        ["Empty", ""],
        ["Undef", "_undef_"],
        ["Almost", "_undef_x"],
        ["Percent", "%5Fundef%5F"],
      ]),
    );
    assert.equal(e.get("Empty"), "");
    assert.equal(e.get("Undef"), "");
    assert.equal(e.get("Almost"), "_undef_x");
    assert.equal(e.get("Percent"), "%5Fundef%5F");
    assert.equal(new PlainEvent(Buffer.from("A: _undef_\nB: \n\n")).get("A"), "");
    assert.equal(new PlainEvent(Buffer.from("A: _undef_\nB: \n\n")).get("B"), "");
  });

  it("reads Event-Name right whether or not it is one of the common names", () => {
    const names = [
      "RECV_RTCP_MESSAGE",
      "RECV_RTCP_MESSAGF", // same length, last byte differs
      "RECV_RTCP_MESSAGE_X",
      "SEND_RTCP_MESSAGE",
      "CHANNEL_HANGUP_COMPLETE",
      "CUSTOM",
      "",
      "_undef_",
    ];
    for (const name of names) {
      const e = new PlainEvent(plainEventBody([["Event-Name", name]]));
      assert.equal(e.name, name === "_undef_" ? "" : name);
    }
    // Encoded bytes that decode to a common name still read as that name.
    assert.equal(
      new PlainEvent(Buffer.from("Event-Name: %52ECV_RTCP_MESSAGE\n\n")).name,
      "RECV_RTCP_MESSAGE",
    );
    assert.equal(new PlainEvent(Buffer.from("Event-Name: HEARTBEAT\r\n\n")).name, "HEARTBEAT");
  });

  it("ignores a CR before LF, in lookups and entries", () => {
    const e = new PlainEvent(Buffer.from("Event-Name: HEARTBEAT\r\nA: 1%20x\r\nB: \r\n\r\n"));
    assert.equal(e.name, "HEARTBEAT");
    assert.equal(e.get("A"), "1 x");
    assert.equal(e.get("B"), "");
    assert.deepEqual(e.entries(), [
      ["Event-Name", "HEARTBEAT"],
      ["A", "1 x"],
      ["B", ""],
    ]);
  });

  it("looks up and lists non-ASCII header names as UTF-8", () => {
    const e = new PlainEvent(
      plainEventBody([
        ["variable_-", "dash"],
        ["variable_中", "zh"],
        ["variable_ü", "u"],
      ]),
    );
    assert.equal(e.get("variable_中"), "zh");
    assert.equal(e.get("variable_ü"), "u");
    assert.equal(e.get("variable_-"), "dash");
    assert.equal(e.get("variable_丁"), undefined); // U+4E01: low byte 0x01, no such header
    assert.deepEqual(
      e.entries().map(([n]) => n),
      ["variable_-", "variable_中", "variable_ü"],
    );
  });

  it("reads envelope headers literally (no URL decoding)", () => {
    const buf = Buffer.from("Content-Type: command/reply\nReply-Text: +OK%20x 100%\n");
    const block = new HeaderBlock(buf, 0, buf.length, false);
    assert.equal(block.get("Reply-Text"), "+OK%20x 100%");
    assert.equal(
      new Frame(ContentType.commandReply, block, null).header("Content-Type"),
      "command/reply",
    );
  });
});

describe("JSON events", () => {
  it("jsonEventBody → JsonEvent: name, get, body, entries", () => {
    const headers: Array<[string, string]> = [
      ["Event-Name", "BACKGROUND_JOB"],
      ["Job-UUID", "7f4db78a-17d7-11dd-b7a0-db4edd065621"],
      ["Event-Date-Local", "2024-05-01 10:00:00"],
      ["Encoded", "a%20b 100%"],
      ["Empty", ""],
      ["Event-Name", "SECOND"],
    ];
    const e = eventFrom(eventFrame(jsonEventBody(headers, "+OK done\n"), "json"));
    assert.ok(e instanceof JsonEvent);
    assert.equal(e.name, "BACKGROUND_JOB");
    assert.equal(e.get("Job-UUID"), "7f4db78a-17d7-11dd-b7a0-db4edd065621");
    assert.equal(e.get("Event-Date-Local"), "2024-05-01 10:00:00");
    assert.equal(e.get("Encoded"), "a%20b 100%", "JSON values are not URL-decoded");
    assert.equal(e.get("Empty"), "");
    assert.equal(e.get("Content-Length"), "9");
    assert.equal(e.get("Missing"), undefined);
    assert.equal(e.body, "+OK done\n");
    assert.deepEqual(e.entries(), [
      ["Event-Name", "BACKGROUND_JOB"],
      ["Job-UUID", "7f4db78a-17d7-11dd-b7a0-db4edd065621"],
      ["Event-Date-Local", "2024-05-01 10:00:00"],
      ["Encoded", "a%20b 100%"],
      ["Empty", ""],
      ["Content-Length", "9"],
    ]);
    const noBody = eventFrom(eventFrame(jsonEventBody(headers), "json"));
    assert.equal(noBody.body, undefined);
    assert.equal(noBody.get("Content-Length"), undefined);
  });

  it("does not report Object.prototype members as headers, and carries such names", () => {
    const e = JsonEvent.parse(Buffer.from('{"Event-Name":"X","n":1,"z":null}'));
    assert.ok(e !== undefined);
    for (const name of ["constructor", "toString", "__proto__", "hasOwnProperty", "valueOf"]) {
      assert.equal(e.get(name), undefined, name);
    }
    assert.equal(e.get("n"), "1");
    assert.equal(e.get("z"), undefined);
    const odd = eventFrom(
      eventFrame(
        jsonEventBody([
          ["constructor", "c"],
          ["__proto__", "p"],
          ["toString", "t"],
        ]),
        "json",
      ),
    );
    assert.equal(odd.get("constructor"), "c");
    assert.equal(odd.get("__proto__"), "p");
    assert.equal(odd.get("toString"), "t");
  });

  it("agrees with the first value of any header list (fast-check)", () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.tuple(
            fc.oneof(
              fc.stringMatching(/^[A-Za-z0-9_-]{1,10}$/),
              fc.constantFrom("constructor", "__proto__", "_body"),
            ),
            fc.string({ unit: "binary", maxLength: 16 }),
          ),
          { maxLength: 15 },
        ),
        (headers) => {
          const e = JsonEvent.parse(jsonEventBody(headers));
          assert.ok(e !== undefined);
          for (const [n] of headers) {
            assert.equal(e.get(n), headers.find(([m]) => m === n)?.[1], n);
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it("invalid JSON or a non-object is no event, never an exception", () => {
    for (const text of [
      "",
      "{",
      "not json",
      '{"Event-Name": "X"',
      "[1,2]",
      "null",
      "42",
      '"str"',
      "\u0000",
    ]) {
      const frame = parseStream(eventFrame(Buffer.from(text), "json")).frames[0];
      if (text === "") {
        assert.equal(frame?.body, null, "an empty body is no body");
      }
      assert.ok(frame !== undefined);
      assert.doesNotThrow(() => eventFromFrame(frame));
      assert.equal(eventFromFrame(frame), undefined, JSON.stringify(text));
    }
  });
});

describe("eventFromFrame", () => {
  it("reads only event content types that have a body", () => {
    const { frames } = parseStream(
      Buffer.concat([
        Buffer.from("Content-Type: auth/request\n\n"),
        Buffer.from("Content-Type: command/reply\nReply-Text: +OK\n\n"),
        Buffer.from("Content-Type: api/response\nContent-Length: 14\n\nEvent-Name: X\n"),
        Buffer.from("Content-Type: text/event-plain\n\n"),
        Buffer.from("Content-Type: text/event-xml\nContent-Length: 7\n\n<event>"),
        eventFrame(plainEventBody([["Event-Name", "HEARTBEAT"]])),
        eventFrame(jsonEventBody([["Event-Name", "HEARTBEAT"]]), "json"),
      ]),
    );
    assert.deepEqual(
      frames.map((f) => eventFromFrame(f)?.name),
      [undefined, undefined, undefined, undefined, undefined, "HEARTBEAT", "HEARTBEAT"],
    );
    assert.ok(eventFromFrame(frames[5]!) instanceof PlainEvent);
    assert.ok(eventFromFrame(frames[6]!) instanceof JsonEvent);
  });

  it("gives an empty name to an event without Event-Name", () => {
    const e = eventFrom(eventFrame(plainEventBody([["Unique-ID", "u"]])));
    assert.equal(e.name, "");
    assert.equal(e.get("Unique-ID"), "u");
  });
});
