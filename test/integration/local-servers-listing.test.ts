/**
 * The local exchanges' REST listings, read with plain `fetch` at the path and query the adapters
 * use: thousands of markets in each exchange's own shape, changes visible on the next read, and
 * any body a test wants. Nothing of the product's own clients is involved.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { BinanceSim } from '../../src/ingest/sim/binance-sim';
import { SPELLINGS, syntheticMarkets, type LocalMarket, type ListingOption, type Spelling } from '../../src/ingest/sim/listing';
import type { LocalClient, LocalExchangeServer } from '../../src/ingest/sim/local-exchange-server';
import { BybitServer } from '../support/exchanges/bybit-server';
import { CoinbaseServer } from '../support/exchanges/coinbase-server';
import { KrakenServer } from '../support/exchanges/kraken-server';
import { OkxServer } from '../support/exchanges/okx-server';

type Server = LocalExchangeServer<LocalClient>;

/** One listing entry read back from an exchange's answer, with its status as the exchange spells it. */
interface ReadEntry {
  readonly symbol: string;
  readonly base: string;
  readonly quote: string;
  readonly status: string;
}

interface Exchange {
  readonly name: string;
  readonly spell: Spelling;
  start(listing: ListingOption): Promise<Server>;
  /** The listing URL exactly as the exchange's adapter asks for it. */
  readonly query: string;
  /** Reads the exchange's answer; fails the test when it is not in the exchange's shape. */
  entries(body: any): ReadEntry[];
  readonly trading: string;
  /** The status a delisted market is reported with; null: left out of the listing. */
  readonly delisted: string | null;
}

const KRAKEN_V2_CODES: Readonly<Record<string, string>> = { XBT: 'BTC', XDG: 'DOGE' };

const EXCHANGES: readonly Exchange[] = [
  {
    name: 'Binance',
    spell: SPELLINGS.binance,
    start: (listing) => BinanceSim.start({ listing, tickMs: 0, pingIntervalMs: 0 }),
    query: '/api/v3/exchangeInfo?showPermissionSets=false',
    entries: (body) => {
      expect(Object.keys(body)).toEqual(expect.arrayContaining(['timezone', 'serverTime', 'symbols']));
      return body.symbols.map((s: any) => ({ symbol: s.symbol, base: s.baseAsset, quote: s.quoteAsset, status: s.status }));
    },
    trading: 'TRADING',
    delisted: 'BREAK',
  },
  {
    name: 'Coinbase',
    spell: SPELLINGS.coinbase,
    start: (listing) => CoinbaseServer.start({ listing }),
    query: '/api/v3/brokerage/market/products?product_type=SPOT',
    entries: (body) => {
      expect(body.num_products).toBe(body.products.length);
      return body.products.map((p: any) => {
        expect(p.product_type).toBe('SPOT');
        expect(p.trading_disabled).toBe(p.status !== 'online');
        return { symbol: p.product_id, base: p.base_currency_id, quote: p.quote_currency_id, status: p.status };
      });
    },
    trading: 'online',
    delisted: 'delisted',
  },
  {
    name: 'Kraken',
    spell: SPELLINGS.kraken,
    start: (listing) => KrakenServer.start({ listing }),
    query: '/0/public/AssetPairs',
    entries: (body) => {
      expect(body.error).toEqual([]);
      return Object.entries(body.result).map(([key, pair]: [string, any]) => {
        // wsname is in Kraken's legacy codes (XBT); v2 symbols are in the common ones.
        const [base, quote] = (pair.wsname as string).split('/').map((code) => KRAKEN_V2_CODES[code] ?? code) as [string, string];
        // Made-up assets have no X/Z-prefixed ids, so a pair is keyed by its altname.
        expect(key).toBe(pair.altname);
        return { symbol: `${base}/${quote}`, base, quote, status: pair.status };
      });
    },
    trading: 'online',
    delisted: 'delisted',
  },
  {
    name: 'OKX',
    spell: SPELLINGS.okx,
    start: (listing) => OkxServer.start({ listing }),
    query: '/api/v5/public/instruments?instType=SPOT',
    entries: (body) => {
      expect(body).toMatchObject({ code: '0', msg: '' });
      return body.data.map((i: any) => {
        expect(i.instType).toBe('SPOT');
        return { symbol: i.instId, base: i.baseCcy, quote: i.quoteCcy, status: i.state };
      });
    },
    trading: 'live',
    delisted: 'suspend',
  },
  {
    name: 'Bybit',
    spell: SPELLINGS.bybit,
    start: (listing) => BybitServer.start({ listing }),
    query: '/v5/market/instruments-info?category=spot',
    entries: (body) => {
      expect(body).toMatchObject({ retCode: 0, retMsg: 'OK', result: { category: 'spot' } });
      return body.result.list.map((i: any) => ({ symbol: i.symbol, base: i.baseCoin, quote: i.quoteCoin, status: i.status }));
    },
    trading: 'Trading',
    delisted: null,
  },
];

