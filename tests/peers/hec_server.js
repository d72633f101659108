// A strict Splunk HTTP Event Collector for tests, written from Splunk's HEC documentation
// ("Format events for HTTP Event Collector", "HTTP Event Collector indexer acknowledgment",
// "Troubleshoot HTTP Event Collector" for the status codes): token authentication, a channel on
// every request (header X-Splunk-Request-Channel or ?channel=), the event endpoint's
// concatenated JSON events each with a non-blank "event", the raw endpoint's lines, ack ids per
// channel answered by /services/collector/ack. It can be told to misbehave.
//
//   node hec_server.js <port file> <output dir> <token>
//
// <output dir>/events.jsonl: one line per indexed event {"channel", "event"} (raw: one per line);
// <output dir>/requests.log: "<path> <status> <events> <mode>" per request.
// Control: GET /__mode?m=<mode>&n=<count> for the next <count> data requests (default: all):
//   ok; fail-event=<substring> (the first event containing it: 400 code 6 "Invalid data format"
//   with invalid-event-number; the events before it are indexed, as HEC does); 503 (code 9,
//   server busy); hang (never answers); drop-ack (the request is answered with an ackId that is
//   never confirmed, and its events are lost, as when an indexer dies); no-ack (200 without an
//   ackId, as a token without acknowledgement answers).
'use strict';
const http = require('http');
const fs = require('fs');

const [portFile, outDir, token] = process.argv.slice(2);
let mode = 'ok';
let remaining = -1;
const channels = new Map();  // channel -> {next: n, acked: Map(ackId -> bool)}

function reply(res, status, body) {
  const text = JSON.stringify(body);
  res.writeHead(status, {'Content-Type': 'application/json; charset=UTF-8', 'Content-Length': Buffer.byteLength(text)});
  res.end(text);
}

function log(path, status, events, why) {
  fs.appendFileSync(`${outDir}/requests.log`, `${path} ${status} ${events} ${why}\n`);
}

// Concatenated JSON objects (whitespace allowed between them), as the event endpoint takes them.
function splitEvents(body) {
  const out = [];
  let depth = 0, inString = false, escape = false, start = -1;
  for (let i = 0; i < body.length; i++) {
    const c = body[i];
    if (inString) {
      if (escape) escape = false;
      else if (c === '\\') escape = true;
      else if (c === '"') inString = false;
      continue;
    }
    if (c === '"') { inString = true; if (depth === 0) return null; continue; }
    if (c === '{') { if (depth === 0) start = i; depth++; continue; }
    if (c === '}') { depth--; if (depth < 0) return null; if (depth === 0) out.push(body.slice(start, i + 1)); continue; }
    if (depth === 0 && !/\s/.test(c)) return null;
  }
  return depth === 0 && !inString ? out : null;
}

