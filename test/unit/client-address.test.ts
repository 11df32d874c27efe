import type { IncomingMessage } from 'node:http';
import { describe, expect, it } from 'vitest';
import { clientAddress, compileTrust, limitKey } from '../../src/server/client-address';

function request(remoteAddress: string | undefined, forwardedFor?: string): IncomingMessage {
  return { socket: { remoteAddress }, headers: forwardedFor === undefined ? {} : { 'x-forwarded-for': forwardedFor } } as unknown as IncomingMessage;
}

const hops = (n: number) => compileTrust(n);

describe('clientAddress with a number of proxies', () => {
  it('uses the TCP peer and ignores X-Forwarded-For unless proxies are trusted', () => {
    expect(clientAddress(request('10.0.0.5', '1.2.3.4'), hops(0))).toBe('10.0.0.5');
  });

  it('takes the entry the outermost trusted proxy appended, never one the client wrote', () => {
    // client wrote "6.6.6.6", the load balancer appended the client's real address 1.2.3.4
    expect(clientAddress(request('10.0.0.5', '6.6.6.6, 1.2.3.4'), hops(1))).toBe('1.2.3.4');
    // two proxies: the outer one appended 1.2.3.4, the inner one 10.0.0.9
    expect(clientAddress(request('10.0.0.5', '6.6.6.6, 1.2.3.4, 10.0.0.9'), hops(2))).toBe('1.2.3.4');
    // Node joins repeated X-Forwarded-For lines with ", ": the last line's last entry is the nearest hop.
    expect(clientAddress(request('10.0.0.5', '6.6.6.6, 7.7.7.7, 1.2.3.4'), hops(1))).toBe('1.2.3.4');
  });

  it('falls back to the peer when the header is missing or the chosen entry is not an address', () => {
    expect(clientAddress(request('10.0.0.5'), hops(1))).toBe('10.0.0.5');
    expect(clientAddress(request('10.0.0.5', 'unknown'), hops(1))).toBe('10.0.0.5');
    expect(clientAddress(request('10.0.0.5', ' , '), hops(1))).toBe('10.0.0.5');
  });

  it('takes the leftmost entry when there are fewer entries than trusted proxies', () => {
    expect(clientAddress(request('10.0.0.5', '1.2.3.4'), hops(3))).toBe('1.2.3.4');
  });

  it('never lets a spoofed or malformed entry through: anything but a plain address falls back to the peer', () => {
    const peer = '10.0.0.5';
    for (const spoofed of [
      '1.2.3.4:5678', // a port
      '[2001:db8::1]', // brackets
      '[2001:db8::1]:443',
      '127.1', // short, hex and octal IPv4 forms that parsers differ on
      '0x7f.0.0.1',
      '2130706433',
      '010.0.0.1',
      '1.2.3.4.5',
      '256.0.0.1',
      '1.2.3.4 5.6.7.8', // two addresses without a comma
      '"1.2.3.4"',
      '1.2.3.4;proto=https',
      'for=1.2.3.4', // the Forwarded header's syntax in the wrong header
      '\t1.2.3.4',
      '1.2.3.4\u0000',
      'x'.repeat(10_000),
      'unknown',
      '_hidden',
    ]) {
      expect(clientAddress(request(peer, spoofed), hops(1)), spoofed.slice(0, 40)).toBe(peer);
      expect(clientAddress(request(peer, `9.9.9.9, ${spoofed}`), hops(1)), spoofed.slice(0, 40)).toBe(peer);
    }
  });

  it('ignores empty entries, as a trailing or doubled comma leaves them', () => {
    expect(clientAddress(request('10.0.0.5', '6.6.6.6,,1.2.3.4,'), hops(1))).toBe('1.2.3.4');
    expect(clientAddress(request('10.0.0.5', '  1.2.3.4  '), hops(1))).toBe('1.2.3.4');
  });

  it('does not let a long forged chain move the choice: it is counted from the right', () => {
    const forged = Array.from({ length: 1000 }, (_, i) => `10.1.${i >> 8}.${i & 255}`).join(', ');
    expect(clientAddress(request('10.0.0.5', `${forged}, 203.0.113.7`), hops(1))).toBe('203.0.113.7');
  });

  it('keeps IPv6 entries, with or without a zone', () => {
    expect(clientAddress(request('10.0.0.5', '2001:db8::7'), hops(1))).toBe('2001:db8::7');
    expect(clientAddress(request('::1', 'fe80::1%eth0'), hops(1))).toBe('fe80::1%eth0');
  });

  it('falls back to "unknown" for a socket without an address (already closed)', () => {
    expect(clientAddress(request(undefined), hops(0))).toBe('unknown');
  });
});

describe('clientAddress with a list of proxies (proxy-addr trust list)', () => {
  const trust = compileTrust(['loopback', '10.0.0.0/8']);

  it('walks from the peer while each hop is a listed proxy; the first that is not is the client', () => {
    expect(clientAddress(request('127.0.0.1', '6.6.6.6, 203.0.113.7, 10.0.0.9'), trust)).toBe('203.0.113.7');
    expect(clientAddress(request('127.0.0.1', '203.0.113.7'), trust)).toBe('203.0.113.7');
    // An IPv4-mapped peer is the same loopback proxy.
    expect(clientAddress(request('::ffff:127.0.0.1', '203.0.113.7'), trust)).toBe('203.0.113.7');
  });

  it('believes nothing from a peer that is not a listed proxy', () => {
    expect(clientAddress(request('203.0.113.9', '1.2.3.4'), trust)).toBe('203.0.113.9');
  });

  it('takes the leftmost entry when every hop is a listed proxy', () => {
    expect(clientAddress(request('127.0.0.1', '10.0.0.8, 10.0.0.9'), trust)).toBe('10.0.0.8');
  });

  it('falls back to the peer when the first untrusted hop is not an address', () => {
    expect(clientAddress(request('127.0.0.1', '1.2.3.4, garbage'), trust)).toBe('127.0.0.1');
    expect(clientAddress(request('127.0.0.1', '1.2.3.4:80'), trust)).toBe('127.0.0.1');
  });
});

describe('limitKey', () => {
  it('keeps IPv4 addresses, written plain or IPv4-mapped, as they are', () => {
    expect(limitKey('127.0.0.1')).toBe('127.0.0.1');
    expect(limitKey('::ffff:127.0.0.2')).toBe('127.0.0.2');
    expect(limitKey('::FFFF:7f00:2')).toBe('127.0.0.2');
    // ipaddr.js reads the deprecated IPv4-compatible form as IPv4-mapped too.
    expect(limitKey('::1.2.3.4')).toBe('1.2.3.4');
  });

  it('groups IPv6 addresses by /64, however they are written', () => {
    const key = limitKey('2001:db8:0:1::1');
    expect(key).toBe('2001:db8:0:1::/64');
    expect(limitKey('2001:0DB8:0000:0001:ffff:ffff:ffff:ffff')).toBe(key);
    expect(limitKey('2001:db8::1:0:0:0:2')).toBe(key);
    expect(limitKey('2001:db8:0:1::1%eth0')).toBe(key);
    expect(limitKey('2001:db8:0:2::1')).not.toBe(key);
    expect(limitKey('::1')).toBe('::/64');
    expect(limitKey('fe80::1%eth0')).toBe('fe80::/64');
    expect(limitKey('64:ff9b::1.2.3.4')).toBe('64:ff9b::/64');
  });

  it('keeps anything that is not an address as it is', () => {
    expect(limitKey('unknown')).toBe('unknown');
    expect(limitKey('in-process')).toBe('in-process');
  });
});
