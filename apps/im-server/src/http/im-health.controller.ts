import { Controller, Get, Header, HttpException, Inject } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import { IM_READINESS, ImReadiness } from '../tokens';
import { ImMetrics } from '../observability/im-metrics';

/** `/health/live`, `/health/ready` (Redis and NATS really checked), `/metrics`. */
@ApiExcludeController()
@Controller()
export class ImHealthController {
  constructor(@Inject(IM_READINESS) private readonly readiness: ImReadiness & { sample(): Promise<void> }, private readonly metrics: ImMetrics) {}

  @Get('health/live')
  live() {
    return { status: 'ok' };
  }

  @Get('health/ready')
  async ready() {
    const redis = await this.readiness.redis();
    const nats = this.readiness.nats();
    const topology = await this.readiness.topology?.();
    const body = { status: redis && nats ? 'ok' : 'unavailable', checks: { redis: redis ? 'up' : 'down', nats: nats ? 'up' : 'down' }, topology };
    if (!redis || !nats) throw new HttpException(body, 503);
    return body;
  }

  @Get('metrics')
  @Header('content-type', 'text/plain; version=0.0.4')
  async metricsText() {
    await this.readiness.sample().catch(() => undefined);
    return this.metrics.registry.metrics();
  }
}
