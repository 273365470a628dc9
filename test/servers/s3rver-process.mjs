// s3rver in its own process, as a real server would be. Started with --openssl-legacy-provider:
// s3rver's ListObjectsV2 continuation tokens use DES, which OpenSSL 3 only has in the legacy provider.
// Usage: node --openssl-legacy-provider s3rver-process.mjs <directory> <bucket> [port]; prints {"port":N}.
import S3rver from 's3rver';

const [directory, bucket, port = '0'] = process.argv.slice(2);
const server = new S3rver({ port: Number(port), address: '127.0.0.1', silent: true, directory, configureBuckets: [{ name: bucket, configs: [] }] });
const address = await server.run();
process.stdout.write(`${JSON.stringify({ port: address.port })}\n`);
process.on('SIGTERM', () => server.close().then(() => process.exit(0)));
