#!/usr/bin/env node
// The `snoopi` CLI. Runs on the project's Node 22 (type stripping) when started through npx/npm.
import { runCli } from '../src/cli/main.ts'

process.exitCode = await runCli(process.argv.slice(2))
