// Loaded by `npm run test:unit` (--import) into every unit test file's process: the unit suite
// promises no sockets and no child processes, and this makes the promise hold rather than hope.
// A test that opens a connection, listens or spawns fails with a line saying where it belongs.
// The test runner itself (the parent process) is left alone: it spawns the test files.

import childProcess from "node:child_process";
import { syncBuiltinESMExports } from "node:module";
import net from "node:net";

function refuse(what: string): never {
  throw new Error(
    `a unit test must not ${what}: move the test to test/system/ (npm run test:system)`,
  );
}

if (process.env.NODE_TEST_CONTEXT?.startsWith("child") === true) {
  net.Socket.prototype.connect = () => refuse("open a socket");
  net.Server.prototype.listen = () => refuse("listen on a port");
  for (const name of [
    "spawn",
    "spawnSync",
    "fork",
    "exec",
    "execSync",
    "execFile",
    "execFileSync",
  ] as const) {
    (childProcess as Record<string, unknown>)[name] = () => refuse("start a process");
  }
  // Named imports (`import { spawn } from "node:child_process"`) see the patched functions too.
  syncBuiltinESMExports();
}
