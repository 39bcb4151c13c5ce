/**
 * Who sends a SIP request (docs/architecture.md "Identity comes from authentication"): the digest username's AOR, or the
 * P-Asserted-Identity of a trusted proxy — never the From header (except with SIP_AUTH=none, for development).
 *
 * Answers, and why:
 * - no Authorization, a malformed one, another realm, a forged nonce → 401 with fresh challenges (RFC 3261 §22.2).
 * - an expired nonce with a right digest → 401 with `stale=TRUE` (RFC 2617 §3.2.1: the client "may wish to simply
 *   retry the request with a new encrypted response, without reprompting the user").
 * - a replayed nonce-count → 401 with a fresh challenge and no `stale`: the digest was right for a count already
 *   used, so the sender either replays a capture (it cannot answer a new nonce without the password) or is a
 *   legitimate client that lost track of its count (it can). A 403 would stop the latter for nothing.
 * - a digest `uri` that is not the Request-URI → 400 naming it (RFC 2617 §3.2.2.5: "the server SHOULD return a 400
 *   Bad Request error"; RFC 3261 §21.4.1: the reason phrase names the problem).
 * - wrong password or unknown user → 403 with a Warning (unchanged).
 * - too many wrong guesses from this source or for this account → 403 with `Warning: 399 <host> "too many failed
 *   authentications; retry in N s"`. SIP has no 429; 503 + Retry-After would be wrong here, since RFC 3261 §21.5.4
 *   makes a client or proxy receiving 503 "attempt to forward the request to an alternate server" (the other
 *   replicas, which share the same throttle) and it says the server is overloaded, which it is not; 403 (§21.4.4:
 *   "Authorization will not help, and the request SHOULD NOT be repeated") says what holds until the window ends.
 */
import { checkSubscriber } from '@imc/ch2';
import { aorOf, DigestAlgorithm, DigestServer, parseDigest, parseNameAddr, splitHeaderValues } from '@imc/sip';
import type { ImServerConfig } from '../config';
import type { UserStore } from '../store/user-store';
import type { ImMetrics } from '../observability/im-metrics';
import type { ServerTx } from '../sip/sip-context';
import type { LoginThrottle } from './login-throttle';
import { identityOfUsername } from './subscriber-identity';

export class SipAuthenticator {
  constructor(
    private readonly config: ImServerConfig,
    readonly digest: DigestServer,
    private readonly throttle: LoginThrottle,
    private readonly users: UserStore,
    private readonly metrics: ImMetrics,
    private readonly warn: (m: string) => void,
  ) {}

  private warning(text: string): [string, string] {
    return ['Warning', `399 ${this.config.advertisedHost} "${text.replace(/["\\]/g, "'")}"`];
  }

  private challenge(tx: ServerTx, stale: boolean): void {
    tx.respond(401, 'Unauthorized', { headers: this.digest.challenges(stale).map((c) => ['WWW-Authenticate', c] as [string, string]) });
  }

  /**
   * The address a credential check counts against. A request relayed by a trusted proxy (SIP_TRUSTED_PROXIES, such
   * as the Kamailio edge in deploy/) arrives from the proxy's address whoever sent it, so the client's address is
   * taken from the Via the proxy received it with: RFC 3261 §18.2.1 makes the proxy record the packet's source
   * there ("the server MUST add a "received" parameter to that Via header field value" when it differs from sent-by;
   * always with rport, RFC 3581 §4). One trusted hop is believed; anything odd falls back to the proxy's address.
   */
  private sourceOf(tx: ServerTx): string {
    const from = tx.flow.remoteAddress;
    if (!this.config.trustedProxies.includes(from)) return from;
    // the top Via must be the proxy's own (its sent-by a trusted proxy): a client reaching this server directly from a
    // trusted address (a shared host, a NAT or Docker gateway) cannot name any source it likes in a second Via
    const top = tx.request.vias[0];
    if (!top || !this.config.trustedProxies.includes(top.host.replace(/^\[|\]$/g, ''))) return from;
    const below = tx.request.vias[1];
    const client = below ? (below.params.received ?? below.host) : undefined;
    return client && client.length <= 64 && /^[0-9A-Fa-f.:[\]]+$/.test(client) ? client : from;
  }

