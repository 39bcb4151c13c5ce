/**
 * Admin HTTP: an account's usage-monitoring keys and their usage (docs/windows-and-usage.md "Usage monitoring";
 * TS 29.212 §4.5.16 in charging terms). The usage answers are ch2.usage's.
 */
import { BadRequestException, Body, Controller, Delete, Get, NotFoundException, Param, Post, Put, Query, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiBody, ApiOperation, ApiTags } from '@nestjs/swagger';
import { checkUsageThresholds, MONITORING_KEY_RE, SERVICE_RE, UsageThresholdsSpec, validateCh2Request } from '@imc/ch2';
import { randomUUID } from 'node:crypto';
import { RedisCreditLedger } from '../ledger/redis-credit-ledger';
import type { MonitoringKeyConfig } from '../ledger/ledger-scripts';
import { AdminTokenGuard } from './admin-token.guard';
import { subscriberOf } from './accounts.controller';

function keyOf(raw: string): string {
  if (!MONITORING_KEY_RE.test(raw)) throw new BadRequestException(['key: must be a key name of letters, digits, ".", "_" or "-" (at most 64)']);
  return raw;
}

function configOf(body: Record<string, unknown>): MonitoringKeyConfig {
  const bad: string[] = [];
  if (typeof body?.service !== 'string' || (body.service !== '*' && !SERVICE_RE.test(body.service)))
    bad.push('service: must be a CH-2 service name or * (every service)');
  checkUsageThresholds(body?.thresholds ?? {}, 'thresholds', bad);
  let mtMs: number | undefined;
  if (body?.monitoringTime !== undefined) {
    mtMs = typeof body.monitoringTime === 'string' ? Date.parse(body.monitoringTime) : NaN;
    if (Number.isNaN(mtMs)) bad.push('monitoringTime: must be an ISO 8601 date-time');
  }
  if (body?.afterThresholds !== undefined) {
    checkUsageThresholds(body.afterThresholds, 'afterThresholds', bad);
    if (body.monitoringTime === undefined) bad.push('afterThresholds: needs monitoringTime (the time after which they apply)');
  }
  const unknown = Object.keys(body ?? {}).filter((k) => !['service', 'thresholds', 'monitoringTime', 'afterThresholds'].includes(k));
  for (const k of unknown) bad.push(`${k}: unknown field (service, thresholds, monitoringTime, afterThresholds)`);
  if (bad.length) throw new BadRequestException(bad);
  return {
    service: body.service as string,
    thresholds: (body.thresholds ?? {}) as UsageThresholdsSpec,
    ...(mtMs !== undefined ? { monitoringTime: new Date(mtMs).toISOString(), mtMs } : {}),
    ...(body.afterThresholds !== undefined ? { afterThresholds: body.afterThresholds as UsageThresholdsSpec } : {}),
  };
}

@ApiTags('usage monitoring')
@ApiBearerAuth()
@UseGuards(AdminTokenGuard)
@Controller('v1/accounts/:subscriber')
export class MonitoringController {
  constructor(private readonly ledger: RedisCreditLedger) {}

  @Put('monitoring-keys/:key')
  @ApiOperation({ summary: 'Set a monitoring key: a service (or *), thresholds on count, octets and sessionMs, an optional monitoring time' })
  @ApiBody({ schema: { example: { service: 'im.deferred-retrieval', thresholds: { octets: 1048576, count: 100 }, monitoringTime: '2026-12-05T22:00:00Z', afterThresholds: { octets: 10485760 } } } })
  async put(@Param('subscriber') raw: string, @Param('key') rawKey: string, @Body() body: Record<string, unknown>) {
    const subscriber = subscriberOf(raw);
    const key = keyOf(rawKey);
    const view = await this.ledger.monitoring.set(subscriber, key, configOf(body));
    if (!view) throw new NotFoundException(`no account ${subscriber}`);
    return view;
  }

  @Get('monitoring-keys')
  @ApiOperation({ summary: "The account's monitoring keys" })
  async list(@Param('subscriber') raw: string) {
    const subscriber = subscriberOf(raw);
    if (!(await this.ledger.balanceOf(subscriber))) throw new NotFoundException(`no account ${subscriber}`);
    return { monitoringKeys: await this.ledger.monitoring.list(subscriber) };
  }

  @Get('monitoring-keys/:key')
  @ApiOperation({ summary: 'One monitoring key' })
  async show(@Param('subscriber') raw: string, @Param('key') rawKey: string) {
    const key = keyOf(rawKey);
    const found = (await this.ledger.monitoring.list(subscriberOf(raw))).find((k) => k.monitoringKey === key);
    if (!found) throw new NotFoundException(`no monitoring key ${key} for ${raw}`);
    return found;
  }

  @Delete('monitoring-keys/:key')
  @ApiOperation({ summary: 'Remove a monitoring key; its usage since the last report is reported (trigger removed)' })
  async remove(@Param('subscriber') raw: string, @Param('key') rawKey: string) {
    const subscriber = subscriberOf(raw);
    const key = keyOf(rawKey);
    const r = await this.ledger.monitoring.remove(subscriber, key);
    if (!r) throw new NotFoundException(`no account ${subscriber}`);
    if (!r.removed) throw new NotFoundException(`no monitoring key ${key} for ${subscriber}`);
    return r;
  }

  @Get('usage')
  @ApiOperation({ summary: 'Usage per monitoring key since its last report (nothing reset)' })
  async usage(@Param('subscriber') raw: string, @Query('monitoringKey') monitoringKey?: string) {
    return this.run({ subscriber: raw, monitoringKey, requestId: `http-${randomUUID()}`, timestamp: new Date().toISOString() });
  }

  @Post('usage')
  @ApiOperation({ summary: 'As ch2.usage: the usage per key; reset: report it and start again; rearm: the thresholds of the cycle in progress' })
  @ApiBody({ schema: { example: { requestId: 'usage-2026-12-05-0001', monitoringKey: 'night', reset: true } } })
  async report(@Param('subscriber') raw: string, @Body() body: Record<string, unknown>) {
    return this.run({ timestamp: new Date().toISOString(), ...body, subscriber: raw });
  }

  private async run(data: Record<string, unknown>) {
    const v = validateCh2Request('usage', data);
    if (!v.ok) throw new BadRequestException(v.details);
    const { requestId, subscriber, monitoringKey, reset, rearm } = v.value;
    const a = await this.ledger.monitoring.usage({ requestId, subscriber, monitoringKey, reset, rearm, atMs: Date.parse(v.value.timestamp) });
    if (a.result === 'USER_UNKNOWN') throw new NotFoundException(`no account ${subscriber}`);
    if (a.result === 'INVALID_REQUEST') throw new NotFoundException(a.response.details);
    return a.response;
  }
}
