/**
 * Bench child: one local exchange speaking Binance's protocol (`BinanceSim`) that sends a
 * steady number of `24hrTicker` frames per second, stamped with the time they leave, for
 * latency scenarios that start the clock at the exchange socket.
 *
 *   SIM_MARKETS  markets listed, at most 1024: what one Binance connection carries (default 1000)
 *   SIM_RATE     frames per second over all markets (default 10000)
 *   SIM_SEED     seed of the listing and the price paths (default 1)
 *
 * The simulator's own ticking sends its moves in bursts every 100 ms (or every `tickMs` when
 * shorter); here it is off (`tickMs: 0`) and a 1 ms pacer moves `SIM_RATE` random markets per
 * second along the same random walk (a `SimMarkets` with the same seed) and sends each one with
 * `BinanceSim.push`, so frames leave evenly spread over time.
 *
 * Event time: `push` builds the frame, serializes it and writes it to every subscribed socket
 * in one synchronous call, the time it stamps is the time the frame leaves. It stamps
 * `Date.now()` (whole ms); this child passes `E` instead, read from `wallClockMs()` in the same
 * synchronous step, in microseconds, and announces the endpoint with `?timeUnit=MICROSECOND`,
 * as Binance does for clients that ask for microsecond times. The Binance adapter then reads
 * `E` / 1000 into `updatedAt`, so a subscriber's receive time minus `updatedAt` is the
 * frame-to-client latency at microsecond resolution, on the one clock of this machine.
 *
 * Announces `READY {"wsUrl","restUrl","symbols":[native symbols]}`; on SIGTERM reports
 * `DONE {"sent","seconds","perSecond"}` (frames that reached at least one socket).
 */
import { BinanceSim } from '../../src/ingest/sim/binance-sim';
import { SimMarkets } from '../../src/ingest/sim/sim-markets';
import { wallClockMs } from '../lib/clock';
import { announceReady, onStop } from '../lib/processes';

const DAY_MS = 86_400_000;
/** After a stall (GC, a busy core) at most this much of a second's frames is sent at once. */
const MAX_CATCH_UP_S = 0.05;

const markets = Number(process.env.SIM_MARKETS ?? 1000);
const rate = Number(process.env.SIM_RATE ?? 10_000);
const seed = Number(process.env.SIM_SEED ?? 1);

const sim = await BinanceSim.start({ markets, tickMs: 0, seed });
const walk = new SimMarkets(markets, seed);

let sent = 0;
let owed = 0;
let last = wallClockMs();
const started = last;
const pacer = setInterval(() => {
  const now = wallClockMs();
  owed = Math.min(owed + ((now - last) / 1000) * rate, rate * MAX_CATCH_UP_S);
  last = now;
  const due = Math.floor(owed);
  owed -= due;
  for (const symbol of walk.stepRandom(due)) {
    const { E: _ms, O: _open, C: _close, ...moved } = walk.event(symbol, 0);
    const eventUs = Math.round(wallClockMs() * 1000);
    const { delivered } = sim.push(symbol, { ...moved, E: eventUs, O: eventUs - DAY_MS * 1000, C: eventUs - 1000 });
    if (delivered > 0) sent++;
  }
}, 1);

onStop(async () => {
  clearInterval(pacer);
  const seconds = (wallClockMs() - started) / 1000;
  await sim.close();
  return { sent, seconds, perSecond: sent / seconds };
});
announceReady({ wsUrl: `${sim.wsUrl}?timeUnit=MICROSECOND`, restUrl: sim.restUrl, symbols: sim.symbols.map((s) => s.symbol) });
