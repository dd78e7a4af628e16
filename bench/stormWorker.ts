/**
 * One storm run in a child process (`pnpm bench` runs the policies two at a time on two cores):
 * `argv[2]` names the policy; the result goes back over IPC.
 */
import * as policies from "./policies.js"
import * as storm from "./storm.js"

const name = process.argv[2]
const policy = policies.all.find((p) => p.name === name)

const main = async () => {
  if (policy === undefined) throw new Error(`unknown policy ${name}`)
  const result = await storm.run(policy)
  await new Promise<void>((resolve, reject) => process.send!(result, (e: Error | null) => (e ? reject(e) : resolve())))
}

main().then(
  () => process.exit(0),
  (error) => {
    console.error(error)
    process.exit(1)
  }
)
