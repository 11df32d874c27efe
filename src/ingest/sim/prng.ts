/**
 * A small seeded pseudo-random generator (32-bit state, Weyl sequence plus an integer mix,
 * in the style of mulberry32). The simulator uses it so a given seed reproduces the same
 * listing and the same price paths; `Math.random` cannot be seeded. Not for cryptography.
 */

/** Returns numbers in [0, 1). */
export type Prng = () => number;

export function createPrng(seed: number): Prng {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let mixed = state;
    mixed = Math.imul(mixed ^ (mixed >>> 15), mixed | 1);
    mixed ^= mixed + Math.imul(mixed ^ (mixed >>> 7), mixed | 61);
    return ((mixed ^ (mixed >>> 14)) >>> 0) / 4294967296;
  };
}
