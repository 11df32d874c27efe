/**
 * Which client a request comes from, for per-address limits (access-control.ts).
 */
import type { IncomingMessage } from 'node:http';
import { isIP } from 'node:net';

/**
 * The client's address: the TCP peer's, or, behind `trustProxy` proxies that each append the
 * address they received from to X-Forwarded-For, the entry the outermost trusted proxy
 * appended. Entries further left were written by the client and could be anything, so they
 * are never used; an entry that is not an IP address falls back to the peer's address.
 */
export function clientAddress(request: IncomingMessage, trustProxy: number): string {
  const peer = request.socket.remoteAddress ?? 'unknown';
  if (trustProxy === 0) return peer;
  const header = request.headers['x-forwarded-for'];
  const hops = (Array.isArray(header) ? header.join(',') : (header ?? ''))
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  if (hops.length === 0) return peer;
  const chosen = hops[Math.max(0, hops.length - trustProxy)]!;
  return isIP(chosen) ? chosen : peer;
}

/**
 * The key limits are counted under: an IPv4 address as is (also when written as IPv4-mapped
 * IPv6), an IPv6 address by its /64 network, since one subscriber line usually holds a whole
 * /64 and could otherwise take a fresh address for every request.
 */
export function limitKey(address: string): string {
  const plain = address.replace(/%.*$/, ''); // zone index, as in fe80::1%eth0
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(plain);
  if (mapped) return mapped[1]!;
  if (isIP(plain) !== 6) return plain;
  return `${ipv6Groups(plain).slice(0, 4).join(':')}::/64`;
}

/** The eight 16-bit groups of a valid IPv6 address, in lower-case hex without leading zeros. */
function ipv6Groups(address: string): string[] {
  const [head = '', tail] = address.split('::');
  const part = (s: string): string[] => {
    if (s === '') return [];
    const groups = s.split(':');
    const last = groups[groups.length - 1]!;
    if (last.includes('.')) {
      // Trailing dotted IPv4 (::1.2.3.4): two groups.
      const [a = 0, b = 0, c = 0, d = 0] = last.split('.').map(Number);
      groups.splice(-1, 1, ((a << 8) | b).toString(16), ((c << 8) | d).toString(16));
    }
    return groups;
  };
  const front = part(head);
  const back = tail === undefined ? [] : part(tail);
  const zeros = tail === undefined ? [] : Array<string>(8 - front.length - back.length).fill('0');
  return [...front, ...zeros, ...back].map((g) => parseInt(g, 16).toString(16));
}
