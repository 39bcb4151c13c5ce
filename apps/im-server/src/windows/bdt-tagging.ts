/**
 * Tagged deposits and their rating (docs/windows-and-usage.md "Deposits and rating"). A deposit may name a
 * `bdtReferenceId`: it must be a selected resource whose window has not ended. At reserve time each item gets the
 * policy's rating group when its message is tagged, the retrieval happens inside the selected window, and the
 * message fits the booking (volume per user, number of users: consume-1.lua); otherwise none (rated as usual).
 */
import type { Ch2Item } from '@imc/ch2';
import type { RatingGroupDecider } from '../charging/charging-gateway';
import type { BdtStore } from './bdt-store';
import type { BdtResource, TransferPolicy } from './bdt-types';
import type { Clock } from './bdt.service';

/** The store's view this needs: each message's tag. */
export interface MessageTags {
  tagsOf(aor: string, ids: readonly string[]): Promise<(string | undefined)[]>;
}

/** How long per-user use is kept after its window ends (a late debit of a message still finds it counted). */
const USE_KEPT_MS = 7 * 86400000;

export class BdtTagging implements RatingGroupDecider {
  constructor(private readonly store: BdtStore, private readonly messages: MessageTags, private readonly clock: Clock) {}

  private selected(r: BdtResource | undefined): TransferPolicy | undefined {
    if (!r || r.state !== 'selected') return undefined;
    return r.transferPolicies.find((p) => p.bdtPolicyId === r.selectedPolicy);
  }

  /** A problem naming `bdtReferenceId` when the tag cannot be used; undefined when it can. */
  async checkTag(id: unknown): Promise<string | undefined> {
    if (typeof id !== 'string' || id.length < 1 || id.length > 64) return 'bdtReferenceId: must be the id of a background-window resource';
    const p = this.selected(await this.store.get(id));
    if (!p) return `bdtReferenceId: ${JSON.stringify(id)} is not a resource with a selected transfer policy`;
    if (Date.parse(p.recTimeWindow.stopTime) <= this.clock.now()) return `bdtReferenceId: the window of ${id} has ended`;
    return undefined;
  }

  /** Remembers that `aor` holds a message tagged `id` (notified when the window opens). */
  async tagged(id: string, aor: string): Promise<void> {
    const r = await this.store.get(id);
    const p = this.selected(r);
    if (p) await this.store.addUser(id, aor, Date.parse(p.recTimeWindow.stopTime) + USE_KEPT_MS);
  }

  async decide(aor: string, items: readonly Ch2Item[], at: Date, known?: readonly (string | undefined)[]): Promise<(string | undefined)[]> {
    const out: (string | undefined)[] = new Array(items.length).fill(undefined);
    const tags = known ?? (await this.messages.tagsOf(aor, items.map((i) => i.id)));
    const byTag = new Map<string, number[]>();
    tags.forEach((t, i) => t && byTag.set(t, [...(byTag.get(t) ?? []), i]));
    for (const [tag, idx] of byTag) {
      const r = await this.store.get(tag);
      const p = this.selected(r);
      if (!r || !p) continue;
      const t = at.getTime();
      if (t < Date.parse(p.recTimeWindow.startTime) || t >= Date.parse(p.recTimeWindow.stopTime)) continue;
      const fits = await this.store.consume(tag, aor, r.volumePerUe.totalVolume, r.numberOfUes, Date.parse(p.recTimeWindow.stopTime) + USE_KEPT_MS, idx.map((i) => items[i]));
      idx.forEach((i, j) => {
        if (fits[j]) out[i] = p.ratingGroup;
      });
    }
    return out;
  }
}
