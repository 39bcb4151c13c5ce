/** `/health/live`, `/health/ready` (Redis and NATS really checked) and `/metrics` (Prometheus). */
import { Controller, Get, Header, HttpException, Inject } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import { ENABLER_READINESS, Readiness } from '../tokens';
import { EnablerMetrics } from '../observability/enabler-metrics';
import { RedisCreditLedger } from '../ledger/redis-credit-ledger';

@ApiExcludeController()
@Controller()
export class HealthController {
  constructor(
    @Inject(ENABLER_READINESS) private readonly readiness: Readiness,
    private readonly metrics: EnablerMetrics,
    private readonly ledger: RedisCreditLedger,
  ) {}

  @Get('health/live')
  live() {
    return { status: 'ok' };
  }

  @Get('health/ready')
  async ready() {
    const [redis, nats] = await Promise.all([this.readiness.redis(), Promise.resolve(this.readiness.nats())]);
    const topology = await this.readiness.topology?.();
    const body = { status: redis && nats ? 'ok' : 'unavailable', checks: { redis: redis ? 'up' : 'down', nats: nats ? 'up' : 'down' }, topology };
    if (!redis || !nats) throw new HttpException(body, 503);
    return body;
  }

  @Get('metrics')
  @Header('content-type', 'text/plain; version=0.0.4')
  async metricsText() {
    this.metrics.openReservations.set(await this.ledger.openReservations().catch(() => 0));
    return this.metrics.registry.metrics();
  }
}
