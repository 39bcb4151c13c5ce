import { parseSummary } from './browser-retrieval';

describe('parseSummary (RFC 3842 §5.2 application/simple-message-summary)', () => {
  it('reads Messages-Waiting and the text-message count', () => {
    expect(parseSummary('Messages-Waiting: yes\r\nMessage-Account: sip:bob@example.com\r\nText-Message: 3/0\r\n')).toEqual({ waiting: true, newMessages: 3 });
    expect(parseSummary('Messages-Waiting: no\r\nText-Message: 0/0\r\n')).toEqual({ waiting: false, newMessages: 0 });
  });
  it('tolerates case, spacing and an urgent count (RFC 3842 §5.2 "new/old (urgent-new/urgent-old)")', () => {
    expect(parseSummary('messages-waiting:YES\r\ntext-message: 12 / 4 (1/0)\r\n')).toEqual({ waiting: true, newMessages: 12 });
  });
  it('without a text-message line, a waiting mailbox counts as at least one', () => {
    expect(parseSummary('Messages-Waiting: yes\r\n')).toEqual({ waiting: true, newMessages: 1 });
    expect(parseSummary('')).toEqual({ waiting: false, newMessages: 0 });
  });
});
