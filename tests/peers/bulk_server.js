// A strict OpenSearch / Elasticsearch `_bulk` endpoint for tests, written from the Bulk API's
// documentation (OpenSearch "Bulk", Elasticsearch "Bulk API"): NDJSON action/metadata lines,
// each `index` or `create` followed by its source line, the body ending in a newline; answers
// {"took", "errors", "items": [{"index": {"_index", "_id", "status", "result" | "error"}}]} with
// one item per action, in order. It keeps every document it indexed (by index and id, so a
// re-index with the same id replaces) and can be told to fail.
//
//   node bulk_server.js <port file> <output dir> [user:password or ""] [port]
//
// <output dir>/documents.jsonl: one line per accepted document, {"index", "id", "source"};
// <output dir>/requests.log: "<status> <actions> <why>" per request.
// Control: GET /__mode?m=<mode>&n=<count> for the next <count> requests (default: all):
//   ok; fail-doc=<substring> (documents whose source contains it get 400 mapper_parsing_exception);
//   retry-doc=<substring> (those get 429 es_rejected_execution_exception, the others succeed);
//   429 and 503 (the whole request); hang (never answers); short (answers one item too few);
//   garbage (a body that is not JSON).
'use strict';
const http = require('http');
const fs = require('fs');

const [portFile, outDir, credentials, fixedPort] = process.argv.slice(2);
let mode = 'ok';
let remaining = -1;
const documents = new Map();  // "<index>/<id>" -> source

function reply(res, status, body) {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  res.writeHead(status, {'Content-Type': 'application/json; charset=UTF-8', 'Content-Length': Buffer.byteLength(text)});
  res.end(text);
}

function requestError(res, status, type, reason, actions) {
  fs.appendFileSync(`${outDir}/requests.log`, `${status} ${actions} ${reason}\n`);
  reply(res, status, {error: {root_cause: [{type, reason}], type, reason}, status});
}

let autoId = 0;

