/** Figures of one summary window. */
export interface SummaryWindow {
  readonly events: number;
  readonly rtcpReports: number;
  readonly jitterAvgMs: number | null;
  readonly fractionLostMax: number | null;
  readonly legsEnded: number;
  readonly mosAvg: number | null;
}

/**
 * The RTCP and QoS figures since the last read, for the demo's console summary. Plain counters:
 * it sits on the hot path of every event.
 */
export class LiveSummary {
  private jitterSum = 0;
  private jitterCount = 0;
  private fractionMax = 0;
  private mosSum = 0;
  private mosCount = 0;
  private events = 0;

  eventSeen(): void {
    this.events++;
  }

  rtcp(jitterMs: number, fractionLost: number): void {
    this.jitterSum += jitterMs;
    this.jitterCount++;
    if (fractionLost > this.fractionMax) this.fractionMax = fractionLost;
  }

  mos(value: number): void {
    this.mosSum += value;
    this.mosCount++;
  }

  /** Figures since the previous call, then starts a new window. */
  take(): SummaryWindow {
    const out = {
      events: this.events,
      rtcpReports: this.jitterCount,
      jitterAvgMs: this.jitterCount > 0 ? this.jitterSum / this.jitterCount : null,
      fractionLostMax: this.jitterCount > 0 ? this.fractionMax : null,
      legsEnded: this.mosCount,
      mosAvg: this.mosCount > 0 ? this.mosSum / this.mosCount : null,
    };
    this.events = 0;
    this.jitterSum = 0;
    this.jitterCount = 0;
    this.fractionMax = 0;
    this.mosSum = 0;
    this.mosCount = 0;
    return out;
  }
}
