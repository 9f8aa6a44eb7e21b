import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { StringPool } from "../src/util/string-pool.js";

describe("StringPool", () => {
  it("returns the same text, keeps one entry per distinct value, none for the empty string", () => {
    const pool = new StringPool(10);
    // Built at run time: distinct string objects with the same text.
    const codec = (): string => ["PC", "MU"].join("");
    assert.equal(pool.intern(codec()), "PCMU");
    assert.equal(pool.intern(codec()), "PCMU");
    assert.equal(pool.intern(""), "");
    assert.equal(pool.size, 1);
  });

  it("stops adding past its bound and still returns every value unchanged", () => {
    const pool = new StringPool(3);
    for (let i = 0; i < 100; i++) assert.equal(pool.intern(`10.0.0.${i}`), `10.0.0.${i}`);
    assert.equal(pool.size, 3);
  });
});
