/**
 * Bench child (started with `startIpcChild`): local exchanges speaking Binance's protocol
 * (`BinanceSim`), in a process of their own so that producing frames does not share an event
 * loop with the process under test, sending a steady total number of `24hrTicker` frames per
 * second for throughput scenarios.
 *
 *   SIM_COUNT    simulators, each on its own port (default 1)
 *   SIM_MARKETS  markets each lists, at most 1024: what one Binance connection carries (default 1024)
 *   SIM_RATE     frames per second over all simulators together (default 10000)
 *
 * Kept lean, because it shares the machine's cores with what it measures: each simulator's own
 * ticking is off (`tickMs: 0`); instead each market's next `STATES_PER_MARKET` states are
 * serialized once at start-up (`ticker-frames.ts`, the simulator's own random walk, seed =
 * simulator number) as the combined-stream frames BinanceSim would send.
 * A 1 ms pacer then sends `SIM_RATE` frames per second, spread evenly over time, each a random
 * market's next state in turn (its states repeat in a cycle), through `BinanceSim.sendRaw` to the
 * simulator's one connection, with the event time `E` spliced in as it leaves: microseconds on
 * the machine's wall clock (`wallClockMs`), announced with `?timeUnit=MICROSECOND` as Binance
 * does for clients that ask for it. A market's frame is sent only once a connection subscribed
 * it, so the subscription handshake stays BinanceSim's own.
 *
 * Requests: `info` -> `ExchangeSimInfo` (where to connect, what to subscribe);
 * `stats` -> `{ at, sent }` (frames sent so far; `at` in epoch ms).
 */
import { BinanceSim } from '../../src/ingest/sim/binance-sim';
import { wallClockMs } from '../lib/clock';
import { serveRequests } from '../lib/ipc-child';
import { tickerFrames } from '../lib/ticker-frames';

export interface ExchangeSimInfo {
  readonly sims: ReadonlyArray<{ readonly wsUrl: string; readonly restUrl: string; readonly symbols: readonly string[] }>;
}

export interface ExchangeSimStats {
  readonly at: number;
  readonly sent: number;
}

const STATES_PER_MARKET = 8;
/** After a stall (GC, a busy core) at most this much of a second's frames goes out at once. */
const MAX_CATCH_UP_S = 0.05;

const count = Number(process.env.SIM_COUNT ?? 1);
const marketsPerSim = Number(process.env.SIM_MARKETS ?? 1024);
const rate = Number(process.env.SIM_RATE ?? 10_000);

const sims = await Promise.all(
  Array.from({ length: count }, (_, i) => BinanceSim.start({ markets: marketsPerSim, tickMs: 0, seed: i + 1, pingIntervalMs: 0 })),
);
/** Every market of every simulator, with the index of the state it sends next. */
const markets = sims.flatMap((sim, i) => tickerFrames(marketsPerSim, i + 1, STATES_PER_MARKET).map((m) => ({ ...m, sim, next: 0 })));

let sent = 0;
let owed = 0;
let last = wallClockMs();
setInterval(() => {
  const now = wallClockMs();
  owed = Math.min(owed + ((now - last) / 1000) * rate, rate * MAX_CATCH_UP_S);
  last = now;
  for (; owed >= 1; owed--) {
    const market = markets[Math.floor(Math.random() * markets.length)]!;
    if (market.sim.subscribers(market.symbol) === 0) continue;
    const [head, tail] = market.frames[market.next]!;
    market.next = (market.next + 1) % market.frames.length;
    market.sim.sendRaw(`${head}${Math.round(wallClockMs() * 1000)}${tail}`);
    sent++;
  }
}, 1);

const info: ExchangeSimInfo = {
  sims: sims.map((s) => ({ wsUrl: `${s.wsUrl}?timeUnit=MICROSECOND`, restUrl: s.restUrl, symbols: s.symbols.map((x) => x.symbol) })),
};
serveRequests({
  info: () => info,
  stats: (): ExchangeSimStats => ({ at: Date.now(), sent }),
});
