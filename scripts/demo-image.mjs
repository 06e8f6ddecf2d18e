#!/usr/bin/env node
// Assembles a minimal image from a directory holding a static binary: scratch + one deterministic layer at
// /app (owned 1000:1000) + Entrypoint, User, WorkingDir, written to an OCI layout. Used by scripts/demo until
// `lading build` lands; it exercises the same layer writer, mutate and sinks the exporter uses.
// Usage: node scripts/demo-image.mjs <dir-with-binary> <binary-name> <oci:DIR:TAG>
const [dir, binary, dest] = process.argv.slice(2);
if (!dir || !binary || !dest) {
  console.error('usage: demo-image.mjs <dir> <binary> <oci:DIR:TAG>');
  process.exit(2);
}
const load = (p) => import(new URL(`../dist/${p}`, import.meta.url).href);
const { createLayer } = await load('registry/layers/index.js');
const { appendLayers, emptyImage, withConfig } = await load('registry/mutate/index.js');
const { writeImage, validateImage } = await load('registry/image/index.js');
const { openSink } = await load('registry/open.js');
const { parseReference } = await load('registry/reference.js');

const layer = await createLayer({ directories: [{ source: dir, target: '/app' }] }, { uid: 1000, gid: 1000 });
let image = appendLayers(emptyImage({ os: 'linux', architecture: 'amd64' }), { layer, history: { created_by: 'Application Layer' } });
image = withConfig(image, {
  entrypoint: [`/app/${binary}`],
  user: '1000:1000',
  workingDir: '/app',
  env: ['PATH=/app:/usr/bin:/bin'],
  labels: { 'org.opencontainers.image.title': binary },
});
await validateImage(image);
const sink = await openSink(parseReference(dest));
await writeImage(sink, image);
await sink.commit();
await layer.dispose();
console.log(image.descriptor.digest);
