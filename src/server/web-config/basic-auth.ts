import { createHash } from "node:crypto";
import bcrypt from "bcryptjs";
import { setNewest } from "../../util/bounded-map.js";

/**
 * Why a request was refused (fsagent_http_auth_failures_total{reason}): "throttled" when too many
 * credentials not seen before wait for bcrypt at once (429, not 401).
 */
export type AuthFailure = "missing" | "malformed" | "invalid" | "throttled";

/**
 * bcrypt checks running at once, and waiting: each costs tens of ms of CPU, so a client sending
 * new passwords as fast as it can must not take the agent's CPU from FreeSWITCH's events.
 * Credentials already checked (a scraper's) answer from the cache and never wait here.
 */
const CHECKS_AT_ONCE = 2;
const CHECKS_WAITING = 32;

/** Credentials checked at most this many times with bcrypt: each check costs tens of ms. */
const CACHE_ENTRIES = 256;
/**
 * Compared when the user does not exist, so that an unknown user costs the same time as a wrong
 * password (the hash of a random string, cost 10, as the users' hashes usually are).
 */
const DUMMY_HASH = "$2b$10$w9p.C/ntLzD39UZzEloxSOrEK46s5kKnLfoNLqM5uHL9VwGyNeLQW";

/**
 * HTTP basic authentication against bcrypt hashes (the web config's basic_auth_users). A scrape
 * every few seconds must not cost a bcrypt each time: the answer for each Authorization header
 * seen lately is kept (under its SHA-256, not the password), cleared when the users change.
 */
export class BasicAuth {
  private users: Readonly<Record<string, string>>;
  private readonly answers = new Map<string, boolean>();
  private running = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(users: Readonly<Record<string, string>>) {
    this.users = users;
  }

  get enabled(): boolean {
    return Object.keys(this.users).length > 0;
  }

  setUsers(users: Readonly<Record<string, string>>): void {
    this.users = users;
    this.answers.clear();
  }

  /** null when the request may go on, else why not. */
  async check(header: string | undefined): Promise<AuthFailure | null> {
    if (header === undefined || header === "") return "missing";
    const match = /^Basic +([A-Za-z0-9+/]+=*) *$/i.exec(header);
    if (match === null) return "malformed";
    const decoded = Buffer.from(match[1] ?? "", "base64").toString("utf8");
    const colon = decoded.indexOf(":");
    if (colon === -1) return "malformed";
    const key = createHash("sha256").update(header).digest("base64");
    const known = this.answers.get(key);
    if (known !== undefined) return known ? null : "invalid";
    if (this.running >= CHECKS_AT_ONCE) {
      if (this.waiting.length >= CHECKS_WAITING) return "throttled";
      // The check that ends hands its slot over: `running` stays at most CHECKS_AT_ONCE.
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    } else {
      this.running++;
    }
    const users = this.users;
    const user = decoded.slice(0, colon);
    const hash = Object.hasOwn(users, user) ? users[user] : undefined;
    let ok: boolean;
    try {
      ok = await bcrypt.compare(decoded.slice(colon + 1), hash ?? DUMMY_HASH);
    } finally {
      const next = this.waiting.shift();
      if (next === undefined) this.running--;
      else next();
    }
    const granted = ok && hash !== undefined;
    // Users replaced meanwhile: this answer was for the old ones.
    if (this.users === users) setNewest(this.answers, key, granted, CACHE_ENTRIES);
    return granted ? null : "invalid";
  }
}

/** A bcrypt hash of `password` for basic_auth_users (`fsagent hash-password`). */
export function hashPassword(password: string, cost = 10): Promise<string> {
  return bcrypt.hash(password, cost);
}
