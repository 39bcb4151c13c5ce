import { loadImServerConfig } from './config';

describe('im-server configuration: LOG_FORMAT', () => {
  const env = { NODE_ENV: 'development' };
  it('takes pretty or json, and refuses anything else naming the variable', () => {
    expect(loadImServerConfig({ ...env, LOG_FORMAT: 'pretty' }).logFormat).toBe('pretty');
    expect(loadImServerConfig({ ...env, LOG_FORMAT: 'json' }).logFormat).toBe('json');
    expect(() => loadImServerConfig({ ...env, LOG_FORMAT: 'text' })).toThrow('invalid configuration: LOG_FORMAT must be one of pretty, json (got "text")');
  });
});

describe('im-server configuration: the digest nonce key and the login throttle', () => {
  const base = { NODE_ENV: 'production', ADMIN_TOKEN: 'admin-token-of-this-deployment' };

  it('every replica derives the same nonce key from ADMIN_TOKEN (never the token itself), or takes SIP_DIGEST_SECRET', () => {
    const a = loadImServerConfig(base).digestSecret;
    expect(loadImServerConfig(base).digestSecret).toBe(a);
    expect(a).not.toContain(base.ADMIN_TOKEN);
    expect(loadImServerConfig({ ...base, ADMIN_TOKEN: 'another-deployment' }).digestSecret).not.toBe(a);
    expect(loadImServerConfig({ ...base, SIP_DIGEST_SECRET: 'a-shared-secret-of-32-characters' }).digestSecret).toBe('a-shared-secret-of-32-characters');
  });

  it.each([
    [{ SIP_DIGEST_SECRET: 'short' }, /SIP_DIGEST_SECRET must be at least 16 characters/],
    [{ SIP_NONCE_TTL_SECONDS: '0' }, /SIP_NONCE_TTL_SECONDS must be between 5 and 86400/],
    [{ AUTH_FAIL_SOURCE_LIMIT: '0' }, /AUTH_FAIL_SOURCE_LIMIT must be between 1/],
    [{ AUTH_FAIL_ACCOUNT_WINDOW_SECONDS: '86400' }, /AUTH_FAIL_ACCOUNT_WINDOW_SECONDS must be between 1 and 3600/],
  ])('%j stops the start-up naming the variable', (env, message) => {
    expect(() => loadImServerConfig({ ...base, ...env })).toThrow(message);
  });
});

// The im-server's limits against bad input: defaults, and a bad value refused naming its variable.
describe('im-server configuration: bad-input limits', () => {
  const base = { NODE_ENV: 'development' };
  it('has bounded defaults', () => {
    const c = loadImServerConfig(base);
    expect(c).toMatchObject({ sipTcpMessageTimeoutMs: 5000, sipTcpMaxPartialPerSource: 16, sipTcpIdleTimeoutMs: 900000, sipMaxTransactions: 100000 });
    expect(c).toMatchObject({ msrpMaxUnboundPerSource: 16, msrpMaxUnbound: 1024 });
  });

  it('takes the MSRP allowances of connections without a bound session, the per-source one within the total', () => {
    expect(loadImServerConfig({ ...base, MSRP_MAX_UNBOUND_PER_SOURCE: '4', MSRP_MAX_UNBOUND: '64' })).toMatchObject({ msrpMaxUnboundPerSource: 4, msrpMaxUnbound: 64 });
    expect(() => loadImServerConfig({ ...base, MSRP_MAX_UNBOUND_PER_SOURCE: '32', MSRP_MAX_UNBOUND: '8' })).toThrow('MSRP_MAX_UNBOUND_PER_SOURCE must not exceed MSRP_MAX_UNBOUND (8)');
  });

  it('reads them from the environment', () => {
    const c = loadImServerConfig({ ...base, SIP_TCP_MESSAGE_TIMEOUT_MS: '2500', SIP_TCP_MAX_PARTIAL_PER_SOURCE: '4', SIP_TCP_IDLE_TIMEOUT_MS: '0', SIP_MAX_TRANSACTIONS: '5000' });
    expect(c).toMatchObject({ sipTcpMessageTimeoutMs: 2500, sipTcpMaxPartialPerSource: 4, sipTcpIdleTimeoutMs: 0, sipMaxTransactions: 5000 });
  });

  it.each([
    ['SIP_TCP_MESSAGE_TIMEOUT_MS', '0'],
    ['SIP_TCP_MESSAGE_TIMEOUT_MS', 'soon'],
    ['SIP_TCP_MAX_PARTIAL_PER_SOURCE', '0'],
    ['SIP_TCP_IDLE_TIMEOUT_MS', '-1'],
    ['SIP_MAX_TRANSACTIONS', '10'],
    ['MSRP_MAX_UNBOUND_PER_SOURCE', '0'],
    ['MSRP_MAX_UNBOUND', 'many'],
  ])('refuses %s=%s naming the variable', (name, value) => {
    expect(() => loadImServerConfig({ ...base, [name]: value })).toThrow(name);
  });
});

describe('im-server configuration: background retrieval windows', () => {
  const env = { NODE_ENV: 'development' };
  it('reads the AS tokens, the capacity and the tariff file (BDT_TARIFFS_FILE, else TARIFFS_FILE)', () => {
    const c = loadImServerConfig({ ...env, BDT_AS_TOKENS: 'bank=bank-token-0123456789, news=news-token-0123456789', TARIFFS_FILE: 'x.yaml' }).bdt;
    expect([...c.asTokens.keys()]).toEqual(['bank', 'news']);
    expect(c).toMatchObject({ tariffsFile: 'x.yaml', tariffsFileRequired: true, windowCapacityOctets: 10 * 2 ** 30 });
    expect(loadImServerConfig(env).bdt).toMatchObject({ tariffsFile: 'deploy/tariffs.yaml', tariffsFileRequired: false });
  });

  it.each([
    [{ BDT_AS_TOKENS: 'bank' }, /BDT_AS_TOKENS must be asId=token pairs/],
    [{ BDT_AS_TOKENS: 'bank=short' }, /BDT_AS_TOKENS the token of bank must be at least 16 characters/],
    [{ BDT_MAX_BIT_RATE_DL: '2M' }, /BDT_MAX_BIT_RATE_DL must be a TS 29.571 BitRate/],
    [{ BDT_WINDOW_CAPACITY_OCTETS: '-1' }, /BDT_WINDOW_CAPACITY_OCTETS must be between 0/],
  ])('%j stops the start-up naming the variable', (bad, message) => {
    expect(() => loadImServerConfig({ ...env, ...bad })).toThrow(message);
  });
});
