/** A location in the snake_case configuration tree, e.g. ["freeswitch_instances", 1, "port"]. */
export type Path = readonly PropertyKey[];

/** `freeswitch_instances[1].port`; keys that are not plain words are JSON-quoted in brackets. */
export function formatPath(path: Path): string {
  return formatSuffix(path).replace(/^\./, "");
}

/** The part of a path that follows an env var name: `[0].port`. */
export function formatSuffix(path: Path): string {
  return path
    .map((segment) => {
      if (typeof segment === "number") return `[${segment}]`;
      const key = String(segment);
      return /^[A-Za-z0-9_-]+$/.test(key) ? `.${key}` : `[${JSON.stringify(key)}]`;
    })
    .join("");
}

/**
 * Where secrets live: ESL passwords, the Redis password and every OTLP header (a header's value
 * is usually an API key). A value at or below one of these paths is never shown to anyone.
 */
export function isSecretPath(path: Path): boolean {
  const [first, second, third] = path;
  if (first === "freeswitch_instances") return third === "password" && typeof second === "number";
  if (first === "storage") return second === "redis" && third === "password";
  if (first === "opentelemetry") return second === "headers";
  return false;
}
