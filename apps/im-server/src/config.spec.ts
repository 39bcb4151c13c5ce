import { loadImServerConfig } from './config';

describe('im-server configuration: LOG_FORMAT', () => {
  const env = { NODE_ENV: 'development' };
  it('takes pretty or json, and refuses anything else naming the variable', () => {
    expect(loadImServerConfig({ ...env, LOG_FORMAT: 'pretty' }).logFormat).toBe('pretty');
    expect(loadImServerConfig({ ...env, LOG_FORMAT: 'json' }).logFormat).toBe('json');
    expect(() => loadImServerConfig({ ...env, LOG_FORMAT: 'text' })).toThrow('invalid configuration: LOG_FORMAT must be one of pretty, json (got "text")');
  });
});
