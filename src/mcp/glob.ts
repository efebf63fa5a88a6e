/**
 * Path globs for crawl_site's include/exclude filters, matched against a URL's path (plus query).
 *
 *   `*`  any run of characters except `/`
 *   `**` any run of characters, `/` included
 *   `?`  one character except `/`
 *
 * A pattern that does not start with `/` may match at any depth (`*.pdf` = `/**\/*.pdf`), and a
 * pattern matches a path prefix ending at a `/` boundary too (`/docs` matches `/docs/a/b`).
 */
const cache = new Map<string, RegExp>();

export function globToRegExp(glob: string): RegExp {
  const hit = cache.get(glob);
  if (hit) return hit;
  let g = glob.trim();
  if (!g.startsWith('/')) g = '/**/' + g;
  let re = '';
  for (let i = 0; i < g.length; i++) {
    const c = g[i]!;
    if (c === '*') {
      if (g[i + 1] === '*') {
        // `/**/` also matches a single `/`
        if (g[i + 2] === '/') {
          re += '(?:.*/)?';
          i += 2;
        } else {
          re += '.*';
          i += 1;
        }
      } else re += '[^/]*';
    } else if (c === '?') re += '[^/]';
    else re += c.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  const suffix = g.endsWith('/') ? '.*' : g.endsWith('*') ? '' : '(?:/.*)?';
  const out = new RegExp(`^${re}${suffix}$`);
  cache.set(glob, out);
  return out;
}

export function matchesGlob(pathAndQuery: string, glob: string): boolean {
  return globToRegExp(glob).test(pathAndQuery);
}

/** include: any must match (when given); exclude: none may match. */
export function passesFilters(url: URL, include: string[] | undefined, exclude: string[] | undefined): boolean {
  const target = url.pathname + url.search;
  const candidates = url.search ? [target, url.pathname] : [target];
  if (include && include.length && !include.some((g) => candidates.some((t) => matchesGlob(t, g)))) return false;
  if (exclude && exclude.some((g) => candidates.some((t) => matchesGlob(t, g)))) return false;
  return true;
}
