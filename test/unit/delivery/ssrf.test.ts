import { describe, expect, it } from 'vitest';
import { checkTargetUrl, isForbiddenAddress, type Lookup } from '../../../src/delivery/ssrf.js';

const resolvesTo =
  (...addresses: string[]): Lookup =>
  async () =>
    addresses.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));

const failingLookup: Lookup = async (hostname) => {
  throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' });
};

const unusedLookup: Lookup = async () => {
  throw new Error('lookup must not be called');
};

describe('isForbiddenAddress', () => {
  it.each([
    ['0.0.0.0', 'unspecified'],
    ['0.1.2.3', 'this network'],
    ['127.0.0.1', 'loopback'],
    ['127.255.255.254', 'loopback, end of range'],
    ['10.0.0.1', 'private 10/8'],
    ['10.255.255.255', 'private 10/8, end of range'],
    ['172.16.0.1', 'private 172.16/12'],
    ['172.31.255.255', 'private 172.16/12, end of range'],
    ['192.168.1.1', 'private 192.168/16'],
    ['100.64.0.1', 'carrier-grade NAT'],
    ['100.127.255.255', 'carrier-grade NAT, end of range'],
    ['169.254.0.1', 'link-local'],
    ['169.254.169.254', 'cloud metadata'],
    ['224.0.0.1', 'multicast'],
    ['239.255.255.250', 'multicast, end of range'],
    ['240.0.0.1', 'reserved'],
    ['255.255.255.255', 'broadcast'],
    ['198.18.0.1', 'benchmarking'],
    ['198.19.255.255', 'benchmarking, end of range'],
  ])('refuses the IPv4 address %s (%s)', (ip) => {
    expect(isForbiddenAddress(ip)).toBe(true);
  });

  it.each([
    ['::', 'unspecified'],
    ['::1', 'loopback'],
    ['0:0:0:0:0:0:0:1', 'loopback, written out'],
    ['fe80::1', 'link-local'],
    ['fe80::1%eth0', 'link-local with a zone'],
    ['febf:ffff::1', 'link-local, end of range'],
    ['fec0::1', 'site-local (deprecated)'],
    ['fc00::1', 'unique-local fc00::/8'],
    ['fd12:3456:789a::1', 'unique-local fd00::/8'],
    ['ff02::1', 'multicast'],
    ['FF05::1:3', 'multicast, upper case'],
  ])('refuses the IPv6 address %s (%s)', (ip) => {
    expect(isForbiddenAddress(ip)).toBe(true);
  });

  it.each([
    ['::ffff:10.0.0.1', 'IPv4-mapped, dotted'],
    ['::ffff:a00:1', 'IPv4-mapped, hex'],
    ['::ffff:127.0.0.1', 'IPv4-mapped loopback'],
    ['::ffff:7f00:1', 'IPv4-mapped loopback, hex'],
    ['::ffff:169.254.169.254', 'IPv4-mapped metadata'],
    ['::ffff:a9fe:a9fe', 'IPv4-mapped metadata, hex'],
    ['0:0:0:0:0:ffff:c0a8:101', 'IPv4-mapped, written out'],
    ['::127.0.0.1', 'IPv4-compatible loopback'],
    ['64:ff9b::10.0.0.1', 'NAT64, dotted'],
    ['64:ff9b::7f00:1', 'NAT64 loopback, hex'],
    ['64:ff9b::a9fe:a9fe', 'NAT64 metadata'],
    ['2002:a00:1::', '6to4 of 10.0.0.1'],
    ['2002:7f00:1::1', '6to4 of 127.0.0.1'],
    ['2002:a9fe:a9fe::1', '6to4 of 169.254.169.254'],
  ])('refuses %s, which embeds a forbidden IPv4 address (%s)', (ip) => {
    expect(isForbiddenAddress(ip)).toBe(true);
  });

  it.each([
    ['192.0.0.1', 'IETF protocol assignments (DS-Lite B4)'],
    ['192.0.0.170', 'NAT64 prefix discovery'],
    ['64:ff9b:1::a00:1', 'local-use NAT64'],
    ['64:ff9b:1:ffff::8.8.8.8', 'local-use NAT64 of a public address: the operator decides where it goes'],
  ])('refuses %s (%s)', (ip) => {
    expect(isForbiddenAddress(ip)).toBe(true);
  });

  // Each of these was let through before the list was checked against the IANA registries.
  it.each([
    ['::ffff:0:7f00:1', 'IPv4-translated (RFC 2765) loopback, hex'],
    ['::ffff:0:127.0.0.1', 'IPv4-translated loopback, dotted'],
    ['::ffff:0:a9fe:a9fe', 'IPv4-translated metadata'],
    ['0:0:0:0:ffff:0:a00:1', 'IPv4-translated 10.0.0.1, written out'],
    ['::ffff:0:8.8.8.8', 'IPv4-translated, even of a public address: a translator decides where it goes'],
    ['::8.8.8.8', 'IPv4-compatible (deprecated), even of a public address'],
    ['::2', 'IPv4-compatible 0.0.0.2'],
    ['100::1', 'discard-only 100::/64'],
    ['100:0:0:1::1', 'dummy prefix 100:0:0:1::/64'],
    ['5f00::1', 'SRv6 SIDs 5f00::/16'],
    ['2001:db8::1', 'documentation 2001:db8::/32'],
    ['2001:db8:ffff:ffff::1', 'documentation, end of range'],
    ['3fff::1', 'documentation 3fff::/20 (RFC 9637)'],
    ['3fff:fff:ffff::1', 'documentation 3fff::/20, end of range'],
    ['2001:0:4136:e378:8000:63bf:80ff:fffe', 'Teredo with client 127.0.0.1'],
    ['2001::1', 'Teredo prefix'],
    ['2001:2::1', 'benchmarking 2001:2::/48'],
    ['2001:10::1', 'ORCHID (deprecated)'],
    ['2001:1ff:ffff::1', 'IETF protocol assignments 2001::/23, end of range'],
    ['4000::1', 'outside global unicast 2000::/3 (unassigned)'],
    ['192.0.2.1', 'documentation TEST-NET-1'],
    ['198.51.100.7', 'documentation TEST-NET-2'],
    ['203.0.113.25', 'documentation TEST-NET-3'],
    ['::ffff:192.0.2.1', 'IPv4-mapped documentation'],
    ['64:ff9b::203.0.113.25', 'NAT64 of documentation'],
    ['2002:c000:201::1', '6to4 of 192.0.2.1'],
  ])('refuses %s (%s), which is not globally reachable', (ip) => {
    expect(isForbiddenAddress(ip)).toBe(true);
  });

  it.each([
    '93.184.216.34',
    '8.8.8.8',
    '1.1.1.1',
    '172.15.255.255',
    '172.32.0.0',
    '100.63.255.255',
    '100.128.0.0',
    '198.17.255.255',
    '198.20.0.0',
    '223.255.255.255',
    '192.0.1.255',
    '192.0.3.0',
    '2606:4700::1111',
    '2001:4860:4860::8888',
    '2001:200::1',
    '2a00:1450:4001:800::200e',
    '3fff:1000::1',
    '::ffff:93.184.216.34',
    '::ffff:5db8:d822',
    '64:ff9b::8.8.8.8',
    '2002:808:808::1',
  ])('allows the public address %s', (ip) => {
    expect(isForbiddenAddress(ip)).toBe(false);
  });

  it('refuses strings that are not IP addresses, failing closed', () => {
    expect(isForbiddenAddress('example.com')).toBe(true);
    expect(isForbiddenAddress('')).toBe(true);
    expect(isForbiddenAddress('10.0.0.256')).toBe(true);
  });
});

