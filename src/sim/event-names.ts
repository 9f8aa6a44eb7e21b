// Event type names as switch_event.c lists them (EVENT_NAMES[]), in enum order, ending with ALL.
// `event`/`nixevent` accept only these (plus subclass names after CUSTOM); anything else is
// ignored, which is how FreeSWITCH arrives at "-ERR no keywords supplied".

export const EVENT_NAMES = [
  "CUSTOM",
  "CLONE",
  "CHANNEL_CREATE",
  "CHANNEL_DESTROY",
  "CHANNEL_STATE",
  "CHANNEL_CALLSTATE",
  "CHANNEL_ANSWER",
  "CHANNEL_HANGUP",
  "CHANNEL_HANGUP_COMPLETE",
  "CHANNEL_EXECUTE",
  "CHANNEL_EXECUTE_COMPLETE",
  "CHANNEL_HOLD",
  "CHANNEL_UNHOLD",
  "CHANNEL_BRIDGE",
  "CHANNEL_UNBRIDGE",
  "CHANNEL_PROGRESS",
  "CHANNEL_PROGRESS_MEDIA",
  "CHANNEL_OUTGOING",
  "CHANNEL_PARK",
  "CHANNEL_UNPARK",
  "CHANNEL_APPLICATION",
  "CHANNEL_ORIGINATE",
  "CHANNEL_UUID",
  "API",
  "LOG",
  "INBOUND_CHAN",
  "OUTBOUND_CHAN",
  "STARTUP",
  "SHUTDOWN",
  "PUBLISH",
  "UNPUBLISH",
  "TALK",
  "NOTALK",
  "SESSION_CRASH",
  "MODULE_LOAD",
  "MODULE_UNLOAD",
  "DTMF",
  "MESSAGE",
  "PRESENCE_IN",
  "NOTIFY_IN",
  "PRESENCE_OUT",
  "PRESENCE_PROBE",
  "MESSAGE_WAITING",
  "MESSAGE_QUERY",
  "ROSTER",
  "CODEC",
  "BACKGROUND_JOB",
  "DETECTED_SPEECH",
  "DETECTED_TONE",
  "PRIVATE_COMMAND",
  "HEARTBEAT",
  "TRAP",
  "ADD_SCHEDULE",
  "DEL_SCHEDULE",
  "EXE_SCHEDULE",
  "RE_SCHEDULE",
  "RELOADXML",
  "NOTIFY",
  "PHONE_FEATURE",
  "PHONE_FEATURE_SUBSCRIBE",
  "SEND_MESSAGE",
  "RECV_MESSAGE",
  "REQUEST_PARAMS",
  "CHANNEL_DATA",
  "GENERAL",
  "COMMAND",
  "SESSION_HEARTBEAT",
  "CLIENT_DISCONNECTED",
  "SERVER_DISCONNECTED",
  "SEND_INFO",
  "RECV_INFO",
  "RECV_RTCP_MESSAGE",
  "SEND_RTCP_MESSAGE",
  "CALL_SECURE",
  "NAT",
  "RECORD_START",
  "RECORD_STOP",
  "PLAYBACK_START",
  "PLAYBACK_STOP",
  "CALL_UPDATE",
  "FAILURE",
  "SOCKET_DATA",
  "MEDIA_BUG_START",
  "MEDIA_BUG_STOP",
  "CONFERENCE_DATA_QUERY",
  "CONFERENCE_DATA",
  "CALL_SETUP_REQ",
  "CALL_SETUP_RESULT",
  "CALL_DETAIL",
  "DEVICE_STATE",
  "TEXT",
  "SHUTDOWN_REQUESTED",
  "ALL",
] as const;

const BY_UPPER = new Map<string, string>(EVENT_NAMES.map((n) => [n, n]));
/** Length of "SWITCH_EVENT_", the prefix switch_name_event() skips without looking at it. */
const PREFIX_LENGTH = 13;

/**
 * switch_name_event(): case-insensitive; a name longer than 13 characters also matches by the
 * text after its 13th character, which is how `SWITCH_EVENT_HEARTBEAT` is accepted.
 * Returns the canonical name or undefined.
 */
export function resolveEventName(token: string): string | undefined {
  const upper = token.toUpperCase();
  const direct = BY_UPPER.get(upper);
  if (direct !== undefined) return direct;
  if (upper.length > PREFIX_LENGTH) return BY_UPPER.get(upper.slice(PREFIX_LENGTH));
  return undefined;
}
