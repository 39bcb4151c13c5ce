/** The im-server's limits against bad input (issue 12): defaults, and a bad value refused naming its variable. */
import { loadImServerConfig } from './config';

const base = { NODE_ENV: 'development' };

describe('im-server configuration: bad-input limits', () => {
  it('has bounded defaults', () => {
    const c = loadImServerConfig(base);
    expect(c).toMatchObject({ sipTcpMessageTimeoutMs: 5000, sipTcpMaxPartialPerSource: 16, sipTcpIdleTimeoutMs: 900000, sipMaxTransactions: 100000 });
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
  ])('refuses %s=%s naming the variable', (name, value) => {
    expect(() => loadImServerConfig({ ...base, [name]: value })).toThrow(name);
  });
});
