// s3rver in its own process, as a real server would be. Started with --openssl-legacy-provider:
// s3rver's ListObjectsV2 continuation tokens use DES, which OpenSSL 3 only has in the legacy provider.
// Usage: node --openssl-legacy-provider s3rver-process.mjs <directory> <bucket> [port]; prints {"port":N}.
import { stat } from 'node:fs/promises';
import S3rver from 's3rver';

const [directory, bucket, port = '0'] = process.argv.slice(2);
const server = new S3rver({ port: Number(port), address: '127.0.0.1', silent: true, directory, configureBuckets: [{ name: bucket, configs: [] }] });

// s3rver answers a PUT once it has consumed the body, before its write stream has flushed the
// object file: a HEAD right after (bkdr checks the stored size of every pack it uploads) can
// see part of it, and once did in CI ("stored as 3543040 bytes, sent 3550538"). Real S3 is
// read-after-write consistent, so the answer here waits until the file holds the whole object.
// For a body s3rver already holds as a Buffer, it answers before its write stream has even
// opened the file, so the file may not exist yet either (a CI run once got an InternalError here).
const putObject = server.store.putObject.bind(server.store);
const storedSize = (file) =>
  stat(file).then(
    (s) => s.size,
    (err) => {
      if (err.code === 'ENOENT') return -1;
      throw err;
    },
  );
server.store.putObject = async (object) => {
  const result = await putObject(object);
  const file = server.store.getResourcePath(object.bucket, object.key, 'object');
  while ((await storedSize(file)) < result.size) await new Promise((resolve) => setTimeout(resolve, 1));
  return result;
};
const address = await server.run();
process.stdout.write(`${JSON.stringify({ port: address.port })}\n`);
process.on('SIGTERM', () => server.close().then(() => process.exit(0)));
