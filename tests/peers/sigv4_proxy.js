// A SigV4-verifying reverse proxy for tests: s3rver does not check signatures (libraries.md §9),
// so every request is checked here, with the AWS SDK's own implementation (@smithy/signature-v4),
// before it is forwarded. A signature mismatch, a payload hash that does not match the body, or a
// missing x-amz-content-sha256 gets 403 with S3's XML error; anything else goes to the upstream.
//
//   node sigv4_proxy.js <port file> <upstream port> <access key> <secret key> [log file]
'use strict';
const http = require('http');
const fs = require('fs');
const crypto = require('crypto');
const {SignatureV4} = require('@smithy/signature-v4');
const {Sha256} = require('@aws-crypto/sha256-js');
const {HttpRequest} = require('@smithy/protocol-http');

const [portFile, upstreamPort, accessKey, secretKey, logFile] = process.argv.slice(2);
const log = (line) => logFile && fs.appendFileSync(logFile, line + '\n');

function deny(res, code, message) {
  log(`DENY ${code}: ${message}`);
  const xml = `<?xml version="1.0" encoding="UTF-8"?><Error><Code>${code}</Code><Message>${message}</Message></Error>`;
  res.writeHead(403, {'Content-Type': 'application/xml', 'Content-Length': Buffer.byteLength(xml)});
  res.end(xml);
}

async function verify(req, body) {
  const auth = req.headers['authorization'] || '';
  const m = /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/s3\/aws4_request, ?SignedHeaders=([^,]+), ?Signature=([0-9a-f]{64})$/.exec(auth);
  if (!m) return 'Authorization header is not AWS4-HMAC-SHA256: ' + auth.slice(0, 80);
  const [, keyId, , region, signedHeaders, signature] = m;
  if (keyId !== accessKey) return 'unknown access key ' + keyId;
  const payloadHash = req.headers['x-amz-content-sha256'];
  if (!payloadHash) return 'x-amz-content-sha256 missing';
  if (payloadHash !== 'UNSIGNED-PAYLOAD' && payloadHash !== crypto.createHash('sha256').update(body).digest('hex'))
    return 'x-amz-content-sha256 does not match the body';
  const amzDate = req.headers['x-amz-date'];
  if (!amzDate) return 'x-amz-date missing';
  const date = new Date(amzDate.replace(/^(\d{4})(\d\d)(\d\d)T(\d\d)(\d\d)(\d\d)Z$/, '$1-$2-$3T$4:$5:$6Z'));
  const url = new URL(req.url, 'http://placeholder');
  const query = {};
  for (const [k, v] of url.searchParams) query[k] = v;
  const headers = {};
  for (const name of signedHeaders.split(';')) {
    if (req.headers[name] === undefined) return `signed header '${name}' is not in the request`;
    headers[name] = req.headers[name];
  }
  const [hostname, port] = (req.headers['host'] || '').split(':');
  const request = new HttpRequest({method: req.method, protocol: 'http:', hostname, port: port ? Number(port) : undefined,
                                   path: url.pathname, query, headers, body});
  const signer = new SignatureV4({credentials: {accessKeyId: accessKey, secretAccessKey: secretKey}, region,
                                  service: 's3', sha256: Sha256, uriEscapePath: false, applyChecksum: false});
  const signed = await signer.sign(request, {signingDate: date, unsignableHeaders: new Set(), signableHeaders: new Set(Object.keys(headers))});
  const expected = /Signature=([0-9a-f]{64})/.exec(signed.headers['authorization'])[1];
  return expected === signature ? null : `signature mismatch (expected ${expected}, got ${signature})`;
}

const server = http.createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', async () => {
    const body = Buffer.concat(chunks);
    let why;
    try { why = await verify(req, body); } catch (e) { why = 'verification failed: ' + e.message; }
    if (why) return deny(res, 'SignatureDoesNotMatch', why);
    log(`OK ${req.method} ${req.url} ${body.length}`);
    const headers = {...req.headers};
    const up = http.request({host: '127.0.0.1', port: Number(upstreamPort), method: req.method, path: req.url, headers}, (ur) => {
      res.writeHead(ur.statusCode, ur.headers);
      ur.pipe(res);
    });
    up.on('error', (e) => {
      res.writeHead(502, {'Content-Type': 'text/plain'});
      res.end('upstream: ' + e.message);
    });
    up.end(body);
  });
});
server.keepAliveTimeout = 5000;
server.listen(0, '127.0.0.1', () => {
  fs.writeFileSync(portFile + '.tmp', String(server.address().port));
  fs.renameSync(portFile + '.tmp', portFile);
});
process.on('SIGTERM', () => process.exit(0));
