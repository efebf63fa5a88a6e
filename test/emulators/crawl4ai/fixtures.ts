// Deterministic fixture "internet" for the Crawl4AI emulator. Nothing here touches the network: the emulator looks
// URLs up in this site map instead of fetching them. Everything is generated from code (no random state), so tests can
// import FIXTURES (or use `emulator.fixtures`) to compute expectations.

import { escapeAttr, escapeText } from './dom.ts';

export interface FixturePage {
  /** canonical absolute URL (what `new URL(x).href` gives) */
  url: string;
  host: string;
  path: string;
  /** text of <title> (== CrawlResult.metadata.title) */
  title: string;
  description: string;
  /** HTTP status the fixture origin answers with */
  status: number;
  contentType: string;
  /** response body (HTML for pages; may be empty for failing pages) */
  body: string;
  /** absolute hrefs of <a> links in the page, fragments stripped, de-duplicated, document order */
  links: string[];
  /** BFS depth from the site root following same-host links (undefined when unreachable or not computed) */
  depth?: number;
  /** true when the site's robots.txt disallows this path for every user agent */
  disallowedByRobots?: boolean;
  /** the origin answers 301 to this absolute URL */
  redirectTo?: string;
  /** answer is delayed by the emulator's slowMs option */
  slow?: boolean;
  /** the crawl fails in the browser (success:false) with this HTTP status */
  broken?: boolean;
}

export interface FixtureSite {
  host: string;
  origin: string;
  /** HTML pages of the site (robots.txt / sitemap.xml are separate, see below) */
  pages: FixturePage[];
  robotsTxt?: string;
  sitemapXml?: string;
  /** URLs listed in sitemap.xml */
  sitemapUrls?: string[];
}

export interface FixtureProduct {
  sku: string;
  name: string;
  price: string;
  /** absolute URL of the product page (the `a[href]` inside the card, resolved) */
  url: string;
  /** relative href as written in the HTML */
  href: string;
  description?: string;
}

export interface FixtureSites {
  /** https://docs.example.com: ~14 interlinked pages up to depth 3, robots.txt (Disallow: /private/), sitemap.xml */
  docs: FixtureSite & { root: string; depthOf: Record<string, number> };
  /** https://shop.example.com/products: product cards for CSS extraction */
  shop: FixtureSite & { productsUrl: string; products: FixtureProduct[]; extractionSchema: Record<string, unknown> };
  /** https://big.example.com/huge: ~400 KB of markdown */
  big: FixtureSite & { hugeUrl: string; sections: number };
  /** https://slow.example.com/: answers after `slowMs` (default 3000) */
  slow: FixtureSite & { url: string };
  /** https://broken.example.com/: crawl fails, success:false, status_code 500 */
  broken: FixtureSite & { url: string };
  /** https://example.com/: the classic "Example Domain" page */
  example: FixtureSite & { url: string };
  /** every site by host */
  sites: Record<string, FixtureSite>;
  /** every page by canonical URL */
  byUrl: Record<string, FixturePage>;
  /** hosts the emulator's fake DNS does not know answer net::ERR_NAME_NOT_RESOLVED, e.g. this one */
  unknownHostUrl: string;
}

// ------------------------------------------------------------------ helpers

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const WORDS = (
  'crawler page markdown browser token request response worker server result config cache selector schema extract ' +
  'link domain robots sitemap stream job status artifact screenshot pdf content filter query html text title section ' +
  'network timeout retry memory queue depth batch limit header cookie proxy agent model chunk index score value field'
).split(' ');

function sentence(rnd: () => number, words: number): string {
  const w: string[] = [];
  for (let i = 0; i < words; i++) w.push(WORDS[Math.floor(rnd() * WORDS.length)]!);
  const s = w.join(' ');
  return s[0]!.toUpperCase() + s.slice(1) + '.';
}

function paragraph(rnd: () => number, sentences: number): string {
  const out: string[] = [];
  for (let i = 0; i < sentences; i++) out.push(sentence(rnd, 8 + Math.floor(rnd() * 8)));
  return out.join(' ');
}

