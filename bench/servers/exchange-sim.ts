/**
 * Bench child: local exchanges speaking Binance's protocol (`BinanceSim`), in a process of
 * their own so that generating and sending frames does not share an event loop with the
 * process under test.
 *
 *   SIM_COUNT    simulators to start, each on its own port (default 1)
 *   SIM_MARKETS  markets each lists, at most 1024: what one Binance connection carries (default 1024)
 *   SIM_TICK_MS  average milliseconds between two moves of one market (default 1000); each move
 *                is one `24hrTicker` frame, so one simulator offers SIM_MARKETS * 1000 / SIM_TICK_MS
 *                frames per second
 *
 * Simulator i uses seed i + 1; its listing starts with the same real pairs as every other, so a
 * feed per simulator needs its own exchange id to keep market ids apart.
 *
 * Announces `READY {"sims":[{"wsUrl","restUrl","symbols":[...]}]}`.
 */
import { BinanceSim } from '../../src/ingest/sim/binance-sim';
import { announceReady } from '../lib/processes';

const count = Number(process.env.SIM_COUNT ?? 1);
const markets = Number(process.env.SIM_MARKETS ?? 1024);
const tickMs = Number(process.env.SIM_TICK_MS ?? 1000);

const sims = await Promise.all(
  Array.from({ length: count }, (_, i) => BinanceSim.start({ markets, tickMs, seed: i + 1, pingIntervalMs: 0 })),
);

announceReady({ sims: sims.map((s) => ({ wsUrl: s.wsUrl, restUrl: s.restUrl, symbols: s.symbols.map((x) => x.symbol) })) });

const stop = () => void Promise.all(sims.map((s) => s.close())).then(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
