/**
 * Hostile input for exchange adapters: arbitrary text, arbitrary JSON, and mutations of real
 * wire frames (the fixtures), as fast-check arbitraries. A mutation starts from a frame that
 * parses, so it reaches the adapter's field checks instead of stopping at `JSON.parse`.
 *
 * Mutations work on the parsed frame and render it back with `JSON.stringify`. What JSON
 * values cannot express (a number literal that overflows to Infinity, `-0`, a key that occurs
 * twice, nesting thousands deep) is put into the tree as a placeholder string and spliced
 * into the text as raw JSON afterwards.
 */
import { readFileSync } from 'node:fs';
import fc from 'fast-check';

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** The non-empty lines of `test/fixtures/exchanges/<file>`. */
export function fixtureFrames(file: string): string[] {
  return readFileSync(new URL(`../fixtures/exchanges/${file}`, import.meta.url), 'utf8')
    .split('\n')
    .filter((line) => line.trim() !== '');
}

// ---------------------------------------------------------------------------------------------
// Values

/** The text `decimal.ts` accepts: what exchanges send for prices, sizes and string times. */
const DECIMAL_TEXT = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$/;

/**
 * Strings that look like numbers to a forgiving reader (`Number()`, `parseFloat`) but are not
 * plain finite decimals. An adapter must reject each wherever it reads a number.
 */
export const GARBAGE_NUMBER_TEXTS: readonly string[] = [
  'NaN', '1e999', '-1e999', 'Infinity', '-Infinity', '0x10', '0b11', '0o7', ' 1', '1 ', '\t1', '1\n',
  '1,5', '1_000', '1..2', '0.0.0', '+', '-', '.', 'e5', '1e', '1e+', '--1', '+-1', '１', '١',
  '1\u00a0', '\u20001', '∞', 'null', 'true', '1/2', '$1', '1%',
];

/** Number literals that `JSON.parse` accepts but that are not plain finite values. */
export const GARBAGE_NUMBER_LITERALS: readonly string[] = ['1e999', '-1e999', '1E400', '-9e9999'];

/**
 * Garbage for a numeric field, as it would appear on the wire. `""` and `"-0"` are included
 * here but are not garbage everywhere: OKX and Bybit send `""` for "no value", and `-0` is a
 * plain decimal (a change of -0.00).
 */
export const garbageNumber: fc.Arbitrary<Replacement> = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(...GARBAGE_NUMBER_TEXTS).map((text): Replacement => ({ json: text })) },
  { weight: 1, arbitrary: fc.constantFrom(...GARBAGE_NUMBER_LITERALS).map((raw): Replacement => ({ raw })) },
  { weight: 1, arbitrary: fc.constantFrom('', '-0').map((text): Replacement => ({ json: text })) },
  { weight: 1, arbitrary: fc.constant<Replacement>({ raw: '-0' }) },
);

/** The same garbage, without `""` and `-0`: values no adapter may read as a number at all. */
export const strictGarbageNumber: fc.Arbitrary<Replacement> = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(...GARBAGE_NUMBER_TEXTS).map((text): Replacement => ({ json: text })) },
  { weight: 1, arbitrary: fc.constantFrom(...GARBAGE_NUMBER_LITERALS).map((raw): Replacement => ({ raw })) },
);

/** A value of some other JSON type than the one a field should have. */
export const otherJsonValue: fc.Arbitrary<Json> = fc.oneof(
  fc.constantFrom<Json>(null, true, false, 0, -1, 1.5, '', 'x', [], {}, [1], { a: 1 }),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.string({ maxLength: 12 }),
  fc.jsonValue({ maxDepth: 2 }) as fc.Arbitrary<Json>,
);

/** Finite magnitudes at the edges of a double: each keeps a frame valid JSON with finite numbers. */
const EXTREME_MAGNITUDES = [Number.MAX_VALUE, 1e308, Number.MIN_VALUE, 1e-300] as const;

// ---------------------------------------------------------------------------------------------
// Mutations

/** What replaces a node: a JSON value, or raw JSON text spliced in after rendering. */
export type Replacement = { readonly json: Json } | { readonly raw: string };

