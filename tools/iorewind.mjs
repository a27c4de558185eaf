#!/usr/bin/env node
// The `iorewind` executable: a committed, executable entry point in front of
// the compiled CLI (tsc does not mark its output executable).
import '../dist/tools/cli.js';
