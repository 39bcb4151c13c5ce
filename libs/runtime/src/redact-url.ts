/**
 * The one redaction of URLs: every URL that goes into a log line, an error message or a metric label passes
 * through here first (issue 11: no secret in any log line).
 */

/** A URL starts at the beginning of the text or after a blank, comma, quote, parenthesis or `=`. */
const SCHEME = /(?<=^|[\s,("'=])[a-z][a-z0-9+.-]*:\/\//gi;
/** A user name shown as it is: nothing a mangled password could leave in it. */
const PLAIN_USER = /^[A-Za-z0-9._~%-]+$/;

/**
 * A URL, a comma-separated list of URLs, or a text holding some, fit for a log line, an error or a metric label:
 * the password, or a user that stands alone (a token), becomes `***`. It also works where a URL does not parse (a
 * password with an unencoded `@ / : # ,`): from `scheme://` to the last `@` before the next `scheme://` everything
 * is taken for credentials, so a mangled URL is over-redacted rather than leaked.
 */
export function redactUrl(text: string): string {
  const marks = [...text.matchAll(SCHEME)].map((m) => ({ at: m.index, after: m.index + m[0].length }));
  if (marks.length === 0) return text;
  let out = text.slice(0, marks[0].after);
  marks.forEach((m, i) => {
    const chunk = text.slice(m.after, i + 1 < marks.length ? marks[i + 1].at : text.length);
    const next = i + 1 < marks.length ? text.slice(marks[i + 1].at, marks[i + 1].after) : '';
    const at = chunk.lastIndexOf('@');
    if (at < 0) {
      out += chunk + next;
      return;
    }
    const userinfo = chunk.slice(0, at);
    const colon = userinfo.indexOf(':');
    const user = colon < 0 ? '' : userinfo.slice(0, colon);
    out += `${PLAIN_USER.test(user) ? `${user}:***` : '***'}${chunk.slice(at)}${next}`;
  });
  return out;
}