function extractLinks(html: string, base: string): string[] {
  const seen = new Set<string>();
  const out: string[] = [];
  for (const m of html.matchAll(/<a\b[^>]*\bhref="([^"]*)"/g)) {
    const raw = m[1]!.replace(/&amp;/g, '&');
    if (!raw || raw.startsWith('#') || /^(mailto|javascript|tel):/i.test(raw)) continue;
    let u: URL;
    try {
      u = new URL(raw, base);
    } catch {
      continue;
    }
    u.hash = '';
    if (!seen.has(u.href)) {
      seen.add(u.href);
      out.push(u.href);
    }
  }
  return out;
}

interface PageSpec {
  path: string;
  title: string;
  description: string;
  main: string;
  status?: number;
  redirectTo?: string;
  contentType?: string;
  rawBody?: string;
  slow?: boolean;
  broken?: boolean;
}

function makePage(origin: string, layout: (s: PageSpec) => string, spec: PageSpec): FixturePage {
  const url = new URL(spec.path, origin).href;
  const body = spec.rawBody ?? (spec.redirectTo ? '' : layout(spec));
  const page: FixturePage = {
    url,
    host: new URL(origin).host,
    path: new URL(url).pathname,
    title: spec.title,
    description: spec.description,
    status: spec.status ?? (spec.redirectTo ? 301 : 200),
    contentType: spec.contentType ?? 'text/html; charset=utf-8',
    body,
    links: spec.redirectTo ? [new URL(spec.redirectTo, origin).href] : extractLinks(body, url),
  };
  if (spec.redirectTo) page.redirectTo = new URL(spec.redirectTo, origin).href;
  if (spec.slow) page.slow = true;
  if (spec.broken) page.broken = true;
  return page;
}

function site(origin: string, pages: FixturePage[], robotsTxt?: string, sitemapUrls?: string[]): FixtureSite {
  const s: FixtureSite = { host: new URL(origin).host, origin, pages };
  if (robotsTxt !== undefined) s.robotsTxt = robotsTxt;
  if (sitemapUrls) {
    s.sitemapUrls = sitemapUrls;
    s.sitemapXml =
      '<?xml version="1.0" encoding="UTF-8"?>\n<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">\n' +
      sitemapUrls.map((u, i) => `  <url><loc>${escapeText(u)}</loc><lastmod>2026-07-${String(1 + (i % 28)).padStart(2, '0')}</lastmod></url>\n`).join('') +
      '</urlset>\n';
  }
  return s;
}

