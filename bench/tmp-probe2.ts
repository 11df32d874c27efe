import { LiveService } from './lib/live-service';
import { shapesFor } from './scenarios/markets-query';
import { createKeys } from '../src/redis/keys';
import { defineScripts } from '../src/redis/scripts';
import { queryMarkets } from '../src/redis/query-markets';
const size = Number(process.env.SIZE ?? 50000);
const per = size / 5;
const live = await LiveService.start({ listings: { binance: per, coinbase: per, kraken: per, okx: per, bybit: per }, updatesPerSecond: 5000, env: { WORKERS: '1' }, logPrefix: '/tmp/probe', servedTimeoutMs: 300000 });
try {
  await live.pause();
  await new Promise((r) => setTimeout(r, 500));
  const admin = live.admin;
  defineScripts(admin);
  const keys = createKeys('tickql');
  for (const shape of shapesFor(size)) {
    if (!shape.query || !/USDT|search/.test(shape.name)) continue;
    await admin.config('RESETSTAT');
    let last;
    for (let i = 0; i < 50; i++) last = await queryMarkets(admin, keys, shape.query);
    const stats = (await admin.info('commandstats')).split('\n').filter((l) => l.startsWith('cmdstat') && !l.includes('config')).map((l) => l.replace(/,rejected.*/, '').replace('cmdstat_', '').replace(/usec=\d+,/, ''));
    console.log(`${shape.name}: plan ${last!.plan} total ${last!.total}\n  ${stats.join('\n  ')}`);
  }
  const q = await admin.zrange('{tickql}:idx:changePercent24h', 0, 20, 'REV', 'WITHSCORES');
  console.log(q.join(' '));
  const qv = await admin.zrange('{tickql}:idx:quoteVolume24h', 0, 10, 'WITHSCORES');
  console.log('qv lowest', qv.join(' '), 'zcard', await admin.zcard('{tickql}:idx:quoteVolume24h'));
} finally {
  await live.stop();
}