/**
 * One change to a parsed frame. `pick` selects a node among the candidates of that step (taken
 * modulo their count, so any number is a valid pick and shrinking stays meaningful).
 */
export type Step =
  | { readonly op: 'delete-key'; readonly pick: number }
  | { readonly op: 'retype'; readonly pick: number; readonly value: Json }
  | { readonly op: 'garbage-number'; readonly pick: number; readonly garbage: Replacement }
  | { readonly op: 'extreme-numbers'; readonly mask: readonly boolean[]; readonly magnitude: number }
  | { readonly op: 'swap-nesting'; readonly pick: number }
  | { readonly op: 'duplicate-key'; readonly pick: number; readonly value: Replacement; readonly first: boolean }
  | { readonly op: 'deep-nesting'; readonly pick: number; readonly depth: number; readonly shape: 'array' | 'object' }
  | { readonly op: 'long-string'; readonly pick: number; readonly length: number; readonly unit: string };

/** A change to the rendered text. */
export type TextStep = { readonly op: 'truncate'; readonly at: number } | { readonly op: 'insert'; readonly at: number; readonly text: string };

export interface MutatedFrame {
  /** The frame the mutation started from. */
  readonly original: string;
  readonly steps: readonly Step[];
  readonly textStep: TextStep | null;
  /** What the adapter receives. */
  readonly text: string;
}

const pick = fc.nat();

export const deleteKey = fc.record({ op: fc.constant('delete-key' as const), pick });
export const retype = fc.record({ op: fc.constant('retype' as const), pick, value: otherJsonValue });
export const garbageNumberStep = (garbage: fc.Arbitrary<Replacement> = garbageNumber) =>
  fc.record({ op: fc.constant('garbage-number' as const), pick, garbage });
/** Each numeric field (by position) is blown up or shrunk to an edge magnitude, keeping its sign, or left alone. */
export const extremeNumbers = fc.record({
  op: fc.constant('extreme-numbers' as const),
  mask: fc.array(fc.boolean(), { minLength: 1, maxLength: 40 }),
  magnitude: fc.constantFrom(...EXTREME_MAGNITUDES),
});
export const swapNesting = fc.record({ op: fc.constant('swap-nesting' as const), pick });
export const duplicateKey = fc.record({
  op: fc.constant('duplicate-key' as const),
  pick,
  value: fc.oneof(otherJsonValue.map((json): Replacement => ({ json })), garbageNumber),
  first: fc.boolean(),
});
export const deepNesting = fc.record({
  op: fc.constant('deep-nesting' as const),
  pick,
  depth: fc.integer({ min: 500, max: 5000 }),
  shape: fc.constantFrom('array' as const, 'object' as const),
});
export const longString = fc.record({
  op: fc.constant('long-string' as const),
  pick,
  length: fc.integer({ min: 1_000, max: 300_000 }),
  unit: fc.constantFrom('x', '9', '0', ' ', 'é', '😀', '\u0000', '"', '\\', '1.'),
});

export const anyStep: fc.Arbitrary<Step> = fc.oneof(
  { weight: 3, arbitrary: deleteKey },
  { weight: 3, arbitrary: retype },
  { weight: 4, arbitrary: garbageNumberStep() },
  { weight: 2, arbitrary: extremeNumbers },
  { weight: 2, arbitrary: swapNesting },
  { weight: 2, arbitrary: duplicateKey },
  { weight: 1, arbitrary: deepNesting },
  { weight: 1, arbitrary: longString },
);

export const anyTextStep: fc.Arbitrary<TextStep> = fc.oneof(
  fc.record({ op: fc.constant('truncate' as const), at: fc.nat() }),
  fc.record({ op: fc.constant('insert' as const), at: fc.nat(), text: fc.string({ unit: 'binary', minLength: 1, maxLength: 4 }) }),
);

