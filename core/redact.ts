/**
 * Credentials written into URLs (`http://user:pass@host/...`, `redis://:pass@host`, a documented form
 * for every endpoint) kept out of everything pprofcol prints: log lines, errors, `validate` output,
 * pages. A password becomes `xxxxx` (what Go's url.Redacted() writes, so it reads the same as
 * Prometheus's logs); a user without a password is masked too, since a token is often sent as one,
 * and so is the value of a query parameter that carries one (`?api_key=...`, `?token=...`).
 */

/**
 * What a credential in a URL becomes in everything pprofcol prints. Not the same as core/config/mask.ts's
 * CONFIG_SECRET_MASK (`<secret>`, a whole config value): each is documented as it is, and a URL keeps
 * Go's url.Redacted() form so it reads the same as in Prometheus's logs.
 */
export const URL_CREDENTIAL_MASK = 'xxxxx';

/**
 * Query parameters that carry a credential (`?api_key=`, `?token=`, `?access_token=`, `&X-Amz-Signature=`,
 * `?password=`): their values are masked as a URL's password is. The name is matched whole (after `?`
 * or `&`): `?max_tokens=5` or `?monkey=1` stay. A value ends where a URL ends in text (see URL_USERINFO).
 */
const QUERY_SECRET = /([?&](?:[\w.-]*(?:password|passwd|token|secret|signature|credentials?)|api[_-]?key|apikey|access[_-]?key|secret[_-]?key|private[_-]?key|key|auth|sig|pass|pwd)=)([^&#\s"'<>\\]+)/gi;

function maskQuery(text: string): string {
  if (!text.includes('=')) return text;
  return text.replace(QUERY_SECRET, (_all, name: string) => `${name}${URL_CREDENTIAL_MASK}`);
}

/** The URL with its userinfo and credential query parameters masked; a string that does not parse is masked as text (maskUrlsIn). */
export function maskUrl(url: string): string {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return maskUrlsIn(url);
  }
  const search = maskQuery(u.search);
  if (u.username === '' && u.password === '' && search === u.search) return url;
  if (u.password !== '') u.password = URL_CREDENTIAL_MASK;
  else if (u.username !== '') u.username = URL_CREDENTIAL_MASK;
  u.search = search;
  return u.toString();
}

/**
 * Userinfo of every URL in free text. The user part stops at the first `:`; the password runs to the
 * last `@` before the host (as a URL parser reads it), so an unescaped `@` in a password is masked too.
 * Characters that end a URL in text (space, quotes, angle brackets, a backslash of JSON escaping) end it.
 */
const URL_USERINFO = /\b([a-zA-Z][a-zA-Z0-9+.-]*:\/\/)([^\s/?#@:"'<>\\]*)(:[^\s/?#"'<>\\]*)?@/g;

/** Userinfo and credential query parameters (QUERY_SECRET) of every URL in free text. */
export function maskUrlsIn(text: string): string {
  const masked = text.includes('@')
    ? text.replace(URL_USERINFO, (_all, scheme: string, user: string, password: string | undefined) =>
        password === undefined ? `${scheme}${URL_CREDENTIAL_MASK}@` : `${scheme}${user}:${URL_CREDENTIAL_MASK}@`,
      )
    : text;
  return maskQuery(masked);
}
