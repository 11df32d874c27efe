/**
 * Helpers for reading untyped JSON frames at the edge. Adapters receive `unknown` values and
 * check them here once; error texts say what was expected and what came, so an `invalid`
 * reason is enough to diagnose a frame without a packet capture.
 */

export type JsonResult = { readonly ok: true; readonly value: unknown } | { readonly ok: false; readonly reason: string };

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

const SNIPPET_LENGTH = 120;

/** The start of a long text, so one huge frame cannot flood the logs. */
export function snippet(text: string): string {
  return text.length <= SNIPPET_LENGTH ? text : `${text.slice(0, SNIPPET_LENGTH)}... (${text.length} chars)`;
}
