/**
 * Binance combined-stream `24hrTicker` frames, serialized once so a load generator spends its
 * CPU on sending, not on building: each market's random walk (`SimMarkets`, the simulator's
 * own) is stepped `states` times and every state kept as the frame BinanceSim would send,
 * `{"stream":"<symbol>@ticker","data":{...}}`, split around its event time `E` so a sender can
 * stamp the moment the frame leaves: `${head}${E}${tail}`.
 */
import { SimMarkets } from '../../src/ingest/sim/sim-markets';

export interface TickerFrames {
  /** Native symbol, as BinanceSim lists it. */
  readonly symbol: string;
  /** Successive states, each split around its event time. */
  readonly frames: ReadonlyArray<readonly [head: string, tail: string]>;
}

const E_PLACEHOLDER = 1234567890123;

/** Frames for the `count` markets a BinanceSim with this seed lists, in its listing order. */
export function tickerFrames(count: number, seed: number, states: number): TickerFrames[] {
  const walk = new SimMarkets(count, seed);
  const out = walk.list.map(({ symbol }) => ({ symbol, frames: [] as Array<readonly [string, string]> }));
  const mark = `"E":${E_PLACEHOLDER}`;
  for (let s = 0; s < states; s++) {
    for (const market of out) {
      const text = JSON.stringify({ stream: `${market.symbol.toLowerCase()}@ticker`, data: { ...walk.event(market.symbol, 0), E: E_PLACEHOLDER } });
      const at = text.indexOf(mark) + 4;
      market.frames.push([text.slice(0, at), text.slice(at + String(E_PLACEHOLDER).length)]);
    }
    walk.stepRandom(count); // about one step of each market between two states
  }
  return out;
}
