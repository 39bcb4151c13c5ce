/** Admin HTTP of the im-server (operations.md): SIP credentials, pending messages, deposits. */
import { BadRequestException, Body, Controller, Get, HttpException, Inject, Param, Post, Put, Res, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiBody, ApiOperation, ApiTags } from '@nestjs/swagger';
import { checkSubscriber } from '@imc/ch2';
import { ha1 } from '@imc/sip';
import { ImAdminGuard } from './admin.guard';
import { DeferredStore } from '../store/deferred-store';
import { UserStore } from '../store/user-store';
import { DepositService } from '../deposit/deposit.service';
import { nodeDigestCrypto } from '../auth/node-digest-crypto';
import { IM_CONFIG } from '../tokens';
import type { ImServerConfig } from '../config';

@ApiTags('users')
@ApiBearerAuth()
@UseGuards(ImAdminGuard)
@Controller('v1/users')
export class UsersController {
  constructor(
    @Inject(IM_CONFIG) private readonly config: ImServerConfig,
    private readonly users: UserStore,
    private readonly store: DeferredStore,
    private readonly deposits: DepositService,
  ) {}

  private aor(raw: string): string {
    const a = checkSubscriber('aor', raw, { schemes: ['sip', 'sips'], domain: this.config.domain });
    if (!a.ok) throw new BadRequestException([a.problem]);
    return a.value;
  }

  @Put(':aor')
  @ApiOperation({ summary: 'Set SIP digest credentials (stored as HA1 per algorithm, never the password)' })
  @ApiBody({ schema: { example: { password: 'secret' } } })
  async put(@Param('aor') raw: string, @Body() body: Record<string, unknown>, @Res({ passthrough: true }) res: { status(n: number): void }) {
    const aor = this.aor(raw);
    if (typeof body?.password !== 'string' || body.password.length < 4 || body.password.length > 256)
      throw new BadRequestException(['password: must be a string of 4–256 characters']);
    const user = aor.slice(aor.indexOf(':') + 1, aor.indexOf('@'));
    const created = await this.users.setCredentials(aor, {
      MD5: ha1(nodeDigestCrypto, 'MD5', user, this.config.domain, body.password),
      'SHA-256': ha1(nodeDigestCrypto, 'SHA-256', user, this.config.domain, body.password),
    });
    res.status(created ? 201 : 200);
    return { aor, username: user, realm: this.config.domain, created };
  }

  @Get(':aor/deferred')
  @ApiOperation({ summary: 'Pending deferred messages, oldest first (metadata, not bodies)' })
  async pending(@Param('aor') raw: string) {
    const messages = await this.store.pending(this.aor(raw));
    return { messages: messages.map(({ id, from, to, contentType, octets, receivedAt, expiresAt }) => ({ id, from, to, contentType, octets, receivedAt, expiresAt })) };
  }

  @Post(':aor/deferred')
  @ApiOperation({ summary: 'Deposit a deferred message (integrations)' })
  @ApiBody({ schema: { example: { from: 'sip:alice@example.com', text: 'Hello Bob', contentType: 'text/plain;charset=UTF-8' } } })
  async deposit(@Param('aor') raw: string, @Body() body: Record<string, unknown>) {
    const r = await this.deposits.deposit({ ...(body ?? {}), to: this.aor(raw) });
    if (!r.ok) throw new HttpException({ statusCode: r.status, error: r.error, message: r.details ?? [r.error] }, r.status);
    return { id: r.id };
  }
}
