/**
 * Ready-made `FrameEvent`s for adapters' frame parsers. The constant events carry no data, so
 * one shared value serves every frame; `invalid` is the one way a parser rejects a frame.
 */
import type { FrameEvent } from './adapter';

export const ACK: FrameEvent = { kind: 'ack' };
export const HEARTBEAT: FrameEvent = { kind: 'heartbeat' };
export const IGNORED: FrameEvent = { kind: 'ignored' };

/** A frame that could not be understood; `reason` says what was expected and what came. */
export function invalid(reason: string): FrameEvent {
  return { kind: 'invalid', reason };
}
