/**
 * Deposits from integrations (admin HTTP `POST /v1/users/{aor}/deferred` and the NATS subject
 * `im.deferred.deposit`): validated, stored with the same caps as a SIP MESSAGE, subscribers notified.
 */
import { checkSubscriber } from '@imc/ch2';
import type { DeferredStore, DepositResult } from '../store/deferred-store';
import { receiptDepositOf } from '../receipts/imdn-receipt';

export interface DepositRequest {
  to: string;
  from: string;
  contentType?: string;
  /** Text body (UTF-8) … */
  text?: string;
  /** … or base64 bytes. */
  bodyBase64?: string;
  imdnMessageId?: string;
  /** A background-window resource with a selected policy (docs/windows-and-usage.md): the message is tagged with it. */
  bdtReferenceId?: string;
}

/** The windows module's view a deposit needs: is a tag usable, and who holds tagged messages. */
export interface DepositTags {
  checkTag(id: unknown): Promise<string | undefined>;
  tagged(id: string, aor: string): Promise<void>;
}

export type DepositAnswer = ({ ok: true; id: string } | { ok: false; status: number; error: string; details?: string[] });

export class DepositService {
  constructor(
    private readonly store: DeferredStore,
    private readonly domain: string,
    private readonly onStored: (aor: string) => void,
    private readonly tags?: DepositTags,
  ) {}

  async deposit(input: unknown): Promise<DepositAnswer> {
    const d = (input ?? {}) as Record<string, unknown>;
    const bad: string[] = [];
    const toCheck = checkSubscriber('to', d.to, { schemes: ['sip', 'sips'], domain: this.domain });
    if (!toCheck.ok) bad.push(toCheck.problem);
    const to = toCheck.ok ? toCheck.value : undefined;
    const fromCheck = checkSubscriber('from', d.from);
    if (!fromCheck.ok) bad.push(fromCheck.problem);
    const from = fromCheck.ok ? fromCheck.value : undefined;
    if ((d.text === undefined) === (d.bodyBase64 === undefined)) bad.push('text or bodyBase64: exactly one is required');
    if (d.text !== undefined && typeof d.text !== 'string') bad.push('text: must be a string');
    if (d.bodyBase64 !== undefined && (typeof d.bodyBase64 !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(d.bodyBase64))) bad.push('bodyBase64: must be base64');
    if (d.contentType !== undefined && (typeof d.contentType !== 'string' || !/^[\w.+-]+\/[\w.+-]+/.test(d.contentType))) bad.push('contentType: must be a MIME type');
    if (d.bdtReferenceId !== undefined) {
      const problem = this.tags ? await this.tags.checkTag(d.bdtReferenceId) : 'bdtReferenceId: background windows are not enabled on this server';
      if (problem) bad.push(problem);
    }
    if (bad.length) return { ok: false, status: 400, error: 'invalid deposit', details: bad };
    const body = d.text !== undefined ? Buffer.from(d.text as string, 'utf8') : Buffer.from(d.bodyBase64 as string, 'base64');
    if (body.length === 0) return { ok: false, status: 400, error: 'invalid deposit', details: ['body: must not be empty'] };
    const contentType = (d.contentType as string | undefined) ?? 'text/plain;charset=UTF-8';
    // an IMDN passed on (a recipient's `displayed`): stored as a receipt, never charged (retrieval-flow.md IMDN)
    const receipt = receiptDepositOf(contentType, body);
    const r: DepositResult = await this.store.deposit(to!, {
      from: from!,
      to: to!,
      contentType,
      body,
      imdnMessageId: typeof d.imdnMessageId === 'string' ? d.imdnMessageId : receipt?.imdnMessageId,
      ...(receipt ? { receipt: true } : {}),
      bdtReferenceId: d.bdtReferenceId as string | undefined,
    });
    if (!r.ok) return { ok: false, status: r.status === 513 ? 413 : 507, error: r.reason };
    if (d.bdtReferenceId !== undefined) await this.tags?.tagged(d.bdtReferenceId as string, to!);
    this.onStored(to!);
    return { ok: true, id: r.id };
  }
}
