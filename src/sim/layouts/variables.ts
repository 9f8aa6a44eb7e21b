// The `variable_*` part of a channel event: which channel variables FreeSWITCH prints, in its
// order. FreeSWITCH prints a channel's variables in the order they were last set, which depends
// on the dialplan, the SIP messages and the timing of its threads; rather than re-enact all that,
// the simulator copies the lists from real events. Each list names its source: a capture in
// test/fixtures/freeswitch-1.11 and the Event-Sequence of the event it was taken from (see the
// README there). Left out of every list, as they belong to the lab rather than to FreeSWITCH:
// the lab's own `sip_h_X-Lab-*` headers, and `sip_via_port`, which sofia sets only when the
// caller's Via port is not 5060 (the lab's callers are FreeSWITCH profiles on 5080 and 25060; the
// simulator's phones and carriers use 5060).

export interface VariableLayout {
  /** Capture file(s) and Event-Sequence(s) the list was copied from. */
  readonly source: string;
  /** Variable names without the `variable_` prefix, in FreeSWITCH's order. */
  readonly names: readonly string[];
}

/** A layout from its source and its names separated by white space. */
export function vars(source: string, names: string): VariableLayout {
  return { source, names: names.split(/\s+/).filter((n) => n !== "") };
}

/** A layout with no variables (CHANNEL_OUTGOING fires before the channel has any). */
export function noVars(source: string): VariableLayout {
  return { source, names: [] };
}
