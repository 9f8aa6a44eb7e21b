// Just enough protobuf reading for what an OTLP server answers: the partial_success of an
// Export*ServiceResponse, and the google.rpc.Status of a refusal (its message; the RetryInfo among
// its details, gRPC's way of saying how long to wait). A leaf: no import, so that the transports
// (grpc-unary.ts, http-unary.ts) and the client (otlp-client.ts) depend on nothing else.

const VARINT = 0;
const I64 = 1;
const LEN = 2;
const I32 = 5;

/** ExportMetricsServiceResponse.partial_success, when the Collector refused part of a request. */
export interface PartialSuccess {
  readonly rejectedDataPoints: number;
  readonly errorMessage: string;
}

/**
 * The partial_success of an ExportMetricsServiceResponse; null when absent or empty (the spec
 * says a full success sends none, or an empty one). Throws on malformed bytes.
 */
export function decodePartialSuccess(response: Uint8Array): PartialSuccess | null {
  const outer = new Reader(response);
  let partial: Uint8Array | null = null;
  while (!outer.done) {
    const [field, wire] = outer.key();
    if (field === 1 && wire === LEN) partial = outer.bytes();
    else outer.skip(wire);
  }
  if (partial === null) return null;
  const inner = new Reader(partial);
  let rejectedDataPoints = 0;
  let errorMessage = "";
  while (!inner.done) {
    const [field, wire] = inner.key();
    if (field === 1 && wire === VARINT) rejectedDataPoints = inner.varint();
    else if (field === 2 && wire === LEN)
      errorMessage = Buffer.from(inner.bytes()).toString("utf8");
    else inner.skip(wire);
  }
  return rejectedDataPoints === 0 && errorMessage === ""
    ? null
    : { rejectedDataPoints, errorMessage };
}

/**
 * The message of a google.rpc.Status (field 2), the body OTLP/HTTP servers answer a refusal with;
 * "" when there is none or the body is not one.
 */
export function decodeStatusMessage(body: Uint8Array): string {
  try {
    const reader = new Reader(body);
    let message = "";
    while (!reader.done) {
      const [field, wire] = reader.key();
      if (field === 2 && wire === LEN) message = Buffer.from(reader.bytes()).toString("utf8");
      else reader.skip(wire);
    }
    return message;
  } catch {
    return "";
  }
}

/** The type URL of google.rpc.RetryInfo in a Status's details (a google.protobuf.Any). */
const RETRY_INFO_TYPE = "type.googleapis.com/google.rpc.RetryInfo";

/**
 * How long a google.rpc.Status (gRPC's grpc-status-details-bin, decoded from base64) asks the
 * client to wait before retrying: its RetryInfo.retry_delay, in ms; null when it has none or the
 * bytes are not a Status.
 */
export function decodeRetryDelayMs(status: Uint8Array): number | null {
  try {
    const reader = new Reader(status);
    let delay: number | null = null;
    while (!reader.done) {
      const [field, wire] = reader.key();
      if (field === 3 && wire === LEN) delay = retryInfoDelay(reader.bytes()) ?? delay;
      else reader.skip(wire);
    }
    return delay;
  } catch {
    return null;
  }
}

/** The delay of a google.protobuf.Any holding a RetryInfo; null for any other Any. */
function retryInfoDelay(any: Uint8Array): number | null {
  const type = bytesField(any, 1);
  const value = bytesField(any, 2);
  if (type === null || value === null) return null;
  if (Buffer.from(type).toString("utf8") !== RETRY_INFO_TYPE) return null;
  // RetryInfo { google.protobuf.Duration retry_delay = 1; }
  // Duration { int64 seconds = 1; int32 nanos = 2; }: a negative one (ten varint bytes) reads as
  // huge, which the caller's cap bounds.
  const duration = bytesField(value, 1) ?? new Uint8Array(0);
  return varintField(duration, 1) * 1000 + Math.floor(varintField(duration, 2) / 1_000_000);
}

/** The last occurrence of length-delimited field `n` of a message; null when absent. */
function bytesField(message: Uint8Array, n: number): Uint8Array | null {
  const reader = new Reader(message);
  let value: Uint8Array | null = null;
  while (!reader.done) {
    const [field, wire] = reader.key();
    if (field === n && wire === LEN) value = reader.bytes();
    else reader.skip(wire);
  }
  return value;
}

/** The last occurrence of varint field `n` of a message; 0 (protobuf's default) when absent. */
function varintField(message: Uint8Array, n: number): number {
  const reader = new Reader(message);
  let value = 0;
  while (!reader.done) {
    const [field, wire] = reader.key();
    if (field === n && wire === VARINT) value = reader.varint();
    else reader.skip(wire);
  }
  return value;
}

/** A protobuf message read field by field. */
class Reader {
  private pos = 0;
  constructor(private readonly buf: Uint8Array) {}

  get done(): boolean {
    return this.pos >= this.buf.length;
  }

  key(): [field: number, wire: number] {
    const key = this.varint();
    return [Math.floor(key / 8), key % 8];
  }

  /** Exact up to 2^53, which a count of points never reaches. */
  varint(): number {
    let value = 0;
    let scale = 1;
    for (let i = 0; i < 10; i++) {
      const b = this.buf[this.pos++];
      if (b === undefined) throw new Error("truncated protobuf");
      value += (b & 0x7f) * scale;
      if (b < 0x80) return value;
      scale *= 128;
    }
    throw new Error("varint too long");
  }

  bytes(): Uint8Array {
    const length = this.varint();
    const end = this.pos + length;
    if (end > this.buf.length) throw new Error("truncated protobuf");
    const out = this.buf.subarray(this.pos, end);
    this.pos = end;
    return out;
  }

  skip(wire: number): void {
    if (wire === VARINT) this.varint();
    else if (wire === LEN) this.bytes();
    else if (wire === I64 || wire === I32) {
      this.pos += wire === I64 ? 8 : 4;
      if (this.pos > this.buf.length) throw new Error("truncated protobuf");
    } else throw new Error(`unsupported wire type ${wire}`);
  }
}
