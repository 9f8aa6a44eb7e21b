import type { ProtocolErrorReason } from "./parser.js";

/**
 * Lifecycle of one FreeSWITCH connection.
 * - connecting: TCP connect in progress
 * - authenticating: waiting for auth/request or the reply to `auth`
 * - subscribing: authenticated, `event plain ...` sent
 * - connected: subscribed; events flow
 * - auth_failed: the password was rejected (-ERR invalid); retrying with backoff
 * - rejected: FreeSWITCH's ACL refused us (text/rude-rejection); retrying with backoff
 * - disconnected: waiting for the next attempt after a failure or a lost connection
 * - stopped: shut down on purpose
 */
export type ConnectionState =
  | "connecting"
  | "authenticating"
  | "subscribing"
  | "connected"
  | "auth_failed"
  | "rejected"
  | "disconnected"
  | "stopped";

export const CONNECTION_STATES: readonly ConnectionState[] = [
  "connecting",
  "authenticating",
  "subscribing",
  "connected",
  "auth_failed",
  "rejected",
  "disconnected",
  "stopped",
];

/**
 * Live counters and status of one connection. The connection mutates it in place (plain number
 * increments on the hot path); /health and /metrics read it when asked.
 */
export interface ConnectionStats {
  readonly instance: string;
  state: ConnectionState;
  /** ms since epoch of the last frame of any kind received, null before the first. */
  lastFrameAt: number | null;
  /** ms since epoch of the last event received, null before the first. */
  lastEventAt: number | null;
  /** One line, never containing a secret; null once a connection succeeds. */
  lastError: string | null;
  /** ms since epoch when the current connection reached `connected`. */
  connectedSince: number | null;
  /** Connection attempts after the first one. */
  reconnects: number;
  framesReceived: number;
  bytesReceived: number;
  commandsTimedOut: number;
  /** Commands refused before sending: too many awaiting replies, or a line break in the text. */
  commandsRejected: number;
  /** Protocol errors by reason; each one reset the connection. */
  protocolErrors: Record<ProtocolErrorReason, number>;
  /** Frames of a Content-Type the agent does not handle (e.g. log/data), ignored. */
  framesIgnored: number;
}

export function newConnectionStats(instance: string): ConnectionStats {
  return {
    instance,
    state: "disconnected",
    lastFrameAt: null,
    lastEventAt: null,
    lastError: null,
    connectedSince: null,
    reconnects: 0,
    framesReceived: 0,
    bytesReceived: 0,
    commandsTimedOut: 0,
    commandsRejected: 0,
    protocolErrors: {
      bad_content_length: 0,
      frame_too_large: 0,
      header_too_large: 0,
      malformed_header: 0,
    },
    framesIgnored: 0,
  };
}
