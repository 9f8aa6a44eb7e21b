// What the retry queues and the log lines need to know of a failed export, whatever carried it
// (grpc-unary.ts's GrpcCallError, http-unary.ts's HttpCallError): so that one queue-and-retry
// serves both protocols, and neither the queues nor the warnings look at status codes.

export interface ExportFailure {
  /**
   * A short, stable name of what went wrong: "UNAVAILABLE", "DEADLINE_EXCEEDED", "HTTP 400"...
   * One warning is logged per kind and rate-limit window, so it never carries a changing detail.
   */
  readonly kind: string;
  /**
   * Whether sending the same data again can succeed (the OTLP specification's retryable
   * answers). False: the data is dropped and counted, it would only be refused again.
   */
  readonly retryable: boolean;
  /**
   * How long the server asked us to wait (HTTP Retry-After, gRPC RetryInfo), in ms, at most
   * MAX_RETRY_AFTER_MS; null when it did not say.
   */
  readonly retryAfterMs: number | null;
  /**
   * The server has no such service or path (gRPC UNIMPLEMENTED, HTTP 404): a Collector without a
   * pipeline for this signal, or a backend that does not take it. It does not heal by itself.
   */
  readonly unimplemented: boolean;
}

/**
 * A server's pause (HTTP Retry-After, gRPC RetryInfo) beyond this is capped: a bogus answer must
 * not hold the retries for hours.
 */
export const MAX_RETRY_AFTER_MS = 5 * 60_000;

/** An Error that says what kind of export failure it is. */
export type TransportError = Error & ExportFailure;

/** Any other failure (a refusal before sending, an encoder error): worth retrying, kind "error". */
const UNKNOWN: ExportFailure = {
  kind: "error",
  retryable: true,
  retryAfterMs: null,
  unimplemented: false,
};

export function isExportFailure(error: unknown): error is TransportError {
  return (
    error instanceof Error &&
    typeof (error as Partial<ExportFailure>).kind === "string" &&
    typeof (error as Partial<ExportFailure>).retryable === "boolean"
  );
}

export function failureOf(error: unknown): ExportFailure {
  return isExportFailure(error) ? error : UNKNOWN;
}
