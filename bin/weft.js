#!/usr/bin/env node
// The published entry: Node 24 strips the types of the TypeScript sources it imports.
import '../src/main/cli.ts';
