/**
 * The Vary header: which request headers a response depends on, so that a cache between
 * tickql and a browser never hands one client's variant to another.
 */

/** Adds `name` to the response's Vary header unless it is already there (or Vary is `*`). */
export function addVary(headers: Headers, name: string): void {
  const vary = headers.get('vary');
  if (vary === null || vary.trim() === '') {
    headers.set('vary', name);
    return;
  }
  const listed = vary.split(',').map((t) => t.trim().toLowerCase());
  if (!listed.includes(name.toLowerCase()) && !listed.includes('*')) headers.set('vary', `${vary}, ${name}`);
}
