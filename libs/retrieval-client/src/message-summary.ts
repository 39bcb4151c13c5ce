/** RFC 3842 §5.2 application/simple-message-summary, as the retrieving user reads it. */
export interface Summary {
  waiting: boolean;
  /** New text messages (RFC 3842 §5.2, message-context-class text-message of RFC 3458). */
  newMessages: number;
}

/** RFC 3842 §5.2: Messages-Waiting, then `<class>: new/old[ (urgent)]` lines. */
export function parseSummary(body: string): Summary {
  const waiting = /^Messages-Waiting:\s*yes\s*$/im.test(body);
  const m = /^Text-Message:\s*(\d+)\s*\/\s*(\d+)/im.exec(body);
  return { waiting, newMessages: m ? Number(m[1]) : waiting ? 1 : 0 };
}
