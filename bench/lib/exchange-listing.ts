/**
 * What the bench's local exchanges list: each exchange's built-in pairs (what tickql subscribes
 * when configured with them, and its fallback while a listing cannot be read), then synthetic
 * markets (src/ingest/sim/listing.ts) up to the size asked for.
 */
import { BINANCE_DEFAULT_SYMBOLS } from '../../src/ingest/exchanges/binance';
import { BYBIT_DEFAULT_SYMBOLS } from '../../src/ingest/exchanges/bybit';
import { COINBASE_DEFAULT_SYMBOLS } from '../../src/ingest/exchanges/coinbase';
import { KRAKEN_DEFAULT_SYMBOLS } from '../../src/ingest/exchanges/kraken';
import { OKX_DEFAULT_SYMBOLS } from '../../src/ingest/exchanges/okx';
import { SPELLINGS, syntheticMarkets, type LocalMarket, type Spelling } from '../../src/ingest/sim/listing';
import { splitConcatenated, splitSeparated } from '../../src/ingest/symbols';

export type LocalExchangeId = 'binance' | 'coinbase' | 'kraken' | 'okx' | 'bybit';

export const BUILT_IN_SYMBOLS: Readonly<Record<LocalExchangeId, readonly string[]>> = {
  binance: BINANCE_DEFAULT_SYMBOLS,
  coinbase: COINBASE_DEFAULT_SYMBOLS,
  kraken: KRAKEN_DEFAULT_SYMBOLS,
  okx: OKX_DEFAULT_SYMBOLS,
  bybit: BYBIT_DEFAULT_SYMBOLS,
};

/**
 * The built-in pairs, then synthetic markets up to `size`, skipping any synthetic market whose
 * base is one of the built-in pairs' bases (so no symbol is listed twice, and every synthetic
 * market is plainly made up).
 */
export function benchListing(exchange: LocalExchangeId, size: number): LocalMarket[] {
  const spell: Spelling = SPELLINGS[exchange];
  const builtIn = BUILT_IN_SYMBOLS[exchange].map((symbol): LocalMarket => {
    const info = exchange === 'binance' || exchange === 'bybit' ? splitConcatenated(symbol) : splitSeparated(symbol);
    if (info === null) throw new Error(`cannot split the built-in ${exchange} symbol ${symbol}`);
    return { symbol, base: info.base, quote: info.quote, trading: true };
  });
  const builtInBases = new Set(builtIn.map((m) => m.base));
  const extra: LocalMarket[] = [];
  const wanted = Math.max(0, size - builtIn.length);
  for (let pool = wanted + 100; extra.length < wanted; pool *= 2) {
    extra.length = 0;
    for (const market of syntheticMarkets(pool, spell)) {
      if (extra.length === wanted) break;
      if (!builtInBases.has(market.base)) extra.push(market);
    }
  }
  return [...builtIn, ...extra];
}

