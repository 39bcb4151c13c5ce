/**
 * An answer that is already JSON text (the ledger scripts' stored answers): the CH-2 transport splices it into the
 * reply envelope as it is, so the hot path never parses and re-serialises what Redis returned.
 */
export class JsonText {
  constructor(readonly json: string) {}
}
