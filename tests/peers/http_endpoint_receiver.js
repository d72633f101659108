// A strict Firehose HTTP endpoint (firehose.md §4) for tests: validates every header and the
// body, records what it accepted, and can be told to misbehave.
//
//   node http_endpoint_receiver.js <port file> <output dir> [access key] [TLS cert] [TLS key]
//
// With a certificate and key it serves https.
// Writes the chosen port to <port file>. <output dir>/received.jsonl gets one line per accepted
// request: {"requestId": ..., "records": [<utf-8 of each record>], "attributes": {...}}.
// <output dir>/attempts.log gets "<requestId> <status>" for every request, accepted or not.
// Control: GET /__mode?m=<mode>&n=<count> makes the next <count> requests (default: all)
// answer with <mode>: ok, fail500, hang, 413, wrong-id, garbage, huge.
'use strict';
const http = require('http');
const https = require('https');
const fs = require('fs');
const zlib = require('zlib');

const [portFile, outDir, accessKey, certFile, keyFile] = process.argv.slice(2);
let mode = 'ok';
let remaining = -1;  // -1: forever

function reply(res, status, body) {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  res.writeHead(status, {'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text)});
  res.end(text);
}

function reject(res, requestId, why) {
  fs.appendFileSync(`${outDir}/attempts.log`, `${requestId || '-'} 400 ${why}\n`);
  reply(res, 400, {requestId: requestId || '', timestamp: Date.now(), errorMessage: why});
}

const handler = (req, res) => {
  const url = new URL(req.url, 'http://x');
  if (url.pathname === '/__mode') {
    mode = url.searchParams.get('m') || 'ok';
    remaining = url.searchParams.has('n') ? Number(url.searchParams.get('n')) : -1;
    return reply(res, 200, {mode, remaining});
  }
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    const h = req.headers;
    const requestId = h['x-amz-firehose-request-id'];
    if (req.method !== 'POST') return reject(res, requestId, 'method must be POST');
    if (h['x-amz-firehose-protocol-version'] !== '1.0') return reject(res, requestId, 'protocol version header missing or not 1.0');
    if (!requestId) return reject(res, requestId, 'X-Amz-Firehose-Request-Id missing');
    if (accessKey && h['x-amz-firehose-access-key'] !== accessKey) return reject(res, requestId, 'wrong access key');
    if (h['content-type'] !== 'application/json') return reject(res, requestId, 'Content-Type must be application/json');
    let attributes;
    try {
      attributes = JSON.parse(h['x-amz-firehose-common-attributes']).commonAttributes;
      if (typeof attributes !== 'object' || attributes === null) throw new Error('no commonAttributes');
    } catch (e) {
      return reject(res, requestId, 'bad X-Amz-Firehose-Common-Attributes: ' + e.message);
    }
    let body = Buffer.concat(chunks);
    const gzipped = body.length >= 2 && body[0] === 0x1f && body[1] === 0x8b;
    if (h['content-encoding'] === 'gzip') {
      try { body = zlib.gunzipSync(body); } catch (e) { return reject(res, requestId, 'bad gzip body'); }
    } else if (h['content-encoding']) {
      return reject(res, requestId, 'unexpected Content-Encoding ' + h['content-encoding']);
    } else if (gzipped) {
      return reject(res, requestId, 'gzip body without Content-Encoding: gzip');
    }
    let doc;
    try { doc = JSON.parse(body.toString('utf8')); } catch (e) { return reject(res, requestId, 'body is not JSON'); }
    if (doc.requestId !== requestId) return reject(res, requestId, 'body requestId differs from the header');
    if (typeof doc.timestamp !== 'number') return reject(res, requestId, 'timestamp must be a number');
    if (!Array.isArray(doc.records) || doc.records.length < 1 || doc.records.length > 10000)
      return reject(res, requestId, 'records must be an array of 1..10000');
    const records = [];
    for (const r of doc.records) {
      if (typeof r.data !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(r.data)) return reject(res, requestId, 'data must be base64');
      records.push(Buffer.from(r.data, 'base64').toString('utf8'));
    }
    let m = mode;
    if (remaining === 0) m = 'ok';
    if (remaining > 0) remaining--;
    if (m.startsWith('slow')) {
      // slow<N>: think for N seconds, then accept (an endpoint slower than 30 s but within
      // request_timeout_s must get each record once).
      fs.appendFileSync(`${outDir}/attempts.log`, `${requestId} ${m}\n`);
      const secs = Number(m.slice(4)) || 35;
      return setTimeout(() => {
        fs.appendFileSync(`${outDir}/received.jsonl`, JSON.stringify({requestId, records, attributes}) + '\n');
        reply(res, 200, {requestId, timestamp: Date.now()});
      }, secs * 1000);
    }
    if (m === 'hang') {
      fs.appendFileSync(`${outDir}/attempts.log`, `${requestId} hang\n`);
      return;  // never answers
    }
    const status = m === 'fail500' ? 500 : m === '413' ? 413 : 200;
    fs.appendFileSync(`${outDir}/attempts.log`, `${requestId} ${status} ${m}\n`);
    if (m === 'fail500') return reply(res, 500, {requestId, timestamp: Date.now(), errorMessage: 'receiver told to fail'});
    if (m === '413') return reply(res, 413, {requestId, timestamp: Date.now(), errorMessage: 'too large, says the receiver'});
    if (m === 'wrong-id') return reply(res, 200, {requestId: 'not-' + requestId, timestamp: Date.now()});
    if (m === 'garbage') return reply(res, 200, '<html>oops</html>');
    if (m === 'huge') return reply(res, 200, 'x'.repeat(4 << 20));
    fs.appendFileSync(`${outDir}/received.jsonl`, JSON.stringify({requestId, records, attributes}) + '\n');
    reply(res, 200, {requestId, timestamp: Date.now()});
  });
};
const server = certFile ? https.createServer({cert: fs.readFileSync(certFile), key: fs.readFileSync(keyFile)}, handler)
                        : http.createServer(handler);
server.keepAliveTimeout = 5000;
server.listen(0, '127.0.0.1', () => {
  fs.writeFileSync(portFile + '.tmp', String(server.address().port));
  fs.renameSync(portFile + '.tmp', portFile);
});
process.on('SIGTERM', () => process.exit(0));
