// An OTLP/gRPC metrics endpoint that accepts every export and only counts it.
//
// test/support/otlp-receiver.ts decodes every request into plain objects and keeps them all,
// which is right for tests and wrong here: at 100,000 RTCP reports/s the agent exports tens of
// thousands of points per second, and decoding them in the parent would both grow its heap by
// gigabytes and stall the event loop that feeds the simulator (starving the agent we measure).
// The agent's side of the export (collection, protobuf encoding, gRPC) is unchanged: the bytes
// still cross a real HTTP/2 connection and get a real (empty) ExportMetricsServiceResponse.
// Data points are counted by walking the protobuf framing down to them (no decoding of values or
// attributes): a few varint reads per point, cheap enough to keep up with any export rate.

import {
  Server,
  ServerCredentials,
  type ServerUnaryCall,
  type ServiceDefinition,
  type sendUnaryData,
} from "@grpc/grpc-js";

/** An empty protobuf message: what ExportMetricsServiceResponse{} encodes to. */
const EMPTY = Buffer.alloc(0);

const METRICS_SERVICE: ServiceDefinition = {
  Export: {
    path: "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export",
    requestStream: false,
    responseStream: false,
    requestSerialize: (value: Buffer) => value,
    requestDeserialize: (bytes: Buffer) => bytes,
    responseSerialize: () => EMPTY,
    responseDeserialize: (bytes: Buffer) => bytes,
  },
};

/**
 * The logs service too: the agent sends one quality record per ended leg; a Collector without it
 * would make the agent queue and retry them, which is not what is measured here.
 */
const LOGS_SERVICE: ServiceDefinition = {
  Export: {
    ...METRICS_SERVICE.Export!,
    path: "/opentelemetry.proto.collector.logs.v1.LogsService/Export",
  },
};

/** Reads a varint at `at`; returns [value, next offset]. Values above 2^53 are not needed here. */
function varint(buf: Buffer, at: number): [number, number] {
  let value = 0;
  let scale = 1;
  let i = at;
  for (;;) {
    if (i >= buf.length) throw new Error("truncated varint");
    const byte = buf[i++]!;
    value += (byte & 0x7f) * scale;
    if (byte < 0x80) return [value, i];
    scale *= 128;
  }
}

/**
 * Calls `visit(field, start, end)` for every length-delimited field of the message in
 * buf[start, end), skipping the others.
 */
function fields(
  buf: Buffer,
  start: number,
  end: number,
  visit: (field: number, from: number, to: number) => void,
): void {
  let at = start;
  while (at < end) {
    const [key, afterKey] = varint(buf, at);
    const field = Math.floor(key / 8);
    const wire = key & 7;
    at = afterKey;
    if (wire === 0) at = varint(buf, at)[1];
    else if (wire === 1) at += 8;
    else if (wire === 5) at += 4;
    else if (wire === 2) {
      const [length, from] = varint(buf, at);
      at = from + length;
      visit(field, from, at);
    } else throw new Error(`unsupported wire type ${wire}`);
  }
}

/** Metric fields holding data points: gauge, sum, histogram, exponential_histogram, summary. */
const DATA_FIELDS = new Set([5, 7, 9, 10, 11]);

/**
 * Data points in an ExportMetricsServiceRequest: resource_metrics(1) → scope_metrics(2) →
 * metrics(2) → gauge(5) | sum(7) | … → data_points(1).
 */
export function countDataPoints(request: Buffer): number {
  let points = 0;
  fields(request, 0, request.length, (f1, s1, e1) => {
    if (f1 !== 1) return;
    fields(request, s1, e1, (f2, s2, e2) => {
      if (f2 !== 2) return;
      fields(request, s2, e2, (f3, s3, e3) => {
        if (f3 !== 2) return;
        fields(request, s3, e3, (f4, s4, e4) => {
          if (!DATA_FIELDS.has(f4)) return;
          fields(request, s4, e4, (f5) => {
            if (f5 === 1) points++;
          });
        });
      });
    });
  });
  return points;
}

export class NullCollector {
  requests = 0;
  bytes = 0;
  points = 0;
  /** Quality-record (logs) requests received. */
  logRequests = 0;

  private constructor(
    private readonly server: Server,
    readonly port: number,
  ) {}

  static async start(): Promise<NullCollector> {
    // Requests are kept under 4 MiB by the agent (MAX_POINTS_PER_REQUEST); no limit here so that a
    // change there shows up as a bigger figure rather than as export errors.
    const server = new Server({ "grpc.max_receive_message_length": -1 });
    let collector: NullCollector | undefined;
    server.addService(METRICS_SERVICE, {
      Export: (call: ServerUnaryCall<Buffer, Buffer>, reply: sendUnaryData<Buffer>) => {
        if (collector !== undefined) {
          collector.requests++;
          collector.bytes += call.request.length;
          collector.points += countDataPoints(call.request);
        }
        reply(null, EMPTY);
      },
    });
    server.addService(LOGS_SERVICE, {
      Export: (_call: ServerUnaryCall<Buffer, Buffer>, reply: sendUnaryData<Buffer>) => {
        if (collector !== undefined) collector.logRequests++;
        reply(null, EMPTY);
      },
    });
    const port = await new Promise<number>((resolve, reject) => {
      server.bindAsync("127.0.0.1:0", ServerCredentials.createInsecure(), (error, bound) =>
        error === null ? resolve(bound) : reject(error),
      );
    });
    collector = new NullCollector(server, port);
    return collector;
  }

  get endpoint(): string {
    return `127.0.0.1:${this.port}`;
  }

  close(): void {
    this.server.forceShutdown();
  }
}
