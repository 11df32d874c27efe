import { describe, expect, it } from 'vitest';
import { ACK, HEARTBEAT, IGNORED, invalid } from '../../src/ingest/frame-events';

describe('frame events', () => {
  it('names each data-free event by its kind', () => {
    expect(ACK).toEqual({ kind: 'ack' });
    expect(HEARTBEAT).toEqual({ kind: 'heartbeat' });
    expect(IGNORED).toEqual({ kind: 'ignored' });
  });

  it('rejects a frame with the reason it was given', () => {
    expect(invalid('expected "s" as a string, got number 5')).toEqual({ kind: 'invalid', reason: 'expected "s" as a string, got number 5' });
  });
});
