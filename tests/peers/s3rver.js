// s3rver started for a test: a fixed bucket, a port chosen at run time written to <port file>.
//   node s3rver.js <port file> <data dir> <bucket> [port]
'use strict';
const fs = require('fs');
const S3rver = require('s3rver');
const [portFile, dir, bucket, port] = process.argv.slice(2);
const server = new S3rver({port: Number(port || 0), address: '127.0.0.1', directory: dir, silent: true,
                           configureBuckets: [{name: bucket}]});
server.run().then(({port}) => {
  fs.writeFileSync(portFile + '.tmp', String(port));
  fs.renameSync(portFile + '.tmp', portFile);
}).catch((e) => { console.error(e); process.exit(1); });
process.on('SIGTERM', () => server.close().finally(() => process.exit(0)));
