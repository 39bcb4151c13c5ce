/**
 * sip.js's media layer replaced for MSRP sessions: offers a fixed SDP with an `m=message` line (RFC 4975 §8) and
 * keeps the answer, from which the retrieval takes the server's `a=path`. The answer may come as SDP alone or — when
 * the INVITE asked for advice of charge — as a `multipart/mixed` body (RFC 5621) holding the SDP and the AoC-S: the
 * SDP part is the answer. Browser-safe: no Node imports.
 */
import type { SessionDescriptionHandler } from 'sip.js';
import { readSipBody } from './aoc';

export class MsrpOfferHandler implements SessionDescriptionHandler {
  answerSdp?: string;
  constructor(private readonly offer: string) {}
  async getDescription() {
    return { contentType: 'application/sdp', body: this.offer };
  }
  async setDescription(body: string) {
    // sip.js hands over the content alone: a multipart body is told by its leading delimiter (RFC 2046 §5.1.1)
    this.answerSdp = body.startsWith('--') ? readSipBody(body, undefined).sdp : body;
  }
  hasDescription(contentType: string) {
    const t = String(contentType).split(';')[0].trim().toLowerCase();
    return t === 'application/sdp' || t === 'multipart/mixed';
  }
  rollbackDescription() {
    return Promise.resolve();
  }
  close() {
    /* the MSRP session is closed by the retrieval */
  }
  sendDtmf() {
    return false;
  }
}
