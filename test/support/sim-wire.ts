// The simulator's call generator on a simulated clock, without sockets: every event it emits is
// kept as the frames the simulator's ESL server would write (plain and json), so that a test can
// read them with the same parser as the real captures.

import { CallGenerator, type CallGeneratorOptions } from "../../src/sim/calls.js";
import { ChannelRegistry } from "../../src/sim/channels.js";
import { EventFactory, type SimEvent } from "../../src/sim/events.js";
import { OutgoingEvent } from "../../src/sim/outgoing.js";
import { eslEvents, type WireEvent } from "./fs-capture.js";

export const T0 = Date.UTC(2026, 11, 7, 3, 22, 29);

export class SimWire {
  readonly factory = new EventFactory({ hostname: "fs-sim", sequenceStart: 454 });
  readonly channels = new ChannelRegistry();
  readonly emitted: SimEvent[] = [];
  readonly gen: CallGenerator;

  constructor(options: Omit<CallGeneratorOptions, "factory" | "sink" | "channels"> = {}) {
    this.gen = new CallGenerator({
      factory: this.factory,
      channels: this.channels,
      sink: (event) => this.emitted.push(event),
      callsPerSecond: 0,
      ...options,
    });
  }

  /** The bytes the simulator would have sent a listener subscribed to everything. */
  bytes(format: "plain" | "json"): Buffer {
    return Buffer.concat(this.emitted.map((e) => new OutgoingEvent(e).frame(format)));
  }

  /** The emitted events as a listener in `format` reads them off the wire. */
  wire(format: "plain" | "json"): WireEvent[] {
    return eslEvents(this.bytes(format));
  }
}