  /** The AOR of an authenticated request, or undefined after answering it (401/403/400). */
  async authenticate(tx: ServerTx, mode: 'digest' | 'none'): Promise<string | undefined> {
    const req = tx.request;
    if (this.config.trustedProxies.includes(tx.flow.remoteAddress)) {
      const pai = req.get('p-asserted-identity');
      const na = pai ? parseNameAddr(splitHeaderValues(pai)[0] ?? '') : undefined;
      if (na) {
        const id = checkSubscriber('P-Asserted-Identity', aorOf(na.uri));
        if (id.ok) return id.value;
        this.metrics.authFailure('bad-identity');
        return void tx.respond(400, 'Invalid P-Asserted-Identity', { headers: [this.warning(id.problem)] });
      }
    }
    if (mode === 'none') {
      const from = req.from;
      const id = checkSubscriber('From', from ? aorOf(from.uri) : undefined);
      if (id.ok) return id.value;
      this.metrics.authFailure('bad-identity');
      return void tx.respond(400, 'Invalid From', { headers: [this.warning(id.problem)] });
    }

    const header = req.get('authorization');
    if (!header) {
      this.metrics.authFailure('missing');
      return void this.challenge(tx, false);
    }
    const presented = parseDigest(header)?.username;
    const identity = presented === undefined ? undefined : identityOfUsername(presented, this.config.domain);
    const decision = await this.throttle.begin(this.sourceOf(tx), identity?.ok ? identity.value : undefined);
    if (!decision.allowed) {
      this.metrics.authThrottled('sip', decision.scope);
      // checks in flight from this source did not settle in time: not a lockout, so not 403 (RFC 3261 §20.33: a
      // 500 may carry Retry-After)
      if (decision.inProgress) return void tx.respond(500, 'Server Internal Error', { headers: [['Retry-After', '1'], this.warning('too many authentications in progress; retry in 1 s')] });
      return void tx.respond(403, 'Forbidden', { headers: [this.warning(`too many failed authentications; retry in ${decision.retryAfterSeconds} s`)] });
    }
    const ticket = decision.ticket;
    if (identity && !identity.ok) {
      // counted against the source: nobody's client sends such a name
      await this.throttle.failed(ticket);
      this.metrics.authFailure('bad-identity');
      return void tx.respond(400, 'Invalid Digest Username', { headers: [this.warning(identity.problem)] });
    }
    const verdict = await this.digest.verify(header, { method: req.method, uri: req.uri }, async (username, alg: DigestAlgorithm) => {
      const id = identityOfUsername(username, this.config.domain);
      return id.ok ? this.users.ha1(id.value, alg) : undefined;
    });
    if (verdict.ok) {
      await this.throttle.succeeded(ticket);
      return (identity as { value: string }).value;
    }
    this.metrics.authFailure(verdict.reason);
    switch (verdict.reason) {
      case 'wrong-password':
      case 'unknown-user':
        // a wrong guess: counted for the window
        await this.throttle.failed(ticket);
        return void tx.respond(403, 'Forbidden', { headers: [this.warning('wrong credentials')] });
      case 'uri-mismatch':
        await this.throttle.notAGuess(ticket);
        return void tx.respond(400, 'Authorization URI Does Not Match Request-URI', {
          headers: [this.warning(`digest uri ${(parseDigest(header)?.uri ?? '').slice(0, 128)} is not the Request-URI ${req.uri.slice(0, 128)}`)],
        });
      case 'replay':
        this.warn(`digest replay refused: nonce-count already used (${identity?.ok ? identity.value : '?'} from ${tx.flow.remoteAddress}, ${req.method})`);
        await this.throttle.notAGuess(ticket);
        return void this.challenge(tx, false);
      default:
        await this.throttle.notAGuess(ticket);
        return void this.challenge(tx, verdict.reason === 'stale');
    }
  }
}
