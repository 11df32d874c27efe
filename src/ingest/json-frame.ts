/**
 * Helpers for reading untyped JSON frames at the edge. Adapters receive `unknown` values and
 * check them here once; error texts say what was expected and what came, so an `invalid`
 * reason is enough to diagnose a frame without a packet capture.
 */

/**
 * A value read from the wire, or the reason it could not be. Readers return this instead of
 * throwing, so a parser stays total and the first bad field's reason reaches the log intact.
 */
export type Result<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly reason: string };

export type JsonResult = Result<unknown>;

/** A failed `Result`; `never` lets it stand for a `Result` of any type. */
export function fail(reason: string): Result<never> {
  return { ok: false, reason };
}

export function parseJson(text: string): JsonResult {
  try {
    return { ok: true, value: JSON.parse(text) as unknown };
  } catch (err) {
    const detail = err instanceof Error ? err.message : String(err);
    return { ok: false, reason: `not JSON (${detail}): ${snippet(text)}` };
  }
}

export function isRecord(value: unknown): value is Readonly<Record<string, unknown>> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A short description of a value for error messages: `string "abc"`, `number 5`, `array(3)`. */
export function describe(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (Array.isArray(value)) return `array(${value.length})`;
  if (typeof value === 'string') return `string ${snippet(JSON.stringify(value))}`;
  if (typeof value === 'object') return 'object';
  return `${typeof value} ${String(value)}`;
}

const DESCRIBED_KEYS = 8;

/**
 * The first keys of an object, comma-separated, for the reason of a frame no rule matched:
 * the keys usually tell which message it was. Capped so a huge object cannot flood the logs.
 */
export function describeKeys(record: Readonly<Record<string, unknown>>): string {
  return Object.keys(record).slice(0, DESCRIBED_KEYS).join(', ');
}

const SNIPPET_LENGTH = 120;

/** The start of a long text, so one huge frame cannot flood the logs. */
export function snippet(text: string): string {
  return text.length <= SNIPPET_LENGTH ? text : `${text.slice(0, SNIPPET_LENGTH)}... (${text.length} chars)`;
}
