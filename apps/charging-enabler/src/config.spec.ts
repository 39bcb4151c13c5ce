import { loadEnablerConfig } from './config';

describe('charging-enabler configuration: LOG_FORMAT', () => {
  const env = { NODE_ENV: 'development' };
  it('takes pretty or json, and refuses anything else naming the variable', () => {
    expect(loadEnablerConfig({ ...env, LOG_FORMAT: 'pretty' }).logFormat).toBe('pretty');
    expect(loadEnablerConfig({ ...env, LOG_FORMAT: 'json' }).logFormat).toBe('json');
    expect(() => loadEnablerConfig({ ...env, LOG_FORMAT: 'text' })).toThrow('invalid configuration: LOG_FORMAT must be one of pretty, json (got "text")');
  });
});
