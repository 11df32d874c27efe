/**
 * Caps on long-lived connections (WebSocket connections and SSE streams, counted together):
 * per address and in all. Each one holds a socket, a file descriptor and buffers for as long
 * as the client likes, so they are what exhausts a server, not short requests.
 */

export interface CapLimits {
  /** Per address key; 0 = no cap. */
  readonly perAddress: number;
  /** In all; 0 = no cap. */
  readonly total: number;
}

/** Which cap a new connection would break. */
export type CapRefusal = 'address' | 'total';

export class ConnectionCaps {
  private readonly open = new Map<string, number>();
  private count = 0;

  constructor(private readonly limits: CapLimits) {}

  /** Open connections in all. */
  get total(): number {
    return this.count;
  }

  /** Why a new connection from `key` would be refused, or null if it fits. */
  refusal(key: string): CapRefusal | null {
    if (this.limits.total > 0 && this.count >= this.limits.total) return 'total';
    if (this.limits.perAddress > 0 && (this.open.get(key) ?? 0) >= this.limits.perAddress) return 'address';
    return null;
  }

  /** Counts a connection from `key` until the returned function is called (once or more). */
  add(key: string): () => void {
    this.count++;
    this.open.set(key, (this.open.get(key) ?? 0) + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.count--;
      const left = (this.open.get(key) ?? 1) - 1;
      // Only addresses with open connections take memory.
      if (left === 0) this.open.delete(key);
      else this.open.set(key, left);
    };
  }
}