/** Does a (simple) robots.txt disallow `path` for user agent `*`? Longest match wins, Allow beats Disallow on ties. */
export function robotsDisallows(robotsTxt: string | undefined, path: string, userAgent = '*'): boolean {
  if (!robotsTxt) return false;
  const groups: Array<{ agents: string[]; rules: Array<{ allow: boolean; prefix: string }> }> = [];
  let cur: (typeof groups)[number] | null = null;
  let lastWasAgent = false;
  for (const rawLine of robotsTxt.split(/\r?\n/)) {
    const line = rawLine.replace(/#.*/, '').trim();
    const m = /^([a-zA-Z-]+)\s*:\s*(.*)$/.exec(line);
    if (!m) continue;
    const key = m[1]!.toLowerCase();
    const val = m[2]!.trim();
    if (key === 'user-agent') {
      if (!cur || !lastWasAgent) {
        cur = { agents: [], rules: [] };
        groups.push(cur);
      }
      cur.agents.push(val.toLowerCase());
      lastWasAgent = true;
    } else {
      lastWasAgent = false;
      if (cur && (key === 'allow' || key === 'disallow') && val) cur.rules.push({ allow: key === 'allow', prefix: val });
    }
  }
  const ua = userAgent.toLowerCase();
  const group = groups.find((g) => g.agents.some((a) => a !== '*' && ua.includes(a))) ?? groups.find((g) => g.agents.includes('*'));
  if (!group) return false;
  let best: { allow: boolean; len: number } | null = null;
  for (const r of group.rules) {
    if (path.startsWith(r.prefix) && (!best || r.prefix.length > best.len || (r.prefix.length === best.len && r.allow))) {
      best = { allow: r.allow, len: r.prefix.length };
    }
  }
  return best ? !best.allow : false;
}

// ------------------------------------------------------------------ docs.example.com

const DOCS = 'https://docs.example.com';

function docsLayout(s: PageSpec): string {
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>${escapeText(s.title)}</title>
<meta name="description" content="${escapeAttr(s.description)}">
<meta name="keywords" content="crawl4ai, docs, example">
<meta name="author" content="Example Docs Team">
<meta property="og:title" content="${escapeAttr(s.title)}">
<meta property="og:description" content="${escapeAttr(s.description)}">
<link rel="stylesheet" href="/assets/site.css">
<style>body{font-family:sans-serif}</style>
<script>window.__analytics = { page: "${escapeAttr(s.path)}" };</script>
</head>
<body>
<header class="site-header">
<a class="logo" href="/">Example Docs</a>
<nav class="main-nav"><ul><li><a href="/">Home</a></li><li><a href="/guide/">Guide</a></li><li><a href="/api/">API</a></li><li><a href="/blog/">Blog</a></li></ul></nav>
</header>
<main id="content">
<article class="doc">
${s.main}
</article>
</main>
<footer class="site-footer">
<p>© 2026 Example Docs. <a href="https://github.com/unclecode/crawl4ai">Crawl4AI on GitHub</a> · <a href="/about">About</a></p>
</footer>
</body>
</html>
`;
}

function buildDocs(): FixtureSites['docs'] {
  const specs: PageSpec[] = [
    {
      path: '/',
      title: 'Example Docs — Home',
      description: 'Documentation for the example crawler deployment.',
      main: `<h1>Welcome to Example Docs</h1>
<p>This site documents how to run a <strong>private web crawler</strong> you own. Start with the <a href="/guide/">guide</a>, then read the <a href="/api/">API reference</a>.</p>
<img src="/assets/logo.png" alt="Example Docs logo" width="120">
<h2>Quick links</h2>
<ul>
<li><a href="/guide/">Guide</a> — install and configure</li>
<li><a href="/api/" title="API reference">API</a> — every endpoint</li>
<li><a href="/blog/">Blog</a> — release notes and stories</li>
<li><a href="https://github.com/unclecode/crawl4ai" title="Source code">Crawl4AI on GitHub</a></li>
<li><a href="https://shop.example.com/products">Example Shop</a> (a sister site on another subdomain)</li>
</ul>
<p>Contact us at <a href="mailto:docs@example.com">docs@example.com</a>.</p>`,
    },
    {
      path: '/guide/',
      title: 'Guide | Example Docs',
      description: 'Step-by-step guide to installing and configuring the crawler.',
      main: `<h1>Guide</h1>
<p>The guide walks you through installation and configuration.</p>
<ol>
<li><a href="/guide/install">Install the server</a></li>
<li><a href="/guide/config">Configure it</a> (see also <a href="/guide/config#caching">caching</a>)</li>
</ol>`,
    },
    {
      path: '/guide/install',
      title: 'Installation | Example Docs',
      description: 'Install the crawler server with Docker.',
      main: `<h1>Installation</h1>
<p>Install the server on a VM with at least 4 GB of RAM. The image is on <a href="https://hub.docker.com/r/unclecode/crawl4ai">Docker Hub</a>.</p>
<h2>Requirements</h2>
<ul><li>Docker 24 or newer</li><li>4 GB RAM</li><li>An API token</li></ul>
<p>For the container flags see <a href="/guide/install/docker">Docker details</a>.</p>`,
    },
    {
      path: '/guide/install/docker',
      title: 'Docker details | Example Docs',
      description: 'Docker run flags for the crawler container.',
      main: `<h1>Docker details</h1>
<p>Run the container with a token and enough shared memory.</p>
<pre><code>docker run -d -p 11235:11235 --shm-size=1g -e CRAWL4AI_API_TOKEN=... unclecode/crawl4ai:0.9.4</code></pre>
<p>Back to <a href="/guide/install">installation</a>.</p>`,
    },
    {
      path: '/guide/config',
      title: 'Configuration | Example Docs',
      description: 'Configuration options of the crawler server.',
      main: `<h1>Configuration</h1>
<p>Most behaviour is set per request through <code>crawler_config</code>. See the <a href="/api/crawl">crawl endpoint</a>.</p>
<h2 id="caching">Caching</h2>
<p>Use <code>cache_mode</code> bypass to always fetch fresh content.</p>
<table class="options">
<caption>Common options</caption>
<tr><th>Option</th><th>Default</th><th>Meaning</th></tr>
<tr><td>cache_mode</td><td>bypass</td><td>Cache policy</td></tr>
<tr><td>page_timeout</td><td>60000</td><td>Navigation timeout in ms</td></tr>
<tr><td>css_selector</td><td>none</td><td>Narrow the content</td></tr>
</table>`,
    },
    {
      path: '/api/',
      title: 'API reference | Example Docs',
      description: 'Reference for every HTTP endpoint.',
      main: `<h1>API reference</h1>
<p>The server exposes a small REST API.</p>
<ul><li><a href="/api/crawl">POST /crawl</a></li><li><a href="/api/md">POST /md</a></li></ul>`,
    },
    {
      path: '/api/crawl',
      title: 'POST /crawl | Example Docs',
      description: 'Crawl one or more URLs.',
      main: `<h1>POST /crawl</h1>
<p>Crawls up to 100 URLs and returns one result per URL. The upstream docs live at <a href="https://docs.crawl4ai.com/">docs.crawl4ai.com</a>.</p>
<h2>Request</h2>
<pre><code>{"urls": ["https://example.com"], "crawler_config": {"cache_mode": "bypass"}}</code></pre>
<h2>Response</h2>
<p>A JSON object with <code>success</code> and <code>results</code>.</p>`,
    },
    {
      path: '/api/md',
      title: 'POST /md | Example Docs',
      description: 'Get the markdown of one page.',
      main: `<h1>POST /md</h1>
<p>Returns markdown for one URL. The filter <code>f</code> is fit, raw or bm25.</p>`,
    },
    {
      path: '/blog/',
      title: 'Blog | Example Docs',
      description: 'News from the team.',
      main: `<h1>Blog</h1>
<ul><li><a href="/blog/2026/hello">Hello, world</a></li><li><a href="/blog/2026/release-notes">Release notes 0.9</a></li></ul>`,
    },
    {
      path: '/blog/2026/hello',
      title: 'Hello, world | Example Docs',
      description: 'Our first post.',
      main: `<h1>Hello, world</h1>
<p>Welcome to the blog. Some of our <a href="/private/secret">internal notes</a> are not for crawlers.</p>
<p>Say hi to our friends at <a href="https://example.org/">example.org</a>.</p>`,
    },
    {
      path: '/blog/2026/release-notes',
      title: 'Release notes 0.9 | Example Docs',
      description: 'What changed in 0.9.',
      main: `<h1>Release notes 0.9</h1>
<p>Version 0.9 is secure by default: every route needs a bearer token.</p>
<ul><li>Token auth on by default</li><li>SSRF protection</li><li>Untrusted config gate</li></ul>`,
    },
    {
      path: '/about',
      title: 'About | Example Docs',
      description: 'About this site.',
      main: `<h1>About</h1>
<p>This is a fixture site. The <a href="/old-guide">old guide</a> moved.</p>`,
    },
    {
      path: '/private/secret',
      title: 'Secret notes | Example Docs',
      description: 'Internal notes.',
      main: `<h1>Secret notes</h1><p>Robots.txt disallows this page.</p>`,
    },
    { path: '/old-guide', title: '', description: '', main: '', redirectTo: '/guide/' },
  ];
  const pages = specs.map((s) => makePage(DOCS, docsLayout, s));
  const robotsTxt = `User-agent: *\nDisallow: /private/\nAllow: /\n\nSitemap: ${DOCS}/sitemap.xml\n`;
  for (const p of pages) p.disallowedByRobots = robotsDisallows(robotsTxt, p.path);
  // BFS depth over same-host links
  const byUrl = new Map(pages.map((p) => [p.url, p]));
  const depthOf: Record<string, number> = {};
  const root = `${DOCS}/`;
  depthOf[root] = 0;
  const queue = [root];
  while (queue.length) {
    const u = queue.shift()!;
    const p = byUrl.get(u);
    if (!p) continue;
    p.depth = depthOf[u];
    for (const l of p.links) {
      if (new URL(l).host !== p.host || l in depthOf) continue;
      depthOf[l] = depthOf[u]! + 1;
      queue.push(l);
    }
  }
  const sitemapUrls = pages.filter((p) => !p.disallowedByRobots && !p.redirectTo).map((p) => p.url);
  return { ...site(DOCS, pages, robotsTxt, sitemapUrls), root, depthOf };
}

// ------------------------------------------------------------------ shop.example.com

const SHOP = 'https://shop.example.com';

function shopLayout(s: PageSpec): string {
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>${escapeText(s.title)}</title>
<meta name="description" content="${escapeAttr(s.description)}"></head>
<body>
<header><nav class="shop-nav"><a href="/">Shop home</a> <a href="/products">All products</a> <a href="/cart">Cart</a></nav></header>
<main>
${s.main}
</main>
<footer><p>Example Shop Ltd. <a href="https://docs.example.com/">Docs</a></p></footer>
</body></html>
`;
}

function buildShop(): FixtureSites['shop'] {
  const raw: Array<Omit<FixtureProduct, 'url' | 'href'> & { slug: string }> = [
    { sku: 'SKU-1001', slug: 'solar-lantern', name: 'Solar Lantern', price: '$24.99', description: 'A lantern that charges in the sun.' },
    { sku: 'SKU-1002', slug: 'trail-mug', name: 'Trail Mug', price: '$12.50', description: 'Enamel mug for camping.' },
    { sku: 'SKU-1003', slug: 'rope-hammock', name: 'Rope Hammock', price: '$89.00', description: 'Cotton hammock, two people.' },
    { sku: 'SKU-1004', slug: 'pocket-knife', name: 'Pocket Knife', price: '$35.00' },
    { sku: 'SKU-1005', slug: 'wool-socks', name: 'Wool Socks', price: '$9.99', description: 'Merino socks, pair.' },
    { sku: 'SKU-1006', slug: 'rain-poncho', name: 'Rain Poncho & Hood', price: '$19.95', description: 'Packs into its own pocket.' },
  ];
  const products: FixtureProduct[] = raw.map((r) => {
    const p: FixtureProduct = { sku: r.sku, name: r.name, price: r.price, href: `/products/${r.slug}`, url: `${SHOP}/products/${r.slug}` };
    if (r.description) p.description = r.description;
    return p;
  });
  const cards = raw
    .map(
      (r) => `<div class="product" data-sku="${r.sku}">
  <h2 class="name">${escapeText(r.name)}</h2>
  <span class="price">${r.price}</span>
  ${r.description ? `<p class="desc">${escapeText(r.description)}</p>` : ''}
  <a class="details" href="/products/${r.slug}">View details</a>
</div>`,
    )
    .join('\n');
  const specs: PageSpec[] = [
    {
      path: '/',
      title: 'Example Shop',
      description: 'Outdoor gear.',
      main: `<h1>Example Shop</h1><p>Browse <a href="/products">all products</a>.</p>`,
    },
    {
      path: '/products',
      title: 'Products | Example Shop',
      description: 'All products.',
      main: `<h1>All products</h1>\n<div class="product-grid">\n${cards}\n</div>\n<p class="pager">Page 1 of 1</p>`,
    },
    ...raw.map((r) => ({
      path: `/products/${r.slug}`,
      title: `${r.name} | Example Shop`,
      description: r.description ?? r.name,
      main: `<h1>${escapeText(r.name)}</h1><p class="price">${r.price}</p><p>${escapeText(r.description ?? 'No description.')}</p><p><a href="/products">Back to products</a></p>`,
    })),
    { path: '/cart', title: 'Cart | Example Shop', description: 'Your cart.', main: '<h1>Cart</h1><p>Your cart is empty.</p>' },
  ];
  const pages = specs.map((s) => makePage(SHOP, shopLayout, s));
  const robotsTxt = 'User-agent: *\nDisallow: /cart\n';
  for (const p of pages) p.disallowedByRobots = robotsDisallows(robotsTxt, p.path);
  const extractionSchema = {
    name: 'Products',
    baseSelector: '.product',
    baseFields: [{ name: 'sku', type: 'attribute', attribute: 'data-sku' }],
    fields: [
      { name: 'name', selector: 'h2.name', type: 'text' },
      { name: 'price', selector: '.price', type: 'text' },
      { name: 'description', selector: 'p.desc', type: 'text' },
      { name: 'url', selector: 'a', type: 'attribute', attribute: 'href' },
    ],
  };
  return { ...site(SHOP, pages, robotsTxt), productsUrl: `${SHOP}/products`, products, extractionSchema };
}

// ------------------------------------------------------------------ big.example.com

const BIG = 'https://big.example.com';
const BIG_SECTIONS = 430;

function plainLayout(s: PageSpec): string {
  return `<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>${escapeText(s.title)}</title><meta name="description" content="${escapeAttr(s.description)}"></head>
<body>
<nav class="top"><a href="/">Home</a></nav>
<main>
${s.main}
</main>
<footer><p>Fixture page.</p></footer>
</body></html>
`;
}

function buildBig(): FixtureSites['big'] {
  const rnd = mulberry32(0xc4a1);
  const parts: string[] = ['<h1>The huge page</h1>', '<p>This page is deliberately enormous so that clients must truncate or page through it.</p>'];
  for (let i = 1; i <= BIG_SECTIONS; i++) {
    parts.push(`<h2>Section ${i}</h2>`);
    parts.push(`<p>${paragraph(rnd, 4)}</p>`);
    parts.push(`<p>${paragraph(rnd, 4)}</p>`);
    parts.push(`<p>${paragraph(rnd, 3)} See <a href="/huge#s${i}">section ${i}</a>.</p>`);
  }
  const specs: PageSpec[] = [
    { path: '/', title: 'Big site', description: 'Home of the huge page.', main: '<h1>Big site</h1><p>See <a href="/huge">the huge page</a>.</p>' },
    { path: '/huge', title: 'The huge page', description: 'About 400 KB of markdown.', main: parts.join('\n') },
  ];
  const pages = specs.map((s) => makePage(BIG, plainLayout, s));
  return { ...site(BIG, pages), hugeUrl: `${BIG}/huge`, sections: BIG_SECTIONS };
}

// ------------------------------------------------------------------ small sites

function buildSlow(): FixtureSites['slow'] {
  const pages = [
    makePage('https://slow.example.com', plainLayout, {
      path: '/',
      title: 'Slow site',
      description: 'Answers slowly.',
      main: '<h1>Slow site</h1><p>This page took a while to load.</p>',
      slow: true,
    }),
  ];
  return { ...site('https://slow.example.com', pages), url: 'https://slow.example.com/' };
}

function buildBroken(): FixtureSites['broken'] {
  const pages = [
    makePage('https://broken.example.com', plainLayout, {
      path: '/',
      title: '',
      description: '',
      main: '',
      rawBody: '',
      status: 500,
      broken: true,
    }),
  ];
  return { ...site('https://broken.example.com', pages), url: 'https://broken.example.com/' };
}

function buildExample(): FixtureSites['example'] {
  const body = `<!doctype html>
<html>
<head>
    <title>Example Domain</title>
    <meta charset="utf-8" />
    <meta name="viewport" content="width=device-width, initial-scale=1" />
</head>
<body>
<div>
    <h1>Example Domain</h1>
    <p>This domain is for use in illustrative examples in documents. You may use this
    domain in literature without prior coordination or asking for permission.</p>
    <p><a href="https://www.iana.org/domains/example">More information...</a></p>
</div>
</body>
</html>
`;
  const pages = [
    makePage('https://example.com', plainLayout, { path: '/', title: 'Example Domain', description: '', main: '', rawBody: body }),
  ];
  return { ...site('https://example.com', pages), url: 'https://example.com/' };
}

export function buildFixtures(): FixtureSites {
  const docs = buildDocs();
  const shop = buildShop();
  const big = buildBig();
  const slow = buildSlow();
  const broken = buildBroken();
  const example = buildExample();
  const all = [docs, shop, big, slow, broken, example];
  const sites: Record<string, FixtureSite> = {};
  const byUrl: Record<string, FixturePage> = {};
  for (const s of all) {
    sites[s.host] = s;
    for (const p of s.pages) byUrl[p.url] = p;
  }
  return { docs, shop, big, slow, broken, example, sites, byUrl, unknownHostUrl: 'https://no-such-host.example.net/' };
}

/** Shared, immutable-by-convention fixture map (the emulator uses its own copy, plus pages added via addPage). */
export const FIXTURES: FixtureSites = buildFixtures();
