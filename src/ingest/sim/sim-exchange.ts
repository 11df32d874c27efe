/**
 * The simulated exchange behind `FEEDS=sim`. Today it is one simulator speaking Binance's
 * protocol, read by the ordinary Binance adapter, so the product's whole ingest path (socket
 * loop, parser, market book) runs for real without network access. This file is where another
 * protocol's simulator would be chosen or added.
 */
import { BinanceSim, type BinanceSimOptions } from './binance-sim';

export type SimExchange = BinanceSim;
export type SimExchangeOptions = BinanceSimOptions;

/** Starts the simulator on 127.0.0.1 (a free port unless `port` is given). */
export function startSimExchange(options: SimExchangeOptions = {}): Promise<SimExchange> {
  return BinanceSim.start(options);
}
