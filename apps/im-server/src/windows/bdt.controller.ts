/**
 * The T8 resource API (TS 29.122 §4.5.3, docs/windows-and-usage.md): `POST/GET/PATCH/DELETE
 * /3gpp-bdt/v1/{asId}/subscriptions[/{id}]`, for an application server with its own token or the operator.
 */
import { Body, Controller, Delete, Get, HttpCode, HttpException, Param, Patch, Post, Res, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiBody, ApiOperation, ApiTags } from '@nestjs/swagger';
import { AsTokenGuard } from './as-token.guard';
import { BdtService } from './bdt.service';
import type { Checked } from './bdt-request';
import type { BdtResource } from './bdt-types';

function unwrap<T>(c: Checked<T>): T {
  if (!c.ok) throw new HttpException(c.problem, c.problem.status);
  return c.value;
}

export const resourcePath = (r: BdtResource) => `/3gpp-bdt/v1/${encodeURIComponent(r.asId)}/subscriptions/${r.bdtReferenceId}`;
export const resourceView = (r: BdtResource & { windowId?: string }) => {
  const { windowId: _booked, ...rest } = r;
  return { self: resourcePath(r), ...rest };
};

@ApiTags('background windows (T8)')
@ApiBearerAuth()
@UseGuards(AsTokenGuard)
@Controller('3gpp-bdt/v1/:asId/subscriptions')
export class BdtController {
  constructor(private readonly bdt: BdtService) {}

  @Post()
  @ApiOperation({ summary: 'Negotiate a background retrieval window: candidate transfer policies (the only one offered is selected)' })
  @ApiBody({ schema: { example: { volumePerUe: { totalVolume: 65536 }, numberOfUes: 1000, desiredTimeWindow: { startTime: '2026-12-05T18:00:00Z', stopTime: '2026-12-06T08:00:00Z' } } } })
  async create(@Param('asId') asId: string, @Body() body: unknown, @Res({ passthrough: true }) res: { status(n: number): void; setHeader(k: string, v: string): void }) {
    const r = unwrap(await this.bdt.create(asId, body));
    res.status(201);
    res.setHeader('Location', resourcePath(r));
    return resourceView(r);
  }

  @Get()
  @ApiOperation({ summary: "The application server's resources" })
  async list(@Param('asId') asId: string) {
    return (await this.bdt.list(asId)).map(resourceView);
  }

  @Get(':id')
  async get(@Param('asId') asId: string, @Param('id') id: string) {
    return resourceView(unwrap(await this.bdt.get(asId, id)));
  }

  @Patch(':id')
  @ApiOperation({ summary: 'Select a transfer policy (books its window); volume, users and desired window cannot change (409)' })
  @ApiBody({ schema: { example: { selectedPolicy: 1 } } })
  async select(@Param('asId') asId: string, @Param('id') id: string, @Body() body: unknown) {
    return resourceView(unwrap(await this.bdt.select(asId, id, body)));
  }

  @Delete(':id')
  @HttpCode(204)
  @ApiOperation({ summary: 'Delete the resource and its booking (during its window: im.bdt.error)' })
  async remove(@Param('asId') asId: string, @Param('id') id: string) {
    unwrap(await this.bdt.remove(asId, id));
  }
}
