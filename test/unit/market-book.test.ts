import { describe, expect, it } from 'vitest';
import { MarketBook } from '../../src/ingest/market-book';
import { deriveMarket, EMPTY_FIELDS as EMPTY, type SymbolInfo, type TickerFields } from '../../src/market';

const BTC: SymbolInfo = { nativeSymbol: 'BTCUSDT', base: 'BTC', quote: 'USDT' };

function derive(fields: Partial<TickerFields> & { price: number }) {
  return deriveMarket({ exchange: 'binance', info: BTC }, { ...EMPTY, ...fields }, 1000, 2000);
}

describe('deriveMarket', () => {
  it('computes the change from the open when the open is known, ignoring the exchange figure', () => {
    const market = derive({ price: 110, open24h: 100, change24h: 999, changePercent24h: 999 });
    expect(market.change24h).toBe(10);
    expect(market.changePercent24h).toBe(10);
  });

  it("takes the exchange's own change when the open is unknown", () => {
    const market = derive({ price: 110, change24h: 9.5, changePercent24h: 8.6 });
    expect(market.change24h).toBe(9.5);
    expect(market.changePercent24h).toBe(8.6);
  });

  it("takes the exchange's own change when the open is 0, where a percent cannot be computed", () => {
    expect(derive({ price: 1, open24h: 0, changePercent24h: 12 }).changePercent24h).toBe(12);
  });

  it('leaves the change null when neither the open nor an exchange figure is known', () => {
    const market = derive({ price: 110 });
    expect(market.change24h).toBeNull();
    expect(market.changePercent24h).toBeNull();
  });

  it('computes the spread as a percent of the mid price', () => {
    expect(derive({ price: 100, bid: 99, ask: 101 }).spreadPercent).toBe(2);
  });

  it('has no spread without both sides of the book', () => {
    expect(derive({ price: 100, bid: 99 }).spreadPercent).toBeNull();
    expect(derive({ price: 100, ask: 101 }).spreadPercent).toBeNull();
  });

  it('names the market <exchange>:<BASE>/<QUOTE> and keeps event and receive times apart', () => {
    expect(derive({ price: 1 })).toMatchObject({
      id: 'binance:BTC/USDT',
      symbol: 'BTC/USDT',
      nativeSymbol: 'BTCUSDT',
      base: 'BTC',
      quote: 'USDT',
      updatedAt: 1000,
      receivedAt: 2000,
    });
  });
});

describe('MarketBook', () => {
  const book = () => new MarketBook('binance', (nativeSymbol) => ({ ...BTC, nativeSymbol }));

  it('emits nothing until the price is known', () => {
    const b = book();
    expect(b.apply({ nativeSymbol: 'BTCUSDT', eventTime: 1, fields: { bid: 99 } }, 10)).toBeNull();
    expect(b.apply({ nativeSymbol: 'BTCUSDT', eventTime: 2, fields: { price: 100 } }, 11)).toMatchObject({ price: 100, bid: 99 });
  });

  it('merges patches field by field; an absent field keeps its value, a null one clears it', () => {
    const b = book();
    b.apply({ nativeSymbol: 'BTCUSDT', eventTime: 1, fields: { price: 100, bid: 99, ask: 101 } }, 10);
    expect(b.apply({ nativeSymbol: 'BTCUSDT', eventTime: 2, fields: { price: 102 } }, 11)).toMatchObject({ price: 102, bid: 99, ask: 101 });
    expect(b.apply({ nativeSymbol: 'BTCUSDT', eventTime: 3, fields: { bid: null } }, 12)).toMatchObject({ price: 102, bid: null, ask: 101 });
  });

  it('ignores an update older than the latest one, and keeps the newer state', () => {
    const b = book();
    b.apply({ nativeSymbol: 'BTCUSDT', eventTime: 20, fields: { price: 120 } }, 10);
    expect(b.apply({ nativeSymbol: 'BTCUSDT', eventTime: 19, fields: { price: 119, bid: 1 } }, 11)).toBeNull();
    expect(b.apply({ nativeSymbol: 'BTCUSDT', eventTime: 21, fields: {} }, 12)).toMatchObject({ price: 120, bid: null, updatedAt: 21 });
  });

  it('applies a repeat of the same event time (a rotation overlap delivers duplicates)', () => {
    const b = book();
    b.apply({ nativeSymbol: 'BTCUSDT', eventTime: 5, fields: { price: 1 } }, 10);
    expect(b.apply({ nativeSymbol: 'BTCUSDT', eventTime: 5, fields: { price: 1 } }, 11)).toMatchObject({ price: 1, updatedAt: 5 });
  });

  it('leaves a market it emitted as it was when later patches arrive', () => {
    const b = book();
    const first = b.apply({ nativeSymbol: 'BTCUSDT', eventTime: 1, fields: { price: 100, bid: 99 } }, 10);
    b.apply({ nativeSymbol: 'BTCUSDT', eventTime: 2, fields: { price: 101, bid: 100 } }, 11);
    expect(first).toMatchObject({ price: 100, bid: 99, updatedAt: 1, receivedAt: 10 });
  });

  it('names the market from the symbol info the adapter gives at the time', () => {
    let info: SymbolInfo = { nativeSymbol: 'XBTUSDT', base: 'XBT', quote: 'USDT' };
    const b = new MarketBook('kraken', () => info);
    expect(b.apply({ nativeSymbol: 'XBTUSDT', eventTime: 1, fields: { price: 1 } }, 10)?.id).toBe('kraken:XBT/USDT');
    info = { nativeSymbol: 'XBTUSDT', base: 'BTC', quote: 'USDT' };
    expect(b.apply({ nativeSymbol: 'XBTUSDT', eventTime: 2, fields: { price: 2 } }, 11)).toMatchObject({ id: 'kraken:BTC/USDT', base: 'BTC' });
  });

  it('knows which symbols have sent a patch and how many markets it has emitted', () => {
    const b = book();
    b.apply({ nativeSymbol: 'BTCUSDT', eventTime: 1, fields: { price: 1 } }, 10);
    b.apply({ nativeSymbol: 'BTCUSDT', eventTime: 2, fields: { price: 2 } }, 10);
    b.apply({ nativeSymbol: 'ETHUSDT', eventTime: 1, fields: { bid: 1 } }, 10); // no price yet: heard, not emitted
    expect([b.has('BTCUSDT'), b.has('ETHUSDT'), b.has('SOLUSDT')]).toEqual([true, true, false]);
    expect(b.emittedMarkets).toBe(1);
  });

  it('keeps markets apart', () => {
    const b = book();
    b.apply({ nativeSymbol: 'BTCUSDT', eventTime: 5, fields: { price: 1 } }, 10);
    b.apply({ nativeSymbol: 'ETHUSDT', eventTime: 1, fields: { price: 2 } }, 10);
    expect(b.size).toBe(2);
  });
});

