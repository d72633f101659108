// A transformation function for tests, written as a Firehose Lambda function is (the handler
// below runs unchanged on AWS Lambda), behind a minimal HTTP runtime: POST the event, get the
// handler's return value as JSON (what sluiced's Lambda processor speaks).
//
//   node transform_function.js <port file> <output dir>
//
// The handler uppercases each record's data, answers Dropped for JSON records whose "seq" is a
// multiple of 10, ProcessingFailed for records with "fail": true, and returns the record's
// "region" (when present) as metadata.partitionKeys.region.
// Control: GET /__mode?m=<mode>&n=<count> makes the next <count> invocations (default: all)
// misbehave: ok, garbage (not JSON), omit (a recordId missing), duplicate (one twice),
// unknown (an id never sent), badbase64, late (answers after 3 s), status500, throttle (429),
// function-error (X-Amz-Function-Error: Unhandled), huge (a 7 MiB answer).
// <output dir>/invocations.log gets "<invocationId> <records> <mode>" per invocation.
'use strict';
const http = require('http');
const fs = require('fs');

// --- The function: Firehose's Lambda contract (reference §5), nothing sluice-specific. ---
async function handler(event) {
  const records = event.records.map((r) => {
    const text = Buffer.from(r.data, 'base64').toString('utf8');
    let obj = null;
    try { obj = JSON.parse(text); } catch (e) { /* not JSON: uppercase anyway */ }
    if (obj && obj.fail === true) return {recordId: r.recordId, result: 'ProcessingFailed', data: r.data};
    if (obj && typeof obj.seq === 'number' && obj.seq % 10 === 0) return {recordId: r.recordId, result: 'Dropped', data: r.data};
    const out = {recordId: r.recordId, result: 'Ok', data: Buffer.from(text.toUpperCase()).toString('base64')};
    if (obj && typeof obj.region === 'string') out.metadata = {partitionKeys: {region: obj.region}};
    return out;
  });
  return {records};
}
exports.handler = handler;

// --- The test runtime around it. ---
if (require.main === module) {
  const [portFile, outDir] = process.argv.slice(2);
  let mode = 'ok';
  let remaining = -1;

  const send = (res, status, text, headers = {}) => {
    res.writeHead(status, {'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text), ...headers});
    res.end(text);
  };

  const server = http.createServer((req, res) => {
    const url = new URL(req.url, 'http://x');
    if (url.pathname === '/__mode') {
      mode = url.searchParams.get('m') || 'ok';
      remaining = url.searchParams.has('n') ? Number(url.searchParams.get('n')) : -1;
      return send(res, 200, JSON.stringify({mode, remaining}));
    }
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', async () => {
      let event;
      try {
        event = JSON.parse(Buffer.concat(chunks).toString('utf8'));
        for (const k of ['invocationId', 'deliveryStreamArn', 'region']) if (typeof event[k] !== 'string') throw new Error(`no ${k}`);
        if (!Array.isArray(event.records)) throw new Error('no records');
        for (const r of event.records) {
          if (typeof r.recordId !== 'string' || typeof r.data !== 'string' || typeof r.approximateArrivalTimestamp !== 'number')
            throw new Error('bad record');
        }
      } catch (e) {
        return send(res, 400, JSON.stringify({errorMessage: 'bad event: ' + e.message}));
      }
      const m = remaining === 0 ? 'ok' : mode;
      if (remaining > 0) remaining--;
      fs.appendFileSync(`${outDir}/invocations.log`, `${event.invocationId} ${event.records.length} ${m}\n`);
      const result = await handler(event);
      const rs = result.records;
      switch (m) {
        case 'garbage': return send(res, 200, '<html>not json</html>');
        case 'omit': rs.pop(); break;
        case 'duplicate': rs.push(rs[0]); break;
        case 'unknown': rs[0] = {...rs[0], recordId: 'no-such-id'}; break;
        case 'badbase64': rs[0] = {...rs[0], result: 'Ok', data: '!!!not base64!!!'}; break;
        case 'status500': return send(res, 500, JSON.stringify({errorMessage: 'internal'}));
        case 'throttle': return send(res, 429, JSON.stringify({errorMessage: 'slow down'}));
        case 'function-error':
          return send(res, 200, JSON.stringify({errorType: 'Error', errorMessage: 'boom'}), {'X-Amz-Function-Error': 'Unhandled'});
        case 'huge': return send(res, 200, JSON.stringify({records: rs, pad: 'x'.repeat(7 << 20)}));
        case 'late': await new Promise((r) => setTimeout(r, 3000)); break;
      }
      send(res, 200, JSON.stringify(result));
    });
  });
  server.listen(0, '127.0.0.1', () => {
    fs.writeFileSync(portFile + '.tmp', String(server.address().port));
    fs.renameSync(portFile + '.tmp', portFile);
  });
  process.on('SIGTERM', () => process.exit(0));
}
