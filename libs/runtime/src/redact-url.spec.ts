import fc from 'fast-check';
import { redactUrl } from './redact-url';

describe('redactUrl', () => {
  it.each([
    ['nats://imc:s3cret@nats:4222', 'nats://imc:***@nats:4222'],
    ['redis://:s3cret@redis:6379/2', 'redis://***@redis:6379/2'],
    ['redis://default:s3cret@127.0.0.1:6379', 'redis://default:***@127.0.0.1:6379'],
    // a user alone is a NATS token
    ['nats://t0ken@nats:4222', 'nats://***@nats:4222'],
    // percent-encoded password
    ['nats://imc:p%40ss%2Fw%3Ard%23@nats:4222', 'nats://imc:***@nats:4222'],
    // unencoded @ / : # , — not a valid URL any more, still nothing of the password shows
    ['redis://:p@ss/w:rd#x@redis:6379', 'redis://***@redis:6379'],
    ['nats://imc:a,b@c@nats:4222', 'nats://imc:***@nats:4222'],
    // lists
    ['nats://u:one@a:4222,nats://u:two@b:4222', 'nats://u:***@a:4222,nats://u:***@b:4222'],
    ['nats://a:4222, nats://u:pw@b:4222', 'nats://a:4222, nats://u:***@b:4222'],
    // nothing to hide
    ['nats://127.0.0.1:4222', 'nats://127.0.0.1:4222'],
    ['127.0.0.1:4222', '127.0.0.1:4222'],
    ['', ''],
    // inside a sentence
    ['cannot reach redis://:pw@r:6379 (REDIS_URL)', 'cannot reach redis://***@r:6379 (REDIS_URL)'],
  ])('%s → %s', (input, expected) => {
    expect(redactUrl(input)).toBe(expected);
  });

  it('never lets a password through, whatever its characters (property)', () => {
    const pwChar = fc.constantFrom(...'abcXYZ019@/:#,%?&=+!$'.split(''));
    // a password holding ",scheme://" would read as the start of a second URL in a list: not a password anyone has
    const password = fc.string({ unit: pwChar, minLength: 1, maxLength: 24 }).filter((p) => !/[\s,("'=][a-z][a-z0-9+.-]*:\/\//i.test(p));
    fc.assert(
      fc.property(password, (pw) => {
        expect(redactUrl(`nats://imc:${pw}@nats:4222`)).toBe('nats://imc:***@nats:4222');
        expect(redactUrl(`redis://:${pw}@redis:6379`)).toBe('redis://***@redis:6379');
        expect(redactUrl(`nats://u:${pw}@a:4222,nats://u:${pw}@b:4222`)).toBe('nats://u:***@a:4222,nats://u:***@b:4222');
      }),
      { numRuns: 2000 },
    );
  });
});
