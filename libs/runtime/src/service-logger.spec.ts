import { ConfigError, EnvReader } from './env-reader';
import { NEST_LOG_LEVELS } from './service-kit';
import { DEBUG_CONTEXTS, formatPrettyLine, readLogFormat, ServiceLogger } from './service-logger';

describe('service logger', () => {
  const at = new Date(2026, 11, 5, 7, 2, 3, 45); // local time, as the lines show it

  describe('formatPrettyLine', () => {
    it('one line: local time to the millisecond, level, service, message', () => {
      expect(formatPrettyLine({ time: at, level: 'log', service: 'im-server', message: 'im-server ready' })).toBe('07:02:03.045 INFO  im-server        im-server ready\n');
      expect(formatPrettyLine({ time: at, level: 'warn', service: 'charging-enabler', message: 'x' })).toBe('07:02:03.045 WARN  charging-enabler x\n');
    });

    it("names a context other than the service's own, and leaves the service's own out", () => {
      expect(formatPrettyLine({ time: at, level: 'debug', service: 'im-server', context: 'RouterExplorer', message: 'Mapped {/health/live, GET} route' })).toBe(
        '07:02:03.045 DEBUG im-server        [RouterExplorer] Mapped {/health/live, GET} route\n',
      );
      expect(formatPrettyLine({ time: at, level: 'error', service: 'im-server', context: 'im-server', message: 'redis: down' })).toBe('07:02:03.045 ERROR im-server        redis: down\n');
    });

    it('objects on one line, errors with their stack', () => {
      expect(formatPrettyLine({ time: at, level: 'log', service: 's', message: { a: 1, b: [2, 3] } })).toBe('07:02:03.045 INFO  s                { a: 1, b: [ 2, 3 ] }\n');
      const e = new Error('boom');
      expect(formatPrettyLine({ time: at, level: 'fatal', service: 's', message: e })).toContain(`FATAL s                ${e.stack}`);
    });

    it('colours only when asked: the level in its colour, no escape codes otherwise', () => {
      const coloured = formatPrettyLine({ time: at, level: 'error', service: 's', message: 'm' }, true);
      expect(coloured).toContain('\x1b[31mERROR\x1b[0m');
      expect(formatPrettyLine({ time: at, level: 'error', service: 's', message: 'm' }, false)).not.toContain('\x1b[');
    });
  });

  describe('LOG_FORMAT', () => {
    const read = (env: Record<string, string>, tty: boolean) => readLogFormat(new EnvReader(env), tty);
    it('unset: pretty on a terminal, JSON on anything else', () => {
      expect(read({}, true)).toBe('pretty');
      expect(read({}, false)).toBe('json');
    });
    it('set: forces either', () => {
      expect(read({ LOG_FORMAT: 'json' }, true)).toBe('json');
      expect(read({ LOG_FORMAT: 'pretty' }, false)).toBe('pretty');
    });
    it('a bad value is a configuration error naming the variable', () => {
      expect(() => read({ LOG_FORMAT: 'yaml' }, true)).toThrow(ConfigError);
      expect(() => read({ LOG_FORMAT: 'yaml' }, true)).toThrow('invalid configuration: LOG_FORMAT must be one of pretty, json (got "yaml")');
    });
  });

  describe('ServiceLogger', () => {
    let written: string[];
    let spy: jest.SpyInstance;
    beforeEach(() => {
      written = [];
      spy = jest.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
        written.push(String(chunk));
        return true;
      });
    });
    afterEach(() => spy.mockRestore());

    it.each([...DEBUG_CONTEXTS])('Nest start-up lines from %s are debug: not shown at info, shown at debug', (context) => {
      new ServiceLogger('im-server', { format: 'json', logLevels: NEST_LOG_LEVELS.info }).log('Mapped {/v1/users/:aor, PUT} route', context);
      expect(written).toEqual([]);
      new ServiceLogger('im-server', { format: 'json', logLevels: NEST_LOG_LEVELS.debug }).log('Mapped {/v1/users/:aor, PUT} route', context);
      expect(written).toHaveLength(1);
      expect(JSON.parse(written[0])).toMatchObject({ level: 'debug', context, message: 'Mapped {/v1/users/:aor, PUT} route' });
    });

    it('JSON: one object per line, with level, pid, timestamp, message and the service as context', () => {
      new ServiceLogger('charging-enabler', { format: 'json', logLevels: NEST_LOG_LEVELS.info }).log('charging enabler ready');
      expect(written).toHaveLength(1);
      expect(written[0].endsWith('}\n')).toBe(true);
      expect(JSON.parse(written[0])).toEqual({ level: 'log', pid: process.pid, timestamp: expect.any(Number), message: 'charging enabler ready', context: 'charging-enabler' });
    });

    it('pretty: one readable line, the level filter still applies', () => {
      const logger = new ServiceLogger('im-server', { format: 'pretty', logLevels: NEST_LOG_LEVELS.warn, colours: false });
      logger.log('not shown at warn');
      logger.warn('retry queue: 3 parked');
      expect(written).toHaveLength(1);
      expect(written[0]).toMatch(/^\d\d:\d\d:\d\d\.\d{3} WARN  im-server        retry queue: 3 parked\n$/);
    });
  });
});