describe('MarketBook with several streams per market', () => {
  const info = (nativeSymbol: string) => ({ nativeSymbol, base: 'BTC', quote: 'USDT' });

  it('orders event times within each stream, not across streams', () => {
    const book = new MarketBook('bybit', info);
    expect(book.apply({ nativeSymbol: 'BTCUSDT', stream: 'ticker', eventTime: 2000, fields: { price: 100 } }, 1)).not.toBeNull();
    // The book is stamped on its own clock: an earlier time than the ticker is still news.
    const withBook = book.apply({ nativeSymbol: 'BTCUSDT', stream: 'book', eventTime: 1990, fields: { bid: 99, ask: 101 } }, 2);
    expect(withBook).toMatchObject({ price: 100, bid: 99, ask: 101, updatedAt: 2000 });
    // But an older book than the last book is not.
    expect(book.apply({ nativeSymbol: 'BTCUSDT', stream: 'book', eventTime: 1980, fields: { bid: 1, ask: 2 } }, 3)).toBeNull();
    const later = book.apply({ nativeSymbol: 'BTCUSDT', stream: 'book', eventTime: 2010, fields: { bid: 98, ask: 102 } }, 4);
    expect(later).toMatchObject({ price: 100, bid: 98, ask: 102, updatedAt: 2010 });
  });

  it('emits nothing until some stream has given a price', () => {
    const book = new MarketBook('bybit', info);
    expect(book.apply({ nativeSymbol: 'BTCUSDT', stream: 'book', eventTime: 1, fields: { bid: 99, ask: 101 } }, 1)).toBeNull();
    expect(book.apply({ nativeSymbol: 'BTCUSDT', stream: 'ticker', eventTime: 2, fields: { price: 100 } }, 2)).toMatchObject({ bid: 99, ask: 101, price: 100 });
  });

  it('gives back the latest emitted state of every market, exactly as emitted, and nothing for a market without a price', () => {
    const infos: Record<string, SymbolInfo> = {
      BTCUSDT: BTC,
      ETHUSDT: { nativeSymbol: 'ETHUSDT', base: 'ETH', quote: 'USDT' },
      SOLUSDT: { nativeSymbol: 'SOLUSDT', base: 'SOL', quote: 'USDT' },
    };
    const b = new MarketBook('binance', (nativeSymbol) => infos[nativeSymbol]!);
    const emitted = new Map<string, unknown>();
    const apply = (nativeSymbol: string, eventTime: number, fields: Partial<TickerFields>, receivedAt: number) => {
      const market = b.apply({ nativeSymbol, eventTime, fields }, receivedAt);
      if (market) emitted.set(market.id, market);
    };
    apply('BTCUSDT', 1, { price: 100, bid: 99, open24h: 90 }, 10);
    apply('ETHUSDT', 1, { price: 3000 }, 11);
    apply('BTCUSDT', 2, { price: 101 }, 12);
    apply('BTCUSDT', 1, { price: 50 }, 13); // older: ignored
    apply('SOLUSDT', 1, { bid: 180 }, 14); // no price yet: never emitted
    apply('ETHUSDT', 3, { ask: 3001 }, 15);
    expect(new Map([...b.latest()].map((m) => [m.id, m]))).toEqual(emitted);
    expect(emitted.size).toBe(2);
  });
});
