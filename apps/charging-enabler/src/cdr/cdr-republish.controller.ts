/**
 * `POST /v1/cdrs/republish {"from": <ISO 8601 or epoch ms>}` — the operator's command after a NATS crash that lost
 * more than the relay's own check covers (cdr-recovery.ts): every CDR written since `from` that the relay published
 * and the JetStream stream lacks is published again (with Nats-Msg-Id = cdrId: running it twice adds nothing).
 * Only the CDRs still in the Redis outbox (CDR_RETENTION_DAYS) can be given back.
 */
import { BadRequestException, Body, Controller, HttpCode, Inject, OnModuleDestroy, Post, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiBody, ApiOperation, ApiTags } from '@nestjs/swagger';
import { connect, NatsConnection } from 'nats';
import { RedisClient } from '@imc/runtime';
import type { EnablerConfig } from '../config';
import { ENABLER_CONFIG, REDIS_CLIENT } from '../tokens';
import { AdminTokenGuard } from '../http/admin-token.guard';
import { parseTime } from '../http/cdrs.controller';
import { RedisCreditLedger } from '../ledger/redis-credit-ledger';
import { CdrPublisher } from './cdr-publisher';
import { CdrRecovery, RepublishResult } from './cdr-recovery';

@ApiTags('cdrs')
@ApiBearerAuth()
@UseGuards(AdminTokenGuard)
@Controller('v1/cdrs')
export class CdrRepublishController implements OnModuleDestroy {
  /** A connection of its own, opened on the first request. */
  private nc?: Promise<NatsConnection>;

  constructor(
    @Inject(REDIS_CLIENT) private readonly redis: RedisClient,
    private readonly ledger: RedisCreditLedger,
    @Inject(ENABLER_CONFIG) private readonly config: EnablerConfig,
  ) {}

  async onModuleDestroy(): Promise<void> {
    const nc = await this.nc?.catch(() => undefined);
    await nc?.close();
  }

  @Post('republish')
  @HttpCode(200)
  @ApiOperation({ summary: 'Re-publish to JetStream the relayed CDRs since `from` that the stream lacks' })
  @ApiBody({ schema: { example: { from: '2026-12-05T16:00:00Z' } } })
  async republish(@Body() body: { from?: unknown }): Promise<RepublishResult> {
    const raw = body?.from;
    if (typeof raw !== 'string' && typeof raw !== 'number') throw new BadRequestException('from: required, an ISO 8601 date-time or epoch milliseconds');
    const from = parseTime('from', String(raw))!;
    this.nc ??= connect({ ...this.config.nats, name: 'charging-enabler-republish', noAsyncTraces: true });
    const nc = await this.nc;
    const recovery = new CdrRecovery(this.redis, this.ledger.keys, nc, new CdrPublisher(nc, this.config.subjectPrefix), {
      stream: this.config.cdrStream,
      subjectPrefix: this.config.subjectPrefix,
    });
    return recovery.republish(from);
  }
}