/** One to three structural steps on one of `frames`, then sometimes a cut or an insertion in the text. */
export function mutatedFrame(frames: readonly string[], step: fc.Arbitrary<Step> = anyStep): fc.Arbitrary<MutatedFrame> {
  return fc
    .record({
      original: fc.constantFrom(...frames),
      steps: fc.array(step, { minLength: 1, maxLength: 3 }),
      textStep: fc.option(anyTextStep, { freq: 4 }),
    })
    .map(({ original, steps, textStep }) => ({ original, steps, textStep, text: applyMutation(original, steps, textStep) }));
}

/** Applies `steps` to the parsed `frame`, renders it, then applies `textStep`. Pure. */
export function applyMutation(frame: string, steps: readonly Step[], textStep: TextStep | null = null): string {
  const draft = new Draft(JSON.parse(frame) as Json);
  for (const step of steps) draft.apply(step);
  const text = draft.render();
  if (textStep === null) return text;
  const at = textStep.at % (text.length + 1);
  return textStep.op === 'truncate' ? text.slice(0, Math.min(at, text.length - 1)) : text.slice(0, at) + textStep.text + text.slice(at);
}

type Key = string | number;
type Container = Json[] | { [key: string]: Json };

/** A place in the tree: the container holding a value and its key there. */
interface Slot {
  readonly parent: Container;
  readonly key: Key;
}

/** The parsed frame under a holder object, so the root is a slot like any other. */
class Draft {
  private readonly holder: { [key: string]: Json };
  private readonly splices = new Map<string, string>();

  constructor(root: Json) {
    this.holder = { root };
  }

  apply(step: Step): void {
    switch (step.op) {
      case 'delete-key': {
        const slot = choose(this.slots().filter((s) => !Array.isArray(s.parent) && s.parent !== this.holder), step.pick);
        if (slot) delete (slot.parent as Record<string, Json>)[slot.key];
        return;
      }
      case 'retype':
        return this.replace(choose(this.slots(), step.pick), { json: step.value });
      case 'garbage-number':
        return this.replace(choose(this.numericSlots(), step.pick), step.garbage);
      case 'extreme-numbers': {
        for (const [index, slot] of this.numericSlots().entries()) {
          if (!step.mask[index % step.mask.length]) continue;
          const current = get(slot);
          const negative = typeof current === 'number' ? current < 0 || Object.is(current, -0) : String(current).startsWith('-');
          const text = String(negative ? -step.magnitude : step.magnitude);
          this.replace(slot, typeof current === 'number' ? { raw: text } : { json: text });
        }
        return;
      }
      case 'swap-nesting': {
        const slot = choose(this.slots().filter((s) => isContainer(get(s))), step.pick);
        if (!slot) return;
        const value = get(slot) as Container;
        set(slot, Array.isArray(value) ? Object.fromEntries(value.map((item, i) => [String(i), item])) : Object.values(value));
        return;
      }
      case 'duplicate-key': {
        const slot = choose(this.slots().filter((s) => !Array.isArray(s.parent) && s.parent !== this.holder), step.pick);
        if (!slot) return;
        const parent = slot.parent as Record<string, Json>;
        const token = this.token(JSON.stringify(String(slot.key)));
        const value = 'json' in step.value ? structuredClone(step.value.json) : this.token(step.value.raw);
        const entries = Object.entries(parent);
        for (const key of Object.keys(parent)) delete parent[key];
        for (const [key, existing] of entries) {
          if (key === slot.key && step.first) parent[token] = value;
          parent[key] = existing;
          if (key === slot.key && !step.first) parent[token] = value;
        }
        return;
      }
      case 'deep-nesting': {
        const raw = step.shape === 'array' ? '['.repeat(step.depth) + ']'.repeat(step.depth) : '{"a":'.repeat(step.depth) + '1' + '}'.repeat(step.depth);
        return this.replace(choose(this.slots(), step.pick), { raw });
      }
      case 'long-string':
        return this.replace(choose(this.slots(), step.pick), { json: step.unit.repeat(Math.ceil(step.length / step.unit.length)) });
    }
  }

  render(): string {
    let text = JSON.stringify(this.holder.root) ?? 'null';
    for (const [token, raw] of this.splices) text = text.split(JSON.stringify(token)).join(raw);
    return text;
  }

