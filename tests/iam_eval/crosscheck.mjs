// Cross-checks the Rust IAM evaluator of tests/iam_eval against @cloud-copilot/iam-simulate.
//
// Not part of the test suite (it needs npm). By hand:
//   ZAE_IAM_SIM_DUMP=/tmp/iam-dump.jsonl cargo test --test iam_simulation
//   mkdir -p /tmp/iamsim-npm && cd /tmp/iamsim-npm && npm install @cloud-copilot/iam-simulate@0.1.173
//   NODE_PATH=/tmp/iamsim-npm/node_modules node tests/iam_eval/crosscheck.mjs /tmp/iam-dump.jsonl
//
// Each dump line is one evaluation (policy, action, resource, context keys, the Rust
// decision). The script runs the same request through iam-simulate, prints every
// disagreement and exits non-zero when there is one.

import { createRequire } from 'node:module'
import { readFileSync } from 'node:fs'

const require = createRequire(import.meta.url)
const { runSimulation } = require('@cloud-copilot/iam-simulate')

const expected = {
  Allowed: 'Allowed',
  ImplicitDeny: 'ImplicitlyDenied',
  ExplicitDeny: 'ExplicitlyDenied'
}

const lines = readFileSync(process.argv[2], 'utf8').split('\n').filter((l) => l.trim())
const seen = new Set()
let compared = 0
let disagreements = 0
const tally = {}
for (const line of lines) {
  const entry = JSON.parse(line)
  const key = JSON.stringify([entry.policy, entry.action, entry.resource, entry.context])
  if (seen.has(key)) continue
  seen.add(key)
  const response = await runSimulation(
    {
      identityPolicies: [{ name: 'tenant', policy: entry.policy }],
      serviceControlPolicies: [],
      resourceControlPolicies: [],
      request: {
        action: entry.action,
        principal: 'arn:aws:iam::123456789012:role/tenant',
        resource: { accountId: '123456789012', resource: entry.resource },
        contextVariables: entry.context
      }
    },
    {}
  )
  compared += 1
  const theirs = response.resultType === 'error' ? `error ${JSON.stringify(response.errors)}` : response.overallResult
  tally[theirs] = (tally[theirs] || 0) + 1
  if (theirs !== expected[entry.decision]) {
    disagreements += 1
    console.log(`DISAGREE rust=${entry.decision} iam-simulate=${theirs}: ${entry.detail} ${entry.action}`)
  }
}
console.log(`${lines.length} evaluations, ${compared} distinct, ${disagreements} disagreements; iam-simulate:`, tally)
process.exit(disagreements === 0 ? 0 : 1)
