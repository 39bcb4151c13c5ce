/**
 * Background retrieval windows (docs/windows-and-usage.md §1; TS 29.122 §4.5.3 T8, TS 26.512 §10.3 M6): negotiation
 * of candidate transfer policies from the tariff's cheaper windows and the capacity left, selection (the booking,
 * one Lua script), reading, deletion and the operator's capacity changes. Results are values (`Problem` for a
 * refusal), never exceptions. Redis I/O stays in BdtStore; time comes from the injected clock.
 */
import { randomUUID } from 'node:crypto';
import type { Tariff } from '@imc/ch2';
import { BdtStore } from './bdt-store';
import type { BdtErrorEvent, BdtNegotiation, BdtOpportunityEvent, BdtResource, TransferPolicy } from './bdt-types';
import { badRequest, Checked, parseCreate, parsePatch, Problem } from './bdt-request';
import { WindowPlanner } from './window-planner';

export interface BdtSettings {
  /** Octets bookable per window occurrence unless the operator set another capacity (BDT_WINDOW_CAPACITY_OCTETS). */
  defaultCapacity: number;
  maxWindowDays: number;
  maxBitRateDl?: string;
}

export interface Clock {
  now(): number;
}

const notFound = (id: string): Problem => ({ status: 404, title: 'Not Found', detail: `no resource ${id} for this application server` });
const noTariff: Problem = { status: 503, title: 'Service Unavailable', detail: 'background windows need the tariff file (BDT_TARIFFS_FILE) with the charging service' };

export class BdtService {
  private readonly planner?: WindowPlanner;

  constructor(
    readonly store: BdtStore,
    private readonly tariff: Tariff | undefined,
    private readonly settings: BdtSettings,
    private readonly clock: Clock,
    /** Called when an event was queued, so the scheduler looks at once. */
    private readonly kick: () => void = () => undefined,
  ) {
    if (tariff) this.planner = new WindowPlanner(tariff);
  }

  /** POST …/subscriptions: candidate policies; the only one offered is selected at once. */
  async create(asId: string, body: unknown): Promise<Checked<BdtResource>> {
    if (!this.planner || !this.tariff) return { ok: false, problem: noTariff };
    const now = this.clock.now();
    const c = parseCreate(body, now, this.settings.maxWindowDays);
    if (!c.ok) return c;
    const b = c.value;
    if (b.ratingGroup !== undefined && !this.tariff.windows.some((w) => w.ratingGroup === b.ratingGroup))
      return { ok: false, problem: badRequest([{ param: 'ratingGroup', reason: `no background window is rated at ${b.ratingGroup}` }]) };
    const volume = b.totalVolume * b.numberOfUes;
    const occ = this.planner.occurrences(Math.max(b.fromMs, now), b.toMs, (w) => b.ratingGroup === undefined || w.ratingGroup === b.ratingGroup);
    const booked = await this.store.bookings(occ.map((o) => o.windowId));
    const policies: TransferPolicy[] = [];
    occ.forEach((o, i) => {
      if (booked[i].booked + volume > (booked[i].capacity ?? this.settings.defaultCapacity)) return; // an over-booked window is not offered
      policies.push({
        bdtPolicyId: policies.length + 1,
        recTimeWindow: { startTime: new Date(o.fromMs).toISOString(), stopTime: new Date(o.toMs).toISOString() },
        ratingGroup: o.window.ratingGroup,
        ...(this.settings.maxBitRateDl ? { maxBitRateDl: this.settings.maxBitRateDl } : {}),
        windowId: o.windowId,
      });
    });
    if (!policies.length) {
      const why = occ.length ? `no window has ${volume} octets of capacity left` : 'no cheaper tariff window lies in the desired window';
      return { ok: false, problem: { status: 409, title: 'Conflict', detail: `no transfer policy fits: ${why}` } };
    }
    const doc: BdtNegotiation = {
      bdtReferenceId: randomUUID(),
      asId,
      volumePerUe: { totalVolume: b.totalVolume },
      numberOfUes: b.numberOfUes,
      desiredTimeWindow: b.desiredTimeWindow,
      ...(b.ratingGroup !== undefined ? { ratingGroup: b.ratingGroup } : {}),
      transferPolicies: policies,
      createdAt: new Date(now).toISOString(),
    };
    await this.store.create(doc);
    if (policies.length === 1) await this.book(doc, policies[0]);
    return { ok: true, value: (await this.store.get(doc.bdtReferenceId))! };
  }

  private opportunity(r: BdtNegotiation, p: TransferPolicy): BdtOpportunityEvent {
    return {
      event: 'BACKGROUND_DATA_TRANSFER_OPPORTUNITY',
      bdtReferenceId: r.bdtReferenceId,
      asId: r.asId,
      windowStart: p.recTimeWindow.startTime,
      windowEnd: p.recTimeWindow.stopTime,
      volumeQuota: r.volumePerUe.totalVolume,
      numberOfUes: r.numberOfUes,
      ratingGroup: p.ratingGroup,
      ...(p.maxBitRateDl ? { maxBitRateDl: p.maxBitRateDl } : {}),
    };
  }

