/**
 * How this process turns pub/sub messages into markets (RedisPubSub's `deserializer`):
 * decoded once per PUBLISH rather than once per subscription that received it.
 *
 * RedisPubSub decodes each message it receives once for all listeners of that channel or
 * pattern, but Redis delivers one PUBLISH to a connection once for the channel (subscribers of
 * a market by id) and once more for each matching pattern (subscribers of an exchange, of a
 * symbol, of everything), one right after the other. Without this, a market watched both ways
 * is decoded twice, and since shared delivery (src/delivery/shared-subscriptions.ts) keys its
 * payloads by the event object, also executed and serialized twice. Here a message that
 * repeats the one just decoded, byte for byte on the same channel, returns the same object.
 *
 * The memory is one message. A repeat that is really a second PUBLISH of the same state gets
 * the same object too, which is as good: the object is read-only and its content is the same.
 */
import type { Market } from '../market';
import { decodeMarket } from '../redis/market-codec';

export interface DeserializerContext {
  readonly channel: string;
}

export type MarketDeserializer = (source: string | Buffer, context?: DeserializerContext) => Market;

/**
 * A deserializer for RedisPubSub (`deserializer`), best with `messageEventName: 'messageBuffer'`
 * and `pmessageEventName: 'pmessageBuffer'`, so ioredis hands over the bytes it read without
 * converting them to strings first. Throws CorruptMarketError for a message that is not a market.
 */
export function createMarketDeserializer(): MarketDeserializer {
  let lastChannel: string | null = null;
  let lastSource: Buffer | null = null;
  let lastMarket: Market | null = null;
  return (source, context) => {
    const bytes = typeof source === 'string' ? Buffer.from(source) : source;
    const channel = context?.channel ?? null;
    if (channel !== null && channel === lastChannel && lastSource !== null && lastSource.equals(bytes)) return lastMarket!;
    lastChannel = null; // until the new message decodes
    const market = decodeMarket(bytes.toString());
    lastChannel = channel;
    lastSource = bytes;
    lastMarket = market;
    return market;
  };
}
