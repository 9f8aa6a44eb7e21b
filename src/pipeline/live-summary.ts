/**
 * A small rolling picture of what the agent sees, for the demo's console summary: active legs per
 * instance and the RTCP/QoS figures since the last read. Bounded: a leg whose end was never seen
 * (e.g. lost while disconnected) is evicted oldest-first past `maxLegs`.
 */
export class LiveSummary {
  private readonly legs = new Map<string, string>(); // uuid → instance
  private jitterSum = 0;
  private jitterCount = 0;
  private fractionMax = 0;
  private mosSum = 0;
  private mosCount = 0;
  private events = 0;

  constructor(private readonly maxLegs = 200_000) {}

  legStarted(instance: string, uuid: string): void {
    if (this.legs.has(uuid)) return;
    if (this.legs.size >= this.maxLegs) {
      const oldest = this.legs.keys().next();
      if (oldest.done !== true) this.legs.delete(oldest.value);
    }
    this.legs.set(uuid, instance);
  }

  legEnded(uuid: string): void {
    this.legs.delete(uuid);
  }

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

  get activeLegs(): number {
    return this.legs.size;
  }

  /** Figures since the previous call, then starts a new window. */
  take(): {
    events: number;
    activeLegs: number;
    rtcpReports: number;
    jitterAvgMs: number | null;
    fractionLostMax: number | null;
    legsEnded: number;
    mosAvg: number | null;
  } {
    const out = {
      events: this.events,
      activeLegs: this.legs.size,
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
