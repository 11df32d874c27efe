import type { Market } from '../../src/market';
import { createPrng } from '../../src/ingest/sim/prng';

const EXCHANGES = ['binance', 'coinbase', 'kraken', 'okx', 'bybit'];
const QUOTES = ['USDT', 'USDT', 'USDT', 'USD', 'USDC', 'BTC', 'EUR'];

/** `count` distinct markets with plausible, varied values; about 1 in 20 lacks a spread. */
export function syntheticMarkets(count: number, seed: number): Market[] {
  const random = createPrng(seed); // deterministic: every run benchmarks the same data
  const out: Market[] = [];
  const seen = new Set<string>();
  for (let i = 0; out.length < count; i++) {
    const exchange = EXCHANGES[i % EXCHANGES.length]!;
    const base = i < 40 ? ['BTC', 'ETH', 'SOL', 'XRP', 'DOGE', 'ADA', 'AVAX', 'LINK'][i % 8]! : `T${Math.floor(i / EXCHANGES.length).toString(36).toUpperCase()}`;
    const quote = QUOTES[Math.floor(random() * QUOTES.length)]!;
    const id = `${exchange}:${base}/${quote}`;
    if (seen.has(id) || base === quote) continue;
    seen.add(id);
    const price = 10 ** (random() * 8 - 3);
    const open = price * (1 + (random() - 0.5) * 0.2);
    const bid = price * (1 - random() * 0.001);
    const ask = price * (1 + random() * 0.001);
    const volume = 10 ** (random() * 7);
    out.push({
      id,
      exchange,
      symbol: `${base}/${quote}`,
      nativeSymbol: `${base}${quote}`,
      base,
      quote,
      price,
      bid: random() < 0.05 ? null : bid,
      ask,
      open24h: open,
      high24h: Math.max(price, open) * 1.01,
      low24h: Math.min(price, open) * 0.99,
      volume24h: volume,
      quoteVolume24h: volume * price,
      change24h: price - open,
      changePercent24h: ((price - open) / open) * 100,
      spreadPercent: null,
      updatedAt: 1_785_300_000_000 + i,
      receivedAt: Date.now(),
    });
  }
  return out.map((m) => ({ ...m, spreadPercent: m.bid === null ? null : ((m.ask! - m.bid) / ((m.ask! + m.bid) / 2)) * 100 }));
}
