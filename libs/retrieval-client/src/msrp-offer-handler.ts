/**
 * sip.js's media layer replaced for MSRP sessions: offers a fixed SDP with an `m=message` line (RFC 4975 §8) and
 * keeps the answer, from which the retrieval takes the server's `a=path`. Browser-safe: no Node imports.
 */
import type { SessionDescriptionHandler } from 'sip.js';

export class MsrpOfferHandler implements SessionDescriptionHandler {
  answerSdp?: string;
  constructor(private readonly offer: string) {}
  async getDescription() {
    return { contentType: 'application/sdp', body: this.offer };
  }
  async setDescription(sdp: string) {
    this.answerSdp = sdp;
  }
  hasDescription(contentType: string) {
    return contentType === 'application/sdp';
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