const servers: Server[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

async function start(exchange: Exchange, listing: ListingOption): Promise<Server> {
  const server = await exchange.start(listing);
  servers.push(server);
  return server;
}

async function read(exchange: Exchange, server: Server): Promise<ReadEntry[]> {
  const response = await fetch(`${server.restUrl}${exchange.query}`);
  expect(response.status).toBe(200);
  expect(response.headers.get('content-type')).toMatch(/^application\/json/);
  return exchange.entries(await response.json());
}

describe.each(EXCHANGES)('$name listing', (exchange) => {
  it('lists thousands of synthetic markets in the exchange’s spelling and shape, all trading', async () => {
    const server = await start(exchange, 3000);
    const entries = await read(exchange, server);
    const expected = syntheticMarkets(3000, exchange.spell);
    expect(entries).toEqual(expected.map((m) => ({ symbol: m.symbol, base: m.base, quote: m.quote, status: exchange.trading })));
    expect(server.listing).toEqual(expected);
    expect(server.listingRequests).toBe(1);
  });

  it('shows list, delist and setListing on the next read', async () => {
    const server = await start(exchange, 50);
    const first = server.listing[0]!;
    const added = { symbol: exchange.spell('NEWCOIN', 'EUR'), base: 'NEWCOIN', quote: 'EUR' };

    server.list(added);
    expect((await read(exchange, server)).find((e) => e.symbol === added.symbol)).toEqual({ ...added, status: exchange.trading });

    server.delist(first.symbol);
    const afterDelist = await read(exchange, server);
    if (exchange.delisted === null) {
      expect(afterDelist.map((e) => e.symbol)).not.toContain(first.symbol);
      expect(afterDelist).toHaveLength(50);
    } else {
      expect(afterDelist.find((e) => e.symbol === first.symbol)).toEqual({ symbol: first.symbol, base: first.base, quote: first.quote, status: exchange.delisted });
      expect(afterDelist).toHaveLength(51);
    }
    expect(server.listing[0]).toEqual({ ...first, trading: false });

    server.list(first); // relisted, in its old place
    expect((await read(exchange, server))[0]).toEqual({ symbol: first.symbol, base: first.base, quote: first.quote, status: exchange.trading });

    const only: LocalMarket[] = [
      { symbol: exchange.spell('ONE', 'USDT'), base: 'ONE', quote: 'USDT', trading: true },
      { symbol: exchange.spell('TWO', 'USDC'), base: 'TWO', quote: 'USDC', trading: true },
    ];
    server.setListing(only);
    expect(await read(exchange, server)).toEqual(only.map((m) => ({ symbol: m.symbol, base: m.base, quote: m.quote, status: exchange.trading })));
    expect(() => server.delist('NOT-LISTED')).toThrow(/not listed/);
    expect(server.listingRequests).toBe(4);
  });

  it('answers the listing route with any text it is given, until told to answer normally again', async () => {
    const server = await start(exchange, 10);
    const url = `${server.restUrl}${exchange.query}`;
    for (const raw of ['not json {', '[]', '{}', '']) {
      server.setListingBody(raw);
      const response = await fetch(url);
      expect(response.status).toBe(200);
      expect(await response.text()).toBe(raw);
    }
    server.setListingBody(null);
    expect(await read(exchange, server)).toHaveLength(10);
    server.setRestAvailable(false);
    expect((await fetch(url)).status).toBe(503);
    expect(server.listingRequests).toBe(6);
  });
});

describe('exchange-specific listing behaviour', () => {
  it('Binance filters by symbolStatus and leaves out permissionSets only when asked', async () => {
    const server = await start(EXCHANGES[0]!, 20);
    server.delist(server.listing[3]!.symbol);
    const trading = (await (await fetch(`${server.restUrl}/api/v3/exchangeInfo?symbolStatus=TRADING`)).json()) as { symbols: Array<Record<string, unknown>> };
    expect(trading.symbols).toHaveLength(19);
    expect(trading.symbols[0]!.permissionSets).toEqual([['SPOT']]);
    const halted = (await (await fetch(`${server.restUrl}/api/v3/exchangeInfo?symbolStatus=BREAK&showPermissionSets=false`)).json()) as { symbols: Array<Record<string, unknown>> };
    expect(halted.symbols.map((s) => s.symbol)).toEqual([server.listing[3]!.symbol]);
    expect(halted.symbols[0]).not.toHaveProperty('permissionSets');
  });

  it('Coinbase pages with limit and offset, filters by product_ids and product_type, and counts every match in num_products', async () => {
    const server = await start(EXCHANGES[1]!, 3000);
    const path = `${server.restUrl}/api/v3/brokerage/market/products`;
    const page = async (query: string) => (await (await fetch(`${path}?${query}`)).json()) as { products: Array<{ product_id: string }>; num_products: number };
    const all = server.listing.map((m) => m.symbol);

    const first = await page('product_type=SPOT&limit=100');
    expect(first.products.map((p) => p.product_id)).toEqual(all.slice(0, 100));
    expect(first.num_products).toBe(3000);
    const last = await page('limit=100&offset=2950');
    expect(last.products.map((p) => p.product_id)).toEqual(all.slice(2950));
    expect(last.num_products).toBe(3000);
    const some = await page(`product_ids=${all[7]}&product_ids=${all[9]}&product_ids=NOPE-USD`);
    expect(some).toEqual({ products: [expect.objectContaining({ product_id: all[7] }), expect.objectContaining({ product_id: all[9] })], num_products: 2 });
    expect(await page('product_type=FUTURE')).toEqual({ products: [], num_products: 0 });
  });

  it('Kraken names BTC in legacy codes in wsname and the REST asset ids', async () => {
    const server = await start(EXCHANGES[2]!, 40);
    const body = (await (await fetch(`${server.restUrl}/0/public/AssetPairs`)).json()) as { result: Record<string, Record<string, unknown>> };
    const btcQuoted = server.listing.find((m) => m.quote === 'BTC')!;
    const [key, pair] = Object.entries(body.result).find(([, p]) => p.wsname === `${btcQuoted.base}/XBT`)!;
    expect(key).toBe(`${btcQuoted.base}XBT`);
    expect(pair).toMatchObject({ altname: `${btcQuoted.base}XBT`, base: btcQuoted.base, quote: 'XXBT', status: 'online' });
    const usdQuoted = server.listing.find((m) => m.quote === 'USD')!;
    expect(Object.values(body.result).find((p) => p.wsname === usdQuoted.symbol)).toMatchObject({ quote: 'ZUSD' });
    expect(body.result).not.toHaveProperty('XXBTZUSD_d'); // the dark-pool pair only comes with BTC/USD
  });

  it('OKX needs instType and lists only SPOT instruments under it', async () => {
    const server = await start(EXCHANGES[3]!, 10);
    const missing = await fetch(`${server.restUrl}/api/v5/public/instruments`);
    expect(missing.status).toBe(400);
    expect(await missing.json()).toMatchObject({ code: '50014' });
    expect(await (await fetch(`${server.restUrl}/api/v5/public/instruments?instType=SWAP`)).json()).toEqual({ code: '0', msg: '', data: [] });
  });

  it('Bybit answers retCode 10001 for a category other than spot', async () => {
    const server = await start(EXCHANGES[4]!, 10);
    expect(await (await fetch(`${server.restUrl}/v5/market/instruments-info?category=linear`)).json()).toMatchObject({ retCode: 10001 });
  });
});