describe('checkTargetUrl', () => {
  it('refuses a host name that resolves to a private address', async () => {
    const result = await checkTargetUrl('https://hooks.example.com/in', {
      allowPrivate: false,
      lookup: resolvesTo('10.0.0.1'),
    });
    expect(result).toEqual({ ok: false, reason: expect.stringContaining('10.0.0.1') });
  });

  it.each(['::ffff:0:7f00:1', '::ffff:0:a9fe:a9fe', '100::1', '2001:0:4136:e378:8000:63bf:80ff:fffe'])(
    'refuses a host name that resolves to %s',
    async (address) => {
      const result = await checkTargetUrl('https://hooks.example.com/in', {
        allowPrivate: false,
        lookup: resolvesTo(address),
      });
      expect(result).toEqual({ ok: false, reason: expect.stringContaining(address) });
    },
  );

  it('refuses a host name when any one of its addresses is forbidden', async () => {
    const result = await checkTargetUrl('https://hooks.example.com/in', {
      allowPrivate: false,
      lookup: resolvesTo('93.184.216.34', '::1'),
    });
    expect(result.ok).toBe(false);
  });

  it('allows a host name that resolves only to public addresses', async () => {
    const result = await checkTargetUrl('https://hooks.example.com/in', {
      allowPrivate: false,
      lookup: resolvesTo('93.184.216.34', '2606:4700::1111'),
    });
    expect(result).toEqual({ ok: true });
  });

  it('refuses a host name that does not resolve and says so', async () => {
    const result = await checkTargetUrl('https://nowhere.invalid/', {
      allowPrivate: false,
      lookup: failingLookup,
    });
    expect(result).toEqual({ ok: false, reason: expect.stringMatching(/does not resolve.*ENOTFOUND/) });
    const empty = await checkTargetUrl('https://nowhere.invalid/', {
      allowPrivate: false,
      lookup: resolvesTo(),
    });
    expect(empty).toEqual({ ok: false, reason: expect.stringContaining('does not resolve') });
  });

  it.each([
    'http://127.0.0.1/',
    'http://169.254.169.254/latest/meta-data/',
    'http://[::1]/',
    'http://[::ffff:10.0.0.1]/',
    'http://[::ffff:0:127.0.0.1]/',
    'http://[::ffff:0:7f00:1]/',
    'http://[::ffff:0:169.254.169.254]/',
    'http://[::127.0.0.1]/',
    'http://[64:ff9b::169.254.169.254]/',
    'http://[2002:a9fe:a9fe::]/',
    'http://[2001:0:4136:e378:8000:63bf:80ff:fffe]/',
    'http://[100::1]/',
    'http://[5f00::1]/',
    'http://[2001:db8::1]/',
    'http://[3fff::1]/',
    'http://[fec0::1]/',
    'http://2130706433/',
    'http://0x7f.1/',
    'http://localhost:8080/',
    'http://api.localhost/',
    'http://LOCALHOST./',
  ])('refuses %s without a DNS lookup', async (url) => {
    const result = await checkTargetUrl(url, { allowPrivate: false, lookup: unusedLookup });
    expect(result.ok).toBe(false);
  });

  it('allows a public IP literal without a DNS lookup', async () => {
    expect(
      await checkTargetUrl('https://93.184.216.34/', { allowPrivate: false, lookup: unusedLookup }),
    ).toEqual({
      ok: true,
    });
    expect(
      await checkTargetUrl('https://[2606:4700::1111]:8443/x', { allowPrivate: false, lookup: unusedLookup }),
    ).toEqual({ ok: true });
  });

  it('refuses schemes other than http and https', async () => {
    for (const url of ['ftp://example.com/', 'file:///etc/passwd', 'gopher://example.com/']) {
      const result = await checkTargetUrl(url, { allowPrivate: true, lookup: unusedLookup });
      expect(result).toEqual({ ok: false, reason: expect.stringContaining('scheme') });
    }
  });

  it('refuses URLs with credentials, even when private targets are allowed', async () => {
    for (const url of ['https://user:pass@example.com/', 'https://user@example.com/']) {
      const result = await checkTargetUrl(url, { allowPrivate: true, lookup: unusedLookup });
      expect(result).toEqual({ ok: false, reason: expect.stringContaining('credentials') });
    }
  });

  it('refuses port 0, even when private targets are allowed', async () => {
    for (const url of ['http://127.0.0.1:0/hook', 'https://example.com:0/']) {
      const result = await checkTargetUrl(url, { allowPrivate: true, lookup: unusedLookup });
      expect(result).toEqual({ ok: false, reason: expect.stringContaining('port 0') });
    }
  });

  it('refuses a string that is not a URL', async () => {
    expect(await checkTargetUrl('not a url', { allowPrivate: true })).toEqual({
      ok: false,
      reason: 'not a valid URL',
    });
  });

  it('lets every http(s) target through when private targets are allowed', async () => {
    for (const url of [
      'http://127.0.0.1:3000/',
      'http://[::1]/',
      'http://localhost:8080/',
      'http://169.254.169.254/',
      'https://internal.example/',
    ]) {
      expect(await checkTargetUrl(url, { allowPrivate: true, lookup: resolvesTo('10.0.0.1') })).toEqual({
        ok: true,
      });
    }
  });
});