  private async book(r: BdtNegotiation, p: TransferPolicy) {
    const out = await this.store.select({
      id: r.bdtReferenceId,
      policyId: p.bdtPolicyId,
      windowId: p.windowId,
      volume: r.volumePerUe.totalVolume * r.numberOfUes,
      defaultCapacity: this.settings.defaultCapacity,
      nowMs: this.clock.now(),
      openEvent: JSON.stringify(this.opportunity(r, p)),
      openAtMs: Date.parse(p.recTimeWindow.startTime),
    });
    if (out.code === 'selected') this.kick();
    return out;
  }

  /** A resource of `asId` (another AS's resource is not found: its existence is not disclosed). */
  async get(asId: string, id: string): Promise<Checked<BdtResource>> {
    const r = await this.store.get(id);
    if (!r || r.asId !== asId) return { ok: false, problem: notFound(id) };
    return { ok: true, value: r };
  }

  async list(asId?: string): Promise<BdtResource[]> {
    const all = await Promise.all((await this.store.allIds()).map((id) => this.store.get(id)));
    return all.filter((r): r is BdtResource => !!r && (asId === undefined || r.asId === asId)).sort((a, b) => a.createdAt.localeCompare(b.createdAt));
  }

  /** PATCH …/subscriptions/{id}: select one of the offered policies and book it. */
  async select(asId: string, id: string, body: unknown): Promise<Checked<BdtResource>> {
    const g = await this.get(asId, id);
    if (!g.ok) return g;
    const p = parsePatch(body, g.value);
    if (!p.ok) return p;
    const policy = g.value.transferPolicies.find((t) => t.bdtPolicyId === p.value)!;
    if (Date.parse(policy.recTimeWindow.stopTime) <= this.clock.now())
      return { ok: false, problem: badRequest([{ param: 'selectedPolicy', reason: 'its window has ended' }]) };
    const out = await this.book(g.value, policy);
    const conflict = (detail: string): Checked<BdtResource> => ({ ok: false, problem: { status: 409, title: 'Conflict', detail } });
    switch (out.code) {
      case 'selected':
      case 'already':
        return { ok: true, value: (await this.store.get(id))! };
      case 'no-capacity':
        return conflict(`window ${policy.windowId} has ${Math.max(0, out.left)} octets left, the booking needs ${g.value.volumePerUe.totalVolume * g.value.numberOfUes}`);
      case 'other-selected':
        return conflict(`policy ${g.value.selectedPolicy} is already selected; delete the resource to choose again`);
      case 'cancelled':
        return conflict(`the resource was cancelled: ${g.value.reason ?? 'by the operator'}`);
      case 'unknown':
        return { ok: false, problem: notFound(id) };
    }
  }

  private async end(r: BdtResource & { windowId?: string }, mode: 'delete' | 'withdraw', reason: string) {
    const p = r.transferPolicies.find((t) => t.bdtPolicyId === r.selectedPolicy);
    const now = this.clock.now();
    const error: BdtErrorEvent = { event: 'ERROR_BACKGROUND_DATA_TRANSFER', bdtReferenceId: r.bdtReferenceId, asId: r.asId, reason, at: new Date(now).toISOString() };
    const out = await this.store.cancel({
      id: r.bdtReferenceId,
      windowId: r.windowId ?? p?.windowId ?? '',
      mode,
      nowMs: now,
      errorEvent: JSON.stringify(error),
      startMs: p ? Date.parse(p.recTimeWindow.startTime) : 0,
      stopMs: p ? Date.parse(p.recTimeWindow.stopTime) : 0,
      reason,
    });
    if (out.errorQueued) this.kick();
    return out;
  }

  /** DELETE …/subscriptions/{id}: the resource and its booking are gone; during its window, `im.bdt.error`. */
  async remove(asId: string, id: string): Promise<Checked<true>> {
    const g = await this.get(asId, id);
    if (!g.ok) return g;
    const out = await this.end(g.value, 'delete', 'deleted by the application server during its window');
    return out.done ? { ok: true, value: true } : { ok: false, problem: notFound(id) };
  }

  /**
   * The operator sets a window's capacity. Lowered below what is booked, the latest bookings are cancelled until
   * the rest fits (each gets `im.bdt.error`); returns the cancelled resource ids.
   */
  async setCapacity(windowId: string, octets: number): Promise<string[]> {
    let booked = await this.store.setCapacity(windowId, octets);
    const cancelled: string[] = [];
    while (booked > octets) {
      const id = await this.store.latestIn(windowId);
      if (!id) break;
      const r = await this.store.get(id);
      const out = r ? await this.end(r, 'withdraw', 'the operator withdrew the capacity of the window') : { done: false };
      if (out.done) cancelled.push(id);
      else await this.store.dropFromWindow(windowId, id); // not booked here any more (a stale index entry)
      booked = (await this.store.bookings([windowId]))[0].booked;
    }
    return cancelled;
  }
}