const server = http.createServer((req, res) => {
  const url = new URL(req.url, 'http://x');
  if (url.pathname === '/__mode') {
    mode = url.searchParams.get('m') || 'ok';
    remaining = url.searchParams.has('n') ? Number(url.searchParams.get('n')) : -1;
    return reply(res, 200, {mode, remaining});
  }
  if (url.pathname === '/__documents') {
    return reply(res, 200, {count: documents.size});
  }
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    if (credentials) {
      const auth = req.headers['authorization'] || '';
      const want = 'Basic ' + Buffer.from(credentials).toString('base64');
      if (auth !== want) {
        res.setHeader('WWW-Authenticate', 'Basic realm="security" charset="UTF-8"');
        return requestError(res, 401, 'security_exception', 'missing authentication credentials for REST request [/_bulk]', 0);
      }
    }
    const m = url.pathname.match(/^\/(?:([^/_][^/]*)\/)?_bulk$/);
    if (!m) return requestError(res, 400, 'invalid_index_name_exception', `no handler for ${req.method} ${url.pathname}`, 0);
    if (req.method !== 'POST' && req.method !== 'PUT') return requestError(res, 405, 'method_not_allowed', `${req.method} is not allowed`, 0);
    const pathIndex = m[1] ? decodeURIComponent(m[1]) : null;
    const type = (req.headers['content-type'] || '').split(';')[0].trim();
    if (type !== 'application/x-ndjson' && type !== 'application/json')
      return requestError(res, 406, 'media_type_header_exception', `Content-Type header [${type}] is not supported`, 0);
    const body = Buffer.concat(chunks).toString('utf8');
    if (body.length === 0) return requestError(res, 400, 'action_request_validation_exception', 'Validation Failed: 1: no requests added;', 0);
    if (!body.endsWith('\n')) return requestError(res, 400, 'illegal_argument_exception', 'The bulk request must be terminated by a newline [\\n]', 0);
    const lines = body.slice(0, -1).split('\n').map((l) => l.replace(/\r$/, ''));
    const actions = [];
    for (let i = 0; i < lines.length; i++) {
      let action;
      try { action = JSON.parse(lines[i]); } catch (e) {
        return requestError(res, 400, 'x_content_parse_exception', `Malformed action/metadata line [${i + 1}], expected a JSON object`, actions.length);
      }
      const verbs = action && typeof action === 'object' && !Array.isArray(action) ? Object.keys(action) : [];
      if (verbs.length !== 1 || !['index', 'create'].includes(verbs[0]))
        return requestError(res, 400, 'illegal_argument_exception', `Malformed action/metadata line [${i + 1}], expected one of [index, create]`, actions.length);
      const meta = action[verbs[0]];
      const index = meta._index || pathIndex;
      if (!index) return requestError(res, 400, 'action_request_validation_exception', `Validation Failed: 1: index is missing;`, actions.length);
      if (i + 1 >= lines.length) return requestError(res, 400, 'illegal_argument_exception', `The bulk request's action line [${i + 1}] has no source`, actions.length);
      const source = lines[++i];
      actions.push({verb: verbs[0], index, id: meta._id, source});
    }
    let mm = mode;
    if (remaining === 0) mm = 'ok';
    if (remaining > 0) remaining--;
    if (mm === 'hang') return;  // never answers
    if (mm === '429') return requestError(res, 429, 'es_rejected_execution_exception', 'rejected execution of coordinating operation', actions.length);
    if (mm === '503') return requestError(res, 503, 'cluster_block_exception', 'blocked by: [SERVICE_UNAVAILABLE/1/state not recovered];', actions.length);
    if (mm === 'garbage') { res.writeHead(200, {'Content-Type': 'application/json'}); return res.end('<html>proxy error</html>'); }
    const items = [];
    let errors = false;
    for (const a of actions) {
      let item;
      const failDoc = mm.startsWith('fail-doc=') && a.source.includes(mm.slice(9));
      const retryDoc = mm.startsWith('retry-doc=') && a.source.includes(mm.slice(10));
      let parsed;
      try { parsed = JSON.parse(a.source); } catch (e) { parsed = undefined; }
      const id = a.id !== undefined ? String(a.id) : `auto-${++autoId}`;
      if (parsed === undefined || typeof parsed !== 'object' || parsed === null || Array.isArray(parsed) || failDoc) {
        errors = true;
        item = {_index: a.index, _id: id, status: 400,
                error: {type: 'mapper_parsing_exception', reason: failDoc ? 'failed to parse field [value] of type [long]' : 'failed to parse: the source is not a JSON object'}};
      } else if (retryDoc) {
        errors = true;
        item = {_index: a.index, _id: id, status: 429,
                error: {type: 'es_rejected_execution_exception', reason: 'rejected execution of primary operation'}};
      } else {
        const key = `${a.index}/${id}`;
        const existed = documents.has(key);
        if (a.verb === 'create' && existed) {
          errors = true;
          item = {_index: a.index, _id: id, status: 409, error: {type: 'version_conflict_engine_exception', reason: `[${id}]: version conflict, document already exists`}};
        } else {
          documents.set(key, a.source);
          fs.appendFileSync(`${outDir}/documents.jsonl`, JSON.stringify({index: a.index, id, source: a.source}) + '\n');
          item = {_index: a.index, _id: id, _version: 1, result: existed ? 'updated' : 'created', status: existed ? 200 : 201,
                  _shards: {total: 1, successful: 1, failed: 0}};
        }
      }
      items.push({[a.verb]: item});
    }
    if (mm === 'short') items.pop();
    fs.appendFileSync(`${outDir}/requests.log`, `200 ${actions.length} ${mm}\n`);
    reply(res, 200, {took: 1, errors, items});
  });
});

server.listen(Number(fixedPort || 0), '127.0.0.1', () => fs.writeFileSync(portFile, `${server.address().port}\n`));