const server = http.createServer((req, res) => {
  const url = new URL(req.url, 'http://x');
  if (url.pathname === '/__mode') {
    mode = url.searchParams.get('m') || 'ok';
    remaining = url.searchParams.has('n') ? Number(url.searchParams.get('n')) : -1;
    return reply(res, 200, {mode, remaining});
  }
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    const path = url.pathname;
    if (path === '/services/collector/health') return reply(res, 200, {text: 'HEC is healthy', code: 17});
    const auth = req.headers['authorization'] || '';
    if (!auth) { log(path, 401, 0, 'no token'); return reply(res, 401, {text: 'Token is required', code: 2}); }
    if (auth !== `Splunk ${token}`) { log(path, 403, 0, 'bad token'); return reply(res, 403, {text: 'Invalid token', code: 4}); }
    if (req.method !== 'POST') return reply(res, 400, {text: 'Invalid request', code: 999});
    const channel = req.headers['x-splunk-request-channel'] || url.searchParams.get('channel');
    if (!channel) { log(path, 400, 0, 'no channel'); return reply(res, 400, {text: 'Data channel is missing', code: 10}); }
    if (!/^[0-9a-fA-F-]{36}$/.test(channel)) { log(path, 400, 0, 'bad channel'); return reply(res, 400, {text: 'Invalid data channel', code: 11}); }
    if (!channels.has(channel)) channels.set(channel, {next: 0, acked: new Map()});
    const ch = channels.get(channel);
    const body = Buffer.concat(chunks).toString('utf8');

    if (path === '/services/collector/ack') {
      let q;
      try { q = JSON.parse(body); } catch (e) { return reply(res, 400, {text: 'Invalid data format', code: 6}); }
      if (!q || !Array.isArray(q.acks)) return reply(res, 400, {text: 'Invalid data format', code: 6});
      const acks = {};
      for (const id of q.acks) acks[id] = ch.acked.get(id) === true;
      log(path, 200, q.acks.length, 'ack query');
      return reply(res, 200, {acks});
    }
    let events;
    if (path === '/services/collector/event' || path === '/services/collector') {
      const parts = splitEvents(body);
      if (!parts || parts.length === 0) { log(path, 400, 0, 'not JSON events'); return reply(res, 400, {text: body.trim() ? 'Invalid data format' : 'No data', code: body.trim() ? 6 : 5}); }
      events = [];
      for (let i = 0; i < parts.length; i++) {
        let e;
        try { e = JSON.parse(parts[i]); } catch (x) { log(path, 400, i, 'bad event'); return reply(res, 400, {text: 'Invalid data format', code: 6, 'invalid-event-number': i}); }
        if (!('event' in e)) { log(path, 400, i, 'no event field'); return reply(res, 400, {text: 'Event field is required', code: 12, 'invalid-event-number': i}); }
        if (e.event === '' || e.event === null) { log(path, 400, i, 'blank event'); return reply(res, 400, {text: 'Event field cannot be blank', code: 13, 'invalid-event-number': i}); }
        events.push(e.event);
      }
    } else if (path === '/services/collector/raw') {
      if (!body) { log(path, 400, 0, 'no data'); return reply(res, 400, {text: 'No data', code: 5}); }
      events = body.split('\n').filter((l) => l.length > 0);
    } else {
      return reply(res, 404, {text: 'The requested URL was not found on this server.', code: 404});
    }
    let m = mode;
    if (remaining === 0) m = 'ok';
    if (remaining > 0) remaining--;
    if (m === 'hang') return;
    if (m === '503') { log(path, 503, events.length, m); return reply(res, 503, {text: 'Server is busy', code: 9}); }
    let keep = events;
    if (m.startsWith('fail-event=')) {
      const bad = events.findIndex((e) => (typeof e === 'string' ? e : JSON.stringify(e)).includes(m.slice(11)));
      if (bad >= 0) {
        for (const e of events.slice(0, bad)) fs.appendFileSync(`${outDir}/events.jsonl`, JSON.stringify({channel, event: e}) + '\n');
        log(path, 400, events.length, m);
        return reply(res, 400, {text: 'Invalid data format', code: 6, 'invalid-event-number': bad});
      }
    }
    if (m === 'no-ack') {
      for (const e of keep) fs.appendFileSync(`${outDir}/events.jsonl`, JSON.stringify({channel, event: e}) + '\n');
      log(path, 200, events.length, m);
      return reply(res, 200, {text: 'Success', code: 0});
    }
    const ackId = ch.next++;
    if (m === 'drop-ack') {
      ch.acked.set(ackId, false);  // never confirmed; the events are lost
    } else {
      for (const e of keep) fs.appendFileSync(`${outDir}/events.jsonl`, JSON.stringify({channel, event: e}) + '\n');
      ch.acked.set(ackId, true);
    }
    log(path, 200, events.length, m);
    reply(res, 200, {text: 'Success', code: 0, ackId});
  });
});

server.listen(0, '127.0.0.1', () => fs.writeFileSync(portFile, `${server.address().port}\n`));
