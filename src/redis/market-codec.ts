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

/**
 * Decoded markets by their stored text, for the read paths that meet the same states over and
 * over: a top-50 page asked a thousand times a second returns the same fifty texts until each
 * market's next update, and parsing them was the largest single cost of serving the page.
 * A text is its own key, so a market that changed is simply a new entry; looking a text up
 * hashes and compares it, far cheaper than parsing and checking it.
 *
 * The markets handed out are shared by every caller and must not be modified (no resolver
 * does). Memory: two generations of at most `capacity` entries each; a full generation
 * becomes the old one and the one before it is dropped, so entries still in use survive and
 * the rest go without any per-entry bookkeeping.
 */
export class DecodedMarkets {
  private current = new Map<string, Market>();
  private previous = new Map<string, Market>();

  constructor(private readonly capacity = 20_000) {}

  /** As `decodeMarket`, and throws the same way for a text that is not a Market. */
  decode(text: string): Market {
    let market = this.current.get(text);
    if (market !== undefined) return market;
    market = this.previous.get(text) ?? decodeMarket(text);
    if (this.current.size >= this.capacity) {
      this.previous = this.current;
      this.current = new Map();
    }
    this.current.set(text, market);
    return market;
  }
}