  /** Every value in the tree, the root included, parents before children. */
  private slots(): Slot[] {
    const out: Slot[] = [];
    const visit = (parent: Container, key: Key): void => {
      out.push({ parent, key });
      const value = (parent as Record<Key, Json>)[key];
      if (Array.isArray(value)) value.forEach((_, i) => visit(value, i));
      else if (isContainer(value)) for (const k of Object.keys(value)) visit(value, k);
    };
    visit(this.holder, 'root');
    return out;
  }

  /** Values an adapter could read as a number: JSON numbers and decimal strings. */
  private numericSlots(): Slot[] {
    return this.slots().filter((slot) => {
      const value = get(slot);
      return typeof value === 'number' || (typeof value === 'string' && DECIMAL_TEXT.test(value));
    });
  }

  /**
   * Puts a copy of a generated value in the tree: fast-check may hand one value to two steps,
   * and a later step writing into one would then write into the other, or put an object
   * inside itself: a cycle no JSON can render.
   */
  private replace(slot: Slot | undefined, replacement: Replacement): void {
    if (!slot) return;
    set(slot, 'json' in replacement ? structuredClone(replacement.json) : this.token(replacement.raw));
  }

  /** A placeholder string that `render` turns into `raw`. */
  private token(raw: string): string {
    const token = `@@fuzz-${this.splices.size}@@`;
    this.splices.set(token, raw);
    return token;
  }
}

function choose<T>(items: readonly T[], pick: number): T | undefined {
  return items.length === 0 ? undefined : items[pick % items.length];
}

function get(slot: Slot): Json {
  return (slot.parent as Record<Key, Json>)[slot.key] as Json;
}

function set(slot: Slot, value: Json): void {
  (slot.parent as Record<Key, Json>)[slot.key] = value;
}

function isContainer(value: Json | undefined): value is Container {
  return typeof value === 'object' && value !== null;
}

// ---------------------------------------------------------------------------------------------
// Text that was never a frame

/** Whitespace, byte soup, JSON-ish token soup, unicode (lone surrogates included), and huge texts. */
export const arbitraryText: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom(
    '', ' ', '\n', '\r\n', '\t \t', '\u0000', '\uFEFF', '\uFEFF{}', '\uD800', '\uDC00{}', '{}\uD83D', 'null', 'true', 'false', '0', '-0',
    '1e999', 'NaN', '""', '[]', '{}', '[{}]', '{"":""}', 'pong', 'ping', '{"__proto__":{"e":"24hrTicker"}}', '{"constructor":1}',
  ),
  fc.string({ unit: 'binary', maxLength: 200 }),
  fc.string({ unit: 'grapheme', maxLength: 50 }),
  fc.string({ unit: fc.constantFrom(' ', '\t', '\n', '\r', '\u00a0', '\u2028', '\u3000'), maxLength: 50 }),
  fc.uint8Array({ maxLength: 300 }).map((bytes) => Buffer.from(bytes).toString('latin1')),
  fc.uint8Array({ maxLength: 300 }).map((bytes) => Buffer.from(bytes).toString('utf8')),
  fc.string({ unit: fc.constantFrom('{', '}', '[', ']', ',', ':', '"', '\\', 'e', '1', '-', '.', 'null', 'true', ' ', 'u', '0'), maxLength: 80 }),
  fc.record({ unit: fc.constantFrom('x', ' ', '[', '{', '"', '9', '\u0000'), length: fc.integer({ min: 100_000, max: 2_000_000 }) }).map(({ unit, length }) => unit.repeat(length)),
);

/** Any JSON value, and JavaScript values pushed through `JSON.stringify`, as text. */
export const arbitraryJsonText: fc.Arbitrary<string> = fc.oneof(
  fc.jsonValue({ maxDepth: 4 }).map((value) => JSON.stringify(value)),
  fc.anything({ maxDepth: 3, withNullPrototype: true, withObjectString: true }).map((value) => safeStringify(value)),
);

function safeStringify(value: unknown): string {
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return '"unserializable"';
  }
}
