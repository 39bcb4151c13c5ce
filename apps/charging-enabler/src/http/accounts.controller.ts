/** Admin HTTP: accounts and top-ups (operations.md "Admin HTTP", charging-enabler). */
import {
  BadRequestException,
  Body,
  ConflictException,
  Controller,
  Get,
  HttpCode,
  NotFoundException,
  Param,
  Patch,
  Post,
  UseGuards,
} from '@nestjs/common';
import { ApiBearerAuth, ApiBody, ApiOperation, ApiTags } from '@nestjs/swagger';
import { checkSubscriber, MAX_MONEY } from '@imc/ch2';
import { RedisCreditLedger } from '../ledger/redis-credit-ledger';
import { Notifier } from '../ch2/notifier';
import { AdminTokenGuard } from './admin-token.guard';

export function subscriberOf(raw: string): string {
  const s = checkSubscriber('subscriber', raw);
  if (!s.ok) throw new BadRequestException([s.problem]);
  return s.value;
}

function optInt(body: Record<string, unknown>, field: string, bad: string[], allowNull: boolean): number | null | undefined {
  const v = body[field];
  if (v === undefined) return undefined;
  if (v === null && allowNull) return null;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) bad.push(`${field}: must be a non-negative integer${allowNull ? ' or null' : ''}`);
  return v as number;
}

interface Thresholds {
  lowBalance?: number | null;
  usageCount?: number | null;
  usageOctets?: number | null;
}

function thresholds(body: Record<string, unknown>, bad: string[], allowNull: boolean): Thresholds {
  const usage = (body.usageThresholds ?? {}) as Record<string, unknown>;
  if (typeof usage !== 'object' || usage === null) bad.push('usageThresholds: must be an object {count?, octets?}');
  return {
    lowBalance: optInt(body, 'lowBalanceThreshold', bad, allowNull),
    usageCount: optInt(usage, 'count', bad, allowNull),
    usageOctets: optInt(usage, 'octets', bad, allowNull),
  };
}

@ApiTags('accounts')
@ApiBearerAuth()
@UseGuards(AdminTokenGuard)
@Controller('v1/accounts')
export class AccountsController {
  constructor(private readonly ledger: RedisCreditLedger, private readonly notifier: Notifier) {}

  @Post()
  @ApiOperation({ summary: 'Create an account with an opening balance (integer minor units)' })
  @ApiBody({ schema: { example: { subscriber: 'sip:bob@example.com', balance: 1000, currency: 'EUR', lowBalanceThreshold: 100 } } })
  async create(@Body() body: Record<string, unknown>) {
    const bad: string[] = [];
    const sub = checkSubscriber('subscriber', body?.subscriber);
    if (!sub.ok) bad.push(sub.problem);
    const subscriber = sub.ok ? sub.value : undefined;
    if (typeof body?.balance !== 'number' || !Number.isInteger(body.balance) || body.balance < 0 || body.balance > MAX_MONEY)
      bad.push(`balance: must be a non-negative integer (minor units) of at most ${MAX_MONEY}`);
    if (typeof body?.currency !== 'string' || !/^[A-Z]{3}$/.test(body.currency)) bad.push('currency: must be an ISO 4217 code such as EUR');
    const t = thresholds(body ?? {}, bad, false);
    if (bad.length) throw new BadRequestException(bad);
    const created = await this.ledger.createAccount({
      subscriber: subscriber!,
      balance: body.balance as number,
      currency: body.currency as string,
      nowIso: new Date().toISOString(),
      lowBalance: t.lowBalance ?? undefined,
      usageCount: t.usageCount ?? undefined,
      usageOctets: t.usageOctets ?? undefined,
    });
    if (!created) throw new ConflictException(`account ${subscriber} already exists`);
    return this.ledger.account(subscriber!);
  }

  @Get(':subscriber')
  @ApiOperation({ summary: 'Balance, reserved and available credit, state, thresholds' })
  async show(@Param('subscriber') raw: string) {
    const a = await this.ledger.account(subscriberOf(raw));
    if (!a) throw new NotFoundException(`no account ${raw}`);
    return a;
  }

  @Post(':subscriber/top-ups')
  @HttpCode(201)
  @ApiOperation({ summary: 'Add credit; idempotent by requestId' })
  @ApiBody({ schema: { example: { amount: 500, requestId: 'topup-2026-11-23-0001' } } })
  async topUp(@Param('subscriber') raw: string, @Body() body: Record<string, unknown>) {
    const subscriber = subscriberOf(raw);
    const bad: string[] = [];
    if (typeof body?.amount !== 'number' || !Number.isInteger(body.amount) || body.amount <= 0 || body.amount > MAX_MONEY)
      bad.push(`amount: must be a positive integer (minor units) of at most ${MAX_MONEY}`);
    if (typeof body?.requestId !== 'string' || body.requestId.length < 8 || body.requestId.length > 128)
      bad.push('requestId: must be a string of 8–128 characters');
    if (bad.length) throw new BadRequestException(bad);
    const a = await this.ledger.topUp({
      requestId: body.requestId as string,
      subscriber,
      amount: body.amount as number,
      nowIso: new Date().toISOString(),
    });
    if (a.response.result === 'USER_UNKNOWN') throw new NotFoundException(`no account ${subscriber}`);
    // the balance would pass MAX_MONEY: refused by the script, nothing changed
    if (a.response.result === 'INVALID_REQUEST') throw new BadRequestException(a.response.details);
    if (a.notes.length) this.notifier.publish(subscriber, a.notes);
    return a.response;
  }

  @Patch(':subscriber')
  @ApiOperation({ summary: 'Suspend or re-activate; set or clear thresholds (null clears)' })
  @ApiBody({ schema: { example: { state: 'suspended' } } })
  async update(@Param('subscriber') raw: string, @Body() body: Record<string, unknown>) {
    const subscriber = subscriberOf(raw);
    const bad: string[] = [];
    if (body?.state !== undefined && body.state !== 'active' && body.state !== 'suspended')
      bad.push('state: must be active or suspended');
    const t = thresholds(body ?? {}, bad, true);
    if (bad.length) throw new BadRequestException(bad);
    const ok = await this.ledger.updateAccount(subscriber, { state: body.state as string | undefined, ...t });
    if (!ok) throw new NotFoundException(`no account ${subscriber}`);
    return this.ledger.account(subscriber);
  }
}
