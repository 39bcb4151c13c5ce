import { parseCreate, parsePatch } from './bdt-request';
import type { BdtResource } from './bdt-types';

const NOW = Date.parse('2026-12-05T12:00:00Z');
const resource: BdtResource = {
  bdtReferenceId: 'r1',
  asId: 'bank',
  volumePerUe: { totalVolume: 1000 },
  numberOfUes: 5,
  desiredTimeWindow: { startTime: '2026-12-05T20:00:00.000Z', stopTime: '2026-12-06T08:00:00.000Z' },
  transferPolicies: [
    { bdtPolicyId: 1, recTimeWindow: { startTime: '2026-12-05T21:00:00.000Z', stopTime: '2026-12-06T06:00:00.000Z' }, ratingGroup: 'g', windowId: 'w@20261205T210000Z' },
  ],
  createdAt: '2026-12-05T12:00:00.000Z',
  state: 'offered',
};
const params = (c: { ok: boolean; problem?: { invalidParams?: { param: string }[] } }) => c.problem?.invalidParams?.map((p) => p.param);

describe('T8 request bodies', () => {
  it('accepts a creation with offsets and normalises the window to UTC', () => {
    const c = parseCreate({ volumePerUe: { totalVolume: 10 }, numberOfUes: 2, desiredTimeWindow: { startTime: '2026-12-05T21:00:00+01:00', stopTime: '2026-12-06T08:00:00Z' } }, NOW, 31);
    expect(c).toEqual({ ok: true, value: expect.objectContaining({ desiredTimeWindow: { startTime: '2026-12-05T20:00:00.000Z', stopTime: '2026-12-06T08:00:00.000Z' } }) });
  });

  it.each([
    [null, ['(body)', 'volumePerUe.totalVolume', 'numberOfUes', 'desiredTimeWindow']],
    [{ volumePerUe: { totalVolume: 1 }, numberOfUes: 1, desiredTimeWindow: { startTime: '2026-12-05 20:00', stopTime: '2026-12-06T08:00:00Z' } }, ['desiredTimeWindow.startTime']],
    [{ volumePerUe: { totalVolume: 1 }, numberOfUes: 1, desiredTimeWindow: { startTime: '2026-12-01T00:00:00Z', stopTime: '2026-12-05T11:00:00Z' } }, ['desiredTimeWindow.stopTime']],
    [{ volumePerUe: { totalVolume: 1 }, numberOfUes: 1, desiredTimeWindow: { startTime: '2026-12-05T00:00:00Z', stopTime: '2027-02-05T00:00:00Z' } }, ['desiredTimeWindow']],
    [{ volumePerUe: { totalVolume: 1 }, numberOfUes: 0, desiredTimeWindow: { startTime: '2026-12-05T20:00:00Z', stopTime: '2026-12-06T08:00:00Z' }, ratingGroup: 'a b' }, ['numberOfUes', 'ratingGroup']],
  ])('refuses a bad creation naming the fields (%#)', (body, fields) => {
    const c = parseCreate(body, NOW, 31);
    expect(c.ok).toBe(false);
    expect(params(c)).toEqual(fields);
  });

  it('a PATCH selects an offered policy; changed fixed fields are 409, unknown fields and policies 400', () => {
    expect(parsePatch({ selectedPolicy: 1 }, resource)).toEqual({ ok: true, value: 1 });
    expect(parsePatch({ selectedPolicy: 1, numberOfUes: 5, desiredTimeWindow: { startTime: '2026-12-05T21:00:00+01:00', stopTime: '2026-12-06T08:00:00Z' } }, resource).ok).toBe(true);
    const changed = parsePatch({ selectedPolicy: 1, volumePerUe: { totalVolume: 2000 }, ratingGroup: 'other' }, resource);
    expect(changed.ok || changed.problem.status).toBe(409);
    expect(params(changed)).toEqual(['volumePerUe', 'ratingGroup']);
    const bad = parsePatch({ selectedPolicy: '1', state: 'selected' }, resource);
    expect(bad.ok || bad.problem.status).toBe(400);
    expect(params(bad)).toEqual(['state', 'selectedPolicy']);
  });
});
