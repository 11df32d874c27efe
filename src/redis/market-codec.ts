/**
 * How a Market is stored and published: JSON of the Market object. Numbers survive exactly
 * (JSON.stringify prints the shortest text that parses back to the same 64-bit float), the
 * stored text doubles as the pub/sub payload, so an update is serialized once, and a decoder
 * that checks the shape keeps a corrupt value from reaching a client.
 */
import { NULLABLE_MARKET_FIELDS, type Market } from '../market';

export function encodeMarket(market: Market): string {
  return JSON.stringify(market);
}

const REQUIRED_STRINGS = ['id', 'exchange', 'symbol', 'nativeSymbol', 'base', 'quote'] as const;
const REQUIRED_NUMBERS = ['price', 'updatedAt', 'receivedAt'] as const;

export class CorruptMarketError extends Error {
  override readonly name = 'CorruptMarketError';
}

/** Parses a stored market; throws CorruptMarketError when the text is not a Market. */
export function decodeMarket(text: string): Market {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new CorruptMarketError(`stored market is not JSON: ${text.slice(0, 80)}`);
  }
  if (typeof value !== 'object' || value === null) throw new CorruptMarketError('stored market is not an object');
  const record = value as Record<string, unknown>;
  for (const key of REQUIRED_STRINGS) {
    if (typeof record[key] !== 'string') throw new CorruptMarketError(`stored market lacks ${key}`);
  }
  for (const key of REQUIRED_NUMBERS) {
    if (typeof record[key] !== 'number') throw new CorruptMarketError(`stored market lacks ${key}`);
  }
  for (const key of NULLABLE_MARKET_FIELDS) {
    if (record[key] === undefined) record[key] = null;
    else if (record[key] !== null && typeof record[key] !== 'number') throw new CorruptMarketError(`stored market has a bad ${key}`);
  }
  return record as unknown as Market;
}
