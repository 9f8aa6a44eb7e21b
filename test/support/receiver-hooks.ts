// One OTLP receiver shared by the tests of a file that create sinks of their own.

import { after, before, beforeEach } from "node:test";
import { OtlpReceiver } from "./otlp-receiver.js";

interface Stoppable {
  shutdown(): Promise<void>;
}

/**
 * Starts one receiver for the file and hands it to `use`. Before each test the receiver answers
 * "ok" again and forgets what it received, and the previous test's sinks are stopped: a sink
 * that exported cumulative points (the report and call histograms) exports them again at every
 * interval, which would land in the next test's receiver.
 */
export function shareReceiver(sinks: Stoppable[], use: (receiver: OtlpReceiver) => void): void {
  let shared: OtlpReceiver | undefined;
  const receiver = (): OtlpReceiver => {
    if (shared === undefined) throw new Error("the shared OTLP receiver did not start");
    return shared;
  };
  before(async () => {
    shared = await OtlpReceiver.start();
    use(shared);
  });
  after(async () => {
    await Promise.all(sinks.map((s) => s.shutdown()));
    await shared?.close();
  });
  beforeEach(async () => {
    receiver().behave("ok");
    await receiver().start();
    await Promise.all(sinks.splice(0).map((s) => s.shutdown()));
    receiver().clear();
  });
}
