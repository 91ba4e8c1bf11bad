// launch.mjs — how ctest starts an integration test: `node launch.mjs api_submit.mjs`. Skips
// (77) with a clear message when the npm packages are not installed, instead of failing on an
// import; otherwise runs the test module, which exits 0, 1 or 77 itself.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const test = process.argv[2];
if (!test) {
    console.error('usage: node launch.mjs TEST.mjs');
    process.exit(2);
}
for (const pkg of ['ajv', 'ajv-formats', 'yaml', 'pngjs', '@seriousme/openapi-schema-validator']) {
    if (!fs.existsSync(path.join(here, 'node_modules', pkg, 'package.json'))) {
        console.log(`SKIP: npm package ${pkg} is not installed in ${here}/node_modules (run ${here}/npm_ci.sh)`);
        process.exit(77);
    }
}
await import(pathToFileURL(path.join(here, test)).href);
