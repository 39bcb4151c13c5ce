/**
 * The operator's side of background windows (admin token): application servers and their tokens, every resource,
 * and the capacity of a window (lowering it below what is booked cancels the latest bookings, with im.bdt.error).
 */
import { BadRequestException, Body, Controller, Delete, Get, HttpCode, NotFoundException, Param, Put, Res, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiBody, ApiOperation, ApiTags } from '@nestjs/swagger';
import { ImAdminGuard } from '../http/admin.guard';
import { AS_ID_RE, AsRegistry, MIN_AS_TOKEN_LENGTH } from './as-registry';
import { BdtService } from './bdt.service';
import { resourceView } from './bdt.controller';

const WINDOW_ID_RE = /^[A-Za-z0-9._-]{1,64}@\d{8}T\d{6}Z$/;

@ApiTags('background windows (operator)')
@ApiBearerAuth()
@UseGuards(ImAdminGuard)
@Controller('v1/bdt')
export class BdtAdminController {
  constructor(private readonly bdt: BdtService, private readonly registry: AsRegistry) {}

  @Get('as')
  @ApiOperation({ summary: 'The registered application servers (never their tokens)' })
  async listAs() {
    return { applicationServers: await this.registry.list() };
  }

  @Put('as/:asId')
  @ApiOperation({ summary: 'Register an application server with its own bearer token (or change its token)' })
  @ApiBody({ schema: { example: { token: 'a-long-random-secret-for-the-bank' } } })
  async register(@Param('asId') asId: string, @Body() body: Record<string, unknown>, @Res({ passthrough: true }) res: { status(n: number): void }) {
    const bad: string[] = [];
    if (!AS_ID_RE.test(asId)) bad.push('asId: must be 1–64 letters, digits, ".", "_" or "-"');
    if (typeof body?.token !== 'string' || body.token.length < MIN_AS_TOKEN_LENGTH || body.token.length > 256)
      bad.push(`token: must be a string of ${MIN_AS_TOKEN_LENGTH}–256 characters`);
    if (bad.length) throw new BadRequestException(bad);
    const r = await this.registry.register(asId, body.token as string);
    if (r === 'configured') throw new BadRequestException([`asId: ${asId} is configured by BDT_AS_TOKENS; change it there`]);
    res.status(r === 'created' ? 201 : 200);
    return { asId, created: r === 'created' };
  }

  @Delete('as/:asId')
  @HttpCode(204)
  @ApiOperation({ summary: 'Remove an application server registered through the API (its resources stay until deleted)' })
  async unregister(@Param('asId') asId: string) {
    if (!(await this.registry.remove(asId))) throw new NotFoundException(`no application server ${asId} registered through the API`);
  }

  @Get('subscriptions')
  @ApiOperation({ summary: 'Every background-window resource, of every application server' })
  async all() {
    return { subscriptions: (await this.bdt.list()).map(resourceView) };
  }

  @Put('windows/:windowId/capacity')
  @ApiOperation({ summary: 'Set the octets bookable in one window; below what is booked, the latest bookings are cancelled' })
  @ApiBody({ schema: { example: { octets: 1073741824 } } })
  async capacity(@Param('windowId') windowId: string, @Body() body: Record<string, unknown>) {
    const bad: string[] = [];
    if (!WINDOW_ID_RE.test(windowId)) bad.push('windowId: must be a window id such as off-peak@20261205T210000Z (transferPolicies[].windowId)');
    if (typeof body?.octets !== 'number' || !Number.isInteger(body.octets) || body.octets < 0 || body.octets > 2 ** 50)
      bad.push('octets: must be a non-negative integer');
    if (bad.length) throw new BadRequestException(bad);
    const cancelled = await this.bdt.setCapacity(windowId, body.octets as number);
    return { windowId, capacity: body.octets, cancelled };
  }
}
