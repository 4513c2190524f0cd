#!/usr/bin/env node
// The real airbyte-faros-destination (installed from npm by package-lock.json
// with `npm ci`), as an Airbyte destination command line:
//   node dest.js spec | check --config C | write --config C --catalog K
require('airbyte-faros-destination').mainCommand().parseAsync(process.argv);
