import { statSync } from "node:fs";
import type { IncomingMessage, Server } from "node:http";
import type { Server as HttpsServer } from "node:https";
import type { TLSSocket } from "node:tls";
import type { Logger } from "../../log/logger.js";
import { RateLimitedLog } from "../../log/rate-limit.js";
import type { Clock, TimerHandle } from "../../util/clock.js";
import { type AuthFailure, BasicAuth } from "./basic-auth.js";
import { type LoadedWebConfig, loadWebConfig } from "./load.js";
import type { ClientAuthType } from "./parse.js";
import type { TlsServerOptions } from "./tls-files.js";

/** How often the web config file and its certificates are checked for changes on disk. */
export const WEB_CONFIG_CHECK_MS = 2_000;

export interface WebSecurityOptions {
  /** The web config file (absolute path). */
  readonly file: string;
  /** What the configuration loader read and checked at start-up. */
  readonly loaded: LoadedWebConfig;
  /** http.auth_exempt: paths answered without credentials. */
  readonly exempt: readonly string[];
  readonly logger: Logger;
  readonly clock: Clock;
  /** Default WEB_CONFIG_CHECK_MS. */
  readonly checkIntervalMs?: number;
}

/** Refused requests per reason, for fsagent_http_auth_failures_total. */
export type AuthFailureCounts = Record<AuthFailure, number>;

/**
 * The agent's endpoints secured as the exporter-toolkit does it (http.web_config_file): TLS with
 * an optional client-certificate policy, basic authentication, extra response headers. The
 * files are re-read when they change on disk (a certificate rotated by cert-manager, a user
 * added); a change that cannot be read keeps the last good configuration and is logged once.
 */
export class WebSecurity {
  readonly failures: AuthFailureCounts = { missing: 0, malformed: 0, invalid: 0, throttled: 0 };
  private readonly auth: BasicAuth;
  private headerSet: Readonly<Record<string, string>>;
  private readonly exempt: ReadonlySet<string>;
  private readonly log: RateLimitedLog;
  private readonly clock: Clock;
  /** Fixed at start: a TLS server cannot turn plain, nor change its client policy, live. */
  private readonly clientAuthType: ClientAuthType | null;
  private readonly tlsAtStart: TlsServerOptions | null;
  private server: Server | HttpsServer | null = null;
  private fingerprint: string;
  private timer: TimerHandle | null = null;
  private current: LoadedWebConfig;

  constructor(private readonly options: WebSecurityOptions) {
    const { config, tls } = options.loaded;
    this.current = options.loaded;
    this.auth = new BasicAuth(config.users);
    this.headerSet = config.headers;
    this.exempt = new Set(options.exempt);
    this.clock = options.clock;
    this.log = new RateLimitedLog(options.logger, 60_000, options.clock);
    this.clientAuthType = config.tls?.clientAuthType ?? null;
    this.tlsAtStart = tls;
    this.fingerprint = this.stamp(options.loaded);
  }

  /** The HTTPS options to create the server with; null: plain HTTP. */
  get tls(): TlsServerOptions | null {
    return this.tlsAtStart;
  }

  /** Response headers of http_server_config.headers. */
  get headers(): Readonly<Record<string, string>> {
    return this.headerSet;
  }

  /** Enforces the client-certificate policy and starts watching the files. */
  attach(server: Server | HttpsServer): void {
    this.server = server;
    const type = this.clientAuthType;
    if (type === "RequireAnyClientCert" || type === "VerifyClientCertIfGiven") {
      server.on("secureConnection", (socket: TLSSocket) => {
        const given = Object.keys(socket.getPeerCertificate() ?? {}).length > 0;
        const refused = type === "RequireAnyClientCert" ? !given : given && !socket.authorized;
        if (refused) socket.destroy();
      });
    }
    this.schedule();
  }

  close(): void {
    if (this.timer !== null) this.clock.clearTimeout(this.timer);
    this.timer = null;
  }

  /** null when the request may be served, else why not (counted and logged, rate-limited). */
  async authorize(path: string, req: IncomingMessage): Promise<AuthFailure | null> {
    if (!this.auth.enabled || this.exempt.has(path)) return null;
    const failure = await this.auth.check(req.headers.authorization);
    if (failure === null) return null;
    this.failures[failure]++;
    // Never the credentials: the reason, the path and who asked.
    this.log.warn(
      `http-auth:${failure}`,
      { reason: failure, path, remote: req.socket.remoteAddress },
      failure === "missing"
        ? "HTTP request without credentials refused (401)"
        : failure === "throttled"
          ? "HTTP request refused (429): too many new credentials to check at once"
          : "HTTP request with wrong credentials refused (401)",
    );
    return failure;
  }

  private schedule(): void {
    const timer = this.clock.setTimeout(() => {
      this.timer = null;
      this.check();
      this.schedule();
    }, this.options.checkIntervalMs ?? WEB_CONFIG_CHECK_MS);
    timer.unref?.();
    this.timer = timer;
  }

  /** Re-reads the files when one changed on disk since the last good read. */
  private check(): void {
    const now = this.stamp(this.current);
    if (now === this.fingerprint) return;
    const file = this.options.file;
    let next: LoadedWebConfig;
    try {
      next = loadWebConfig(file);
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      this.log.warn(
        `web-config:${message}`,
        { file, err: message },
        `cannot reload the web config ${file} (${message}); keeping the last good one`,
      );
      return;
    }
    this.log.clearPrefix("web-config:");
    const { config, tls } = next;
    if (
      (tls === null) !== (this.tlsAtStart === null) ||
      config.tls?.clientAuthType !== this.clientAuthType
    ) {
      this.log.warn(
        "web-config:restart",
        { file },
        `the web config ${file} changed TLS on/off or client_auth_type: that takes a restart; users, headers and certificates are applied now`,
      );
    }
    this.auth.setUsers(config.users);
    this.headerSet = config.headers;
    if (tls !== null && this.tlsAtStart !== null && this.server !== null) {
      (this.server as HttpsServer).setSecureContext(tls.context);
    }
    this.current = next;
    this.fingerprint = this.stamp(next);
    this.options.logger.info(
      { file, users: Object.keys(config.users).length, tls: tls !== null },
      `reloaded the web config ${file}`,
    );
  }

  /** Size, modification time and inode of every file involved: a change in any is a reload. */
  private stamp(loaded: LoadedWebConfig): string {
    const tls = loaded.config.tls;
    const files = [this.options.file, tls?.certFile, tls?.keyFile, tls?.clientCaFile];
    return files
      .filter((f): f is string => f !== undefined && f !== "")
      .map((f) => {
        try {
          const s = statSync(f);
          return `${f}:${s.ino}:${s.size}:${s.mtimeMs}`;
        } catch {
          return `${f}:missing`;
        }
      })
      .join("|");
  }
}
