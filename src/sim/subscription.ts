// What one listener receives: its event list (`event`, `nixevent`, `noevents`), its filters
// (`filter`) and its format. Semantics and reply texts follow mod_event_socket.c's
// parse_command() and event_handler().

import { EVENT_NAMES, resolveEventName } from "./event-names.js";
import { headerValue, type SimEvent } from "./events.js";

const ALL_NAMES = EVENT_NAMES.filter((n) => n !== "ALL");

export type EventFormat = "plain" | "json" | "xml";

interface Filter {
  readonly name: string;
  readonly value: string;
  /** Compiled `/regex/flags` value; null when the value is not a regex or does not compile. */
  readonly regex: RegExp | null;
}

export interface SubscriptionInfo {
  readonly format: EventFormat;
  readonly listening: boolean;
  readonly all: boolean;
  readonly events: readonly string[];
  readonly subclasses: readonly string[];
  readonly filters: ReadonlyArray<readonly [string, string]>;
}

/**
 * switch_regex_perform() with a `/expression/flags` value: the text between the slashes, `i`
 * and `s` flags honoured; a value without the closing slash never matches.
 */
function compileFilterRegex(value: string): RegExp | null {
  const close = value.lastIndexOf("/");
  if (close <= 0) return null;
  const flags = value.slice(close + 1);
  let jsFlags = "";
  if (flags.includes("i")) jsFlags += "i";
  if (flags.includes("s")) jsFlags += "s";
  try {
    return new RegExp(value.slice(1, close), jsFlags);
  } catch {
    return null;
  }
}

function splitFirst(text: string): [string, string | undefined] {
  const space = text.indexOf(" ");
  return space === -1 ? [text, undefined] : [text.slice(0, space), text.slice(space + 1)];
}

export class Subscription {
  format: EventFormat = "plain";
  /** LFLAG_EVENTS: set by `event`/`nixevent`, cleared by `noevents`. */
  private listening = false;
  /** event_list[ALL]. */
  private all = false;
  /** Subscribing to ALL also subscribes every custom subclass (set_all_custom). */
  private allCustom = false;
  private readonly names = new Set<string>();
  private readonly subclasses = new Set<string>();
  private filters: Filter[] = [];

  /** `event [plain|json|xml] NAME ...`: the reply text. */
  event(args: string): string {
    let keys = 0;
    let custom = false;
    args.split(" ").forEach((token, index) => {
      const lower = token.toLowerCase();
      if (index === 0 && (lower === "plain" || lower === "json" || lower === "xml")) {
        this.format = lower;
        return;
      }
      if (custom) {
        if (token !== "") this.subclasses.add(token);
        return;
      }
      const name = resolveEventName(token);
      if (name === undefined) return;
      keys++;
      if (name === "ALL") {
        this.all = true;
        this.allCustom = true;
      } else {
        this.names.add(name);
      }
      if (name === "CUSTOM") custom = true;
    });
    if (keys === 0) return "-ERR no keywords supplied";
    this.listening = true;
    return `+OK event listener enabled ${this.format}`;
  }

  /** `nixevent NAME ...`. */
  nixevent(args: string): string {
    let keys = 0;
    let custom = false;
    for (const token of args.split(" ")) {
      if (custom) {
        this.subclasses.delete(token);
        continue;
      }
      const name = resolveEventName(token);
      if (name === undefined) continue;
      keys++;
      if (name === "CUSTOM") {
        custom = true;
      } else if (name === "ALL") {
        this.all = false;
        this.names.clear();
      } else {
        if (this.all) {
          // Leaving ALL: every other event stays subscribed, one by one.
          this.all = false;
          for (const n of ALL_NAMES) this.names.add(n);
        }
        this.names.delete(name);
      }
    }
    if (keys === 0) return "-ERR no keywords supplied";
    this.listening = true;
    return "+OK events nixed";
  }

  /** `noevents`. */
  noevents(): string {
    if (!this.listening) return "-ERR not listening for events";
    this.listening = false;
    this.all = false;
    this.allCustom = false;
    this.names.clear();
    this.subclasses.clear();
    return "+OK no longer listening for events";
  }

  /** `filter <Header> <value>`, `filter add ...`, `filter delete <Header> [<value>]|all`. */
  filter(args: string): string {
    let [name, value] = splitFirst(args.replace(/^ +/, ""));
    if (name.toLowerCase() === "delete" && value !== undefined) {
      const [target, targetValue] = splitFirst(value);
      if (target.toLowerCase() === "all") {
        this.filters = [];
      } else {
        const lower = target.toLowerCase();
        this.filters = this.filters.filter(
          (f) =>
            !(
              f.name.toLowerCase() === lower &&
              (targetValue === undefined || f.value === targetValue)
            ),
        );
      }
      return `+OK filter deleted. [${target}][${targetValue ?? ""}]`;
    }
    if (value === undefined) return "-ERR invalid syntax";
    if (name.toLowerCase() === "add") {
      [name, value] = splitFirst(value);
      if (value === undefined) return "-ERR invalid syntax";
    }
    this.filters.push({
      name,
      value,
      regex: value.startsWith("/") ? compileFilterRegex(value) : null,
    });
    return `+OK filter added. [${name}]=[${value}]`;
  }

  /** Whether the listener gets `event` (event_handler()'s decision). */
  wants(event: SimEvent): boolean {
    if (!this.listening) return false;
    let send = this.all;
    if (!send && this.names.has(event.name)) {
      send =
        event.name !== "CUSTOM" ||
        event.subclass === undefined ||
        this.allCustom ||
        this.subclasses.has(event.subclass);
    }
    if (!send || this.filters.length === 0) return send;
    send = false;
    for (const f of this.filters) {
      const actual = headerValue(event, f.name);
      if (actual === undefined) continue;
      let positive = true;
      let i = 0;
      for (; i < f.value.length; i++) {
        const c = f.value[i];
        if (c === "+") positive = true;
        else if (c === "-") positive = false;
        else if (c !== " ") break;
      }
      if (send && positive) continue;
      const compareTo = f.value.slice(i);
      const match = f.value.startsWith("/")
        ? f.regex?.test(actual) === true
        : actual.toLowerCase() === compareTo.toLowerCase();
      if (match) {
        if (!positive) return false;
        send = true;
      }
    }
    return send;
  }

  get isListening(): boolean {
    return this.listening;
  }

  info(): SubscriptionInfo {
    return {
      format: this.format,
      listening: this.listening,
      all: this.all,
      events: [...this.names],
      subclasses: [...this.subclasses],
      filters: this.filters.map((f) => [f.name, f.value] as const),
    };
  }
}
