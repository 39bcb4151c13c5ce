/** What a ledger script answers (ledger-scripts.ts AnswerReply), as the enabler passes it on. */
import { JsonText } from '../ch2/json-text';
import type { AnswerReply } from './ledger-scripts';

const RESULT = /"result":"([A-Z_]+)"/;

/**
 * What a ledger script answered: the CH-2 response as the JSON text it stored for idempotent replays (sent on to the
 * caller as it is: the hot path never parses and re-serialises it), and the notifications it decided to raise.
 */
export class ScriptAnswer extends JsonText {
  private parsed?: Record<string, unknown>;

  constructor(
    /** The CH-2 response, JSON, exactly as stored under the requestId. */
    json: string,
    /** Notifications the script decided to raise (each once per crossing). */
    readonly notes: Record<string, unknown>[],
  ) {
    super(json);
  }

  /** The response's result code, read from the text (cjson writes `"result":"<CODE>"`). */
  get result(): string {
    return RESULT.exec(this.json)?.[1] ?? 'UNKNOWN';
  }

  /** The response as an object (parsed on first use). */
  get response(): Record<string, unknown> {
    return (this.parsed ??= JSON.parse(this.json) as Record<string, unknown>);
  }
}

export function answerOf([json, notes]: AnswerReply): ScriptAnswer {
  return new ScriptAnswer(json, notes === '[]' ? [] : JSON.parse(notes));
}
