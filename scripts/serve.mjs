// A tiny static file server for the demo (no dependencies, node >= 18).
//
// It serves the repository root with a whitelist of top-level folders, so that the page in
// www/ can import the wasm-bindgen output as ../pkg/mpcvit.js and fetch ../models/index.json
// with the same relative paths it would use on any static host:
//
//   /            -> 302 to /www/
//   /www/...     -> www/      (the page; a folder serves its index.html; www/data/ holds the
//                             dataset subsets the page's trainer worker learns from)
//   /pkg/...     -> pkg/      (built by scripts/build-wasm.sh)
//   /models/...  -> models/   (shipped weights and manifests)
//   /ood/...     -> ood/      (the out-of-domain sets the Search live scores a retrained model on)
//
// Anything else is 404; no special headers are needed (the page uses no SharedArrayBuffer).
// Every file carries validators (a weak ETag from its size and modification time, and
// Last-Modified) with `Cache-Control: no-cache`: the browser revalidates each use and a file
// that did not change costs a 304 with no body, so an edit shows at the next reload while the
// 1.4 MB wasm is not downloaded again.
//
// Usage: node scripts/serve.mjs [--port 8080] [--host 127.0.0.1]   (or PORT / HOST env vars)
// As a module: `const { server, url } = await startServer({ port: 0 })` (port 0 = any free port).

import { createServer } from 'node:http';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { extname, join, normalize, resolve, sep, dirname } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const FOLDERS = ['www', 'pkg', 'models', 'ood'];

export const MIME = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.wasm': 'application/wasm',
  '.safetensors': 'application/octet-stream',
  '.bin': 'application/octet-stream',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.gif': 'image/gif',
  '.ico': 'image/x-icon',
  '.txt': 'text/plain; charset=utf-8',
  '.md': 'text/plain; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.ts': 'text/plain; charset=utf-8',
};

function send(res, status, text, headers = {}) {
  res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', ...headers });
  res.end(text);
}

/** Maps a URL path to a file under ROOT, or null when it is outside the served folders. */
function resolvePath(root, urlPath) {
  let decoded;
  try {
    decoded = decodeURIComponent(urlPath);
  } catch {
    return null;
  }
  if (decoded.includes('\0')) return null;
  const rel = normalize(decoded).replace(/^[/\\]+/, '');
  const top = rel.split(/[/\\]/)[0];
  if (!FOLDERS.includes(top)) return null;
  const full = join(root, rel);
  return full.startsWith(join(root, top) + sep) || full === join(root, top) ? full : null;
}

/** Whether the request's validators match the file (RFC 9110 13.1: If-None-Match wins). */
function notModified(req, { ETag }, mtime) {
  const tags = req.headers['if-none-match'];
  if (tags != null) return tags.split(',').map((t) => t.trim()).some((t) => t === ETag || t === '*');
  const since = Date.parse(req.headers['if-modified-since'] ?? '');
  // HTTP dates have whole seconds.
  return Number.isFinite(since) && Math.floor(mtime.getTime() / 1000) * 1000 <= since;
}

async function handle(root, req, res) {
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    return send(res, 405, 'method not allowed\n', { Allow: 'GET, HEAD' });
  }
  const url = new URL(req.url, 'http://localhost');
  if (url.pathname === '/' || url.pathname === '/index.html') {
    // The query is kept: `/?server=ws://…` opens the page in remote mode.
    return send(res, 302, 'see /www/\n', { Location: `/www/${url.search}` });
  }
  let file = resolvePath(root, url.pathname);
  if (!file) return send(res, 404, 'not found\n');
  let info;
  try {
    info = await stat(file);
    if (info.isDirectory()) {
      if (!url.pathname.endsWith('/')) {
        return send(res, 301, 'moved\n', { Location: url.pathname + '/' + url.search });
      }
      file = join(file, 'index.html');
      info = await stat(file);
    }
  } catch {
    return send(res, 404, 'not found\n');
  }
  if (!info.isFile()) return send(res, 404, 'not found\n');
  const validators = {
    ETag: `W/"${info.size.toString(16)}-${Math.floor(info.mtimeMs).toString(16)}"`,
    'Last-Modified': info.mtime.toUTCString(),
    'Cache-Control': 'no-cache',
  };
  if (notModified(req, validators, info.mtime)) {
    res.writeHead(304, validators);
    return res.end();
  }
  res.writeHead(200, {
    'Content-Type': MIME[extname(file).toLowerCase()] ?? 'application/octet-stream',
    'Content-Length': info.size,
    ...validators,
  });
  if (req.method === 'HEAD') return res.end();
  createReadStream(file)
    .on('error', () => res.destroy())
    .pipe(res);
}

/** Starts the server; resolves to `{ server, url }` once it listens. */
export function startServer({ port = 8080, host = '127.0.0.1', root = ROOT } = {}) {
  const server = createServer((req, res) => {
    handle(root, req, res).catch((e) => {
      if (!res.headersSent) send(res, 500, `internal error: ${e}\n`);
      else res.destroy();
    });
  });
  return new Promise((ok, fail) => {
    server.once('error', fail);
    server.listen(port, host, () => {
      const { port: actual } = server.address();
      ok({ server, url: `http://${host}:${actual}/` });
    });
  });
}

function arg(name) {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : undefined;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const port = Number(arg('port') ?? process.env.PORT ?? 8080);
  const host = arg('host') ?? process.env.HOST ?? '127.0.0.1';
  startServer({ port, host })
    .then(({ url }) => {
      console.log(`serving ${ROOT}`);
      console.log(`demo: ${url}www/   (bindings ${url}pkg/, models ${url}models/; Ctrl-C stops)`);
    })
    .catch((e) => {
      console.error(`cannot listen on ${host}:${port}: ${e.message}`);
      process.exit(1);
    });
}
