import type { IncomingMessage } from 'node:http';
import { describe, expect, it } from 'vitest';
import { clientAddress, limitKey } from '../../src/server/client-address';

function request(remoteAddress: string, forwardedFor?: string | string[]): IncomingMessage {
  return { socket: { remoteAddress }, headers: forwardedFor === undefined ? {} : { 'x-forwarded-for': forwardedFor } } as unknown as IncomingMessage;
}

describe('clientAddress', () => {
  it('uses the TCP peer and ignores X-Forwarded-For unless proxies are trusted', () => {
    expect(clientAddress(request('10.0.0.5', '1.2.3.4'), 0)).toBe('10.0.0.5');
  });

  it('takes the entry the outermost trusted proxy appended, never one the client wrote', () => {
    // client wrote "6.6.6.6", the load balancer appended the client's real address 1.2.3.4
    expect(clientAddress(request('10.0.0.5', '6.6.6.6, 1.2.3.4'), 1)).toBe('1.2.3.4');
    // two proxies: the outer one appended 1.2.3.4, the inner one 10.0.0.9
    expect(clientAddress(request('10.0.0.5', '6.6.6.6, 1.2.3.4, 10.0.0.9'), 2)).toBe('1.2.3.4');
    expect(clientAddress(request('10.0.0.5', ['6.6.6.6', '1.2.3.4']), 1)).toBe('1.2.3.4');
  });

  it('falls back to the peer when the header is missing or its entry is not an address', () => {
    expect(clientAddress(request('10.0.0.5'), 1)).toBe('10.0.0.5');
    expect(clientAddress(request('10.0.0.5', 'unknown'), 1)).toBe('10.0.0.5');
    expect(clientAddress(request('10.0.0.5', ' , '), 1)).toBe('10.0.0.5');
  });

  it('takes the leftmost entry when there are fewer entries than trusted proxies', () => {
    expect(clientAddress(request('10.0.0.5', '1.2.3.4'), 3)).toBe('1.2.3.4');
  });
});

describe('limitKey', () => {
  it('keeps IPv4 addresses, written plain or IPv4-mapped, as they are', () => {
    expect(limitKey('127.0.0.1')).toBe('127.0.0.1');
    expect(limitKey('::ffff:127.0.0.2')).toBe('127.0.0.2');
  });

  it('groups IPv6 addresses by /64, however they are written', () => {
    const key = limitKey('2001:db8:0:1::1');
    expect(key).toBe('2001:db8:0:1::/64');
    expect(limitKey('2001:0DB8:0000:0001:ffff:ffff:ffff:ffff')).toBe(key);
    expect(limitKey('2001:db8::1:0:0:0:2')).toBe(key);
    expect(limitKey('2001:db8:0:2::1')).not.toBe(key);
    expect(limitKey('::1')).toBe('0:0:0:0::/64');
    expect(limitKey('fe80::1%eth0')).toBe('fe80:0:0:0::/64');
    expect(limitKey('::1.2.3.4')).toBe('0:0:0:0::/64');
    expect(limitKey('64:ff9b::1.2.3.4')).toBe('64:ff9b:0:0::/64');
  });
});
