import { join, resolve } from 'node:path';
import { ConfigError } from './env-reader';
import { drawBox, readLauncherConfig } from './start';

describe('npm start launcher', () => {
  const root = '/project';
  describe('readLauncherConfig', () => {
    it('keeps data in .imc-data/ under the project by default, or in IMC_DATA_DIR', () => {
      expect(readLauncherConfig([], {}, root).dataDir).toBe(join(root, '.imc-data'));
      expect(readLauncherConfig([], { IMC_DATA_DIR: 'stack-data' }, root).dataDir).toBe(resolve('stack-data'));
    });
    it('--ephemeral or IMC_EPHEMERAL: no data directory', () => {
      expect(readLauncherConfig(['--ephemeral'], { IMC_DATA_DIR: '/data' }, root).dataDir).toBeUndefined();
      expect(readLauncherConfig([], { IMC_EPHEMERAL: '1' }, root).dataDir).toBeUndefined();
      expect(readLauncherConfig([], { IMC_EPHEMERAL: 'false' }, root).dataDir).toBe(join(root, '.imc-data'));
    });
    it('bad values and unknown arguments are errors naming them', () => {
      expect(() => readLauncherConfig([], { IMC_EPHEMERAL: 'maybe' }, root)).toThrow('invalid configuration: IMC_EPHEMERAL must be true or false (got "maybe")');
      expect(() => readLauncherConfig([], { CE_HTTP_PORT: '80808' }, root)).toThrow(ConfigError);
      expect(() => readLauncherConfig(['--ephemral'], {}, root)).toThrow(/argument --ephemral is not known/);
    });
  });

  it('drawBox: a closed box as wide as its longest line', () => {
    expect(drawBox(['IM Charging is running', '', 'data   /x — kept'])).toBe(
      ['┌────────────────────────┐', '│ IM Charging is running │', '│                        │', '│ data   /x — kept       │', '└────────────────────────┘'].join('\n'),
    );
  });
});
