/**
 * Which client a request comes from, for per-address limits (access-control.ts). The walk
 * through X-Forwarded-For is proxy-addr's and the address parsing ipaddr.js's: this parsing
 * decides whose budget a request spends, so it is left to well-tested libraries.
 */
import type { IncomingMessage } from 'node:http';
import ipaddr from 'ipaddr.js';
import proxyAddr from 'proxy-addr';
import type { TrustProxy } from '../config';

/** Whether the hop `hop` steps from this process (0: the TCP peer), at `address`, is a proxy to believe. */
export type Trust = (address: string, hop: number) => boolean;

/**
 * `TRUST_PROXY` as proxy-addr's trust function. A count n believes the TCP peer and the
 * n - 1 entries nearest it, so the client is the entry the outermost of n proxies appended;
 * a list believes every hop whose address is in it.
 */
export function compileTrust(trust: TrustProxy): Trust {
  if (typeof trust === 'number') return (_address, hop) => hop < trust;
  return proxyAddr.compile([...trust]);
}

/**
 * The client's address. proxy-addr starts at the TCP peer and walks X-Forwarded-For from
 * the right while each hop is a trusted proxy; the first hop that is not is the client.
 * Entries further left were written by the client and could be anything, so they are never
 * used. A chosen entry that is not a plain IP address (garbage, a port, brackets) falls back
 * to the peer's address, which the client cannot choose.
 */
export function clientAddress(request: IncomingMessage, trust: Trust): string {
  const peer = request.socket.remoteAddress ?? 'unknown';
  const chosen: unknown = proxyAddr(request, trust);
  return typeof chosen === 'string' && isPlainAddress(chosen) ? chosen : peer;
}

/** An IPv4 address in dotted quads (not 127.1, hex or octal) or any valid IPv6 address. */
function isPlainAddress(text: string): boolean {
  return ipaddr.IPv4.isValidFourPartDecimal(text) || ipaddr.IPv6.isValid(text);
}

/**
 * The key limits are counted under: an IPv4 address as is (also when written as IPv4-mapped
 * IPv6), an IPv6 address by its /64 network, since one subscriber line usually holds a whole
 * /64 and could otherwise take a fresh address for every request. Anything else, as is.
 */
export function limitKey(address: string): string {
  if (!ipaddr.isValid(address)) return address;
  const parsed = ipaddr.process(address);
  if (parsed instanceof ipaddr.IPv4) return parsed.toString();
  const network = new ipaddr.IPv6([...(parsed as ipaddr.IPv6).parts.slice(0, 4), 0, 0, 0, 0]);
  return `${network.toString()}/64`;
}
