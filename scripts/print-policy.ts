// `npm run -s policy -- [stack]`: prints the copy identity's IAM policy for Pulumi.<stack>.yaml
// (default "production") as JSON on stdout and nothing else, for review without Pulumi.
// Errors go to stderr as one line, exit status 1.
import { parseConfig, SECRET_KEYS } from "../components/config";
import { copyPolicyDocument, policyJson } from "../components/policy";
import { readStackSettings, stackFilePath } from "../components/stack-file";

function main(argv: string[]): number {
  const args = argv.filter((a) => a !== "--");
  if (args.length > 1 || /^-/.test(args[0] ?? "")) {
    process.stderr.write("usage: npm run -s policy -- [stack]  (default: production)\n");
    return 2;
  }
  const stack = args[0] ?? "production";
  try {
    const { side = "backup", ...raw } = readStackSettings(stackFilePath(stack));
    if (side !== "backup") {
      throw new Error(
        `side is "${side}": only a backup stack has a copy policy (a restore stack reads with the key you bring)`,
      );
    }
    // Secrets do not shape the policy; stand-ins let parseConfig check everything else.
    for (const key of SECRET_KEYS) raw[key] ??= "[not needed to print the policy]";
    process.stdout.write(`${policyJson(copyPolicyDocument(parseConfig(raw)))}\n`);
    return 0;
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    process.stderr.write(`policy for stack "${stack}": ${message.split("\n").join("; ")}\n`);
    return 1;
  }
}

process.exitCode = main(process.argv.slice(2));
