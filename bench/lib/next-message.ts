/**
 * Reading a subscriber's latency stamp (`updatedAt`) from a message without parsing all of it:
 * the subscriber clients share the machine's cores with the server they measure, so they
 * should spend as little as possible per message. Both readers return exactly the number
 * JSON.parse would give (the same text goes through the same number conversion), or null when
 * the message is not in the expected shape, and the caller then parses it in full.
 */
import { SUBSCRIPTION_ID } from './subscriber-plan';

/** How every `next` message of the subscription begins, as graphql-ws servers write it. */
const NEXT_PREFIX = Buffer.from(`{"id":${JSON.stringify(SUBSCRIPTION_ID)},"type":"next","payload":{"data":{"priceUpdated":{`);
const UPDATED_AT = Buffer.from('"updatedAt":');
/** How such a message ends when `updatedAt`, the last field selected, closes it without errors. */
const NEXT_SUFFIX = Buffer.from('}}}}');
const JSON_NUMBER = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?$/;

/**
 * `updatedAt` of a graphql-ws `next` message of PRICE_SUBSCRIPTION (where it is the last field)
 * without errors; null for any other message.
 */
export function fastUpdatedAt(data: Buffer): number | null {
  if (data.length < NEXT_PREFIX.length + NEXT_SUFFIX.length || data.compare(NEXT_PREFIX, 0, NEXT_PREFIX.length, 0, NEXT_PREFIX.length) !== 0) return null;
  const end = data.length - NEXT_SUFFIX.length;
  if (data.compare(NEXT_SUFFIX, 0, NEXT_SUFFIX.length, end) !== 0) return null;
  const at = data.lastIndexOf(UPDATED_AT, end);
  return at < 0 ? null : numberText(data.toString('latin1', at + UPDATED_AT.length, end));
}

/**
 * `updatedAt` of a market's JSON as the raw relay sends it (one object, `updatedAt` a top-level
 * number field, no string in a market can hold a quote unescaped); null when absent.
 */
export function updatedAtOf(data: Buffer): number | null {
  const at = data.indexOf(UPDATED_AT);
  if (at < 0) return null;
  const start = at + UPDATED_AT.length;
  let end = start;
  while (end < data.length && data[end] !== 0x2c /* , */ && data[end] !== 0x7d /* } */) end++;
  return numberText(data.toString('latin1', start, end));
}

function numberText(text: string): number | null {
  return JSON_NUMBER.test(text) ? Number(text) : null;
}
