import type { Market } from '../../src/market';

/** A complete Market for tests; every field can be overridden. */
export function makeMarket(overrides: Partial<Market> & { exchange?: string; base?: string; quote?: string } = {}): Market {
  const exchange = overrides.exchange ?? 'binance';
  const base = overrides.base ?? 'BTC';
  const quote = overrides.quote ?? 'USDT';
  const symbol = overrides.symbol ?? `${base}/${quote}`;
  return {
    id: `${exchange}:${symbol}`,
    exchange,
    symbol,
    nativeSymbol: `${base}${quote}`,
    base,
    quote,
    price: 100,
    bid: 99.5,
    ask: 100.5,
    open24h: 90,
    high24h: 110,
    low24h: 80,
    volume24h: 1000,
    quoteVolume24h: 100_000,
    change24h: 10,
    changePercent24h: 11.11,
    spreadPercent: 1,
    updatedAt: 1_785_300_000_000,
    receivedAt: 1_785_300_000_010,
    ...overrides,
  };
}
