#!/usr/bin/env node
// Validates AsyncAPI documents (JSON or YAML) with the reference parser,
// @asyncapi/parser, installed by "make node" into build/node.
//
//   node t/lib/asyncapi_validate.js [FILE...]     (no FILE: one from stdin)
//
// Prints one JSON line per document: {"file", "errors": [...],
// "warnings": [...]} where each diagnostic is "path: message (code)";
// exits 1 if any document has a diagnostic of severity error, 2 if the
// parser cannot be loaded.

'use strict';

const fs = require('fs');
const path = require('path');

const root = path.resolve(__dirname, '..', '..');
let Parser;

try {
    ({ Parser } = require(path.join(root, 'build', 'node', 'node_modules',
                                    '@asyncapi', 'parser')));
} catch (e) {
    console.error('cannot load @asyncapi/parser (run "make node"): '
                  + e.message);
    process.exit(2);
}

function describe(d) {
    return (d.path || []).join('.') + ': ' + d.message + ' (' + d.code + ')';
}

async function check(name, text) {
    const parser = new Parser();
    const diagnostics = await parser.validate(text);
    const errors = diagnostics.filter((d) => d.severity === 0);
    const warnings = diagnostics.filter((d) => d.severity === 1);
    console.log(JSON.stringify({
        file: name,
        errors: errors.map(describe),
        warnings: warnings.map(describe),
    }));
    return errors.length === 0;
}

async function main() {
    const files = process.argv.slice(2);
    let ok = true;

    if (files.length === 0) {
        ok = await check('-', fs.readFileSync(0, 'utf8'));
    }

    for (const f of files) {
        ok = (await check(f, fs.readFileSync(f, 'utf8'))) && ok;
    }

    process.exit(ok ? 0 : 1);
}

main().catch((e) => {
    console.error(e && e.stack ? e.stack : String(e));
    process.exit(2);
});
