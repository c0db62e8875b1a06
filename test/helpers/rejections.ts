// For tests whose program is meant to fail: a failed Output fails `pulumi up`/`preview` as a
// rejection no code of ours handles, and leaves promises of what never registered pending.
import assert from "node:assert/strict";
import type * as pulumi from "@pulumi/pulumi";

/**
 * Collects every unhandled rejection from now on instead of letting the test runner count it
 * against whichever test is running; the caller asserts on what it expects there.
 */
export function collectUnhandledRejections(): unknown[] {
  const unhandled: unknown[] = [];
  process.removeAllListeners("unhandledRejection");
  process.on("unhandledRejection", (e) => unhandled.push(e));
  return unhandled;
}

/**
 * For `after`: what never registered leaves its promises pending; in a real `up` the error is
 * logged and the leak report is skipped. Here, clear the runtime's leak list so the file exits 0.
 */
export async function forgetLeakedPromises(): Promise<void> {
  const debuggable = (await import("@pulumi/pulumi/runtime/debuggable")) as unknown as {
    leakedPromises(): unknown;
  };
  debuggable.leakedPromises();
}

/** The error an Output rejects with (valueOf would wait forever); fails if it resolves. */
export async function rejectionError(output: pulumi.Output<unknown>): Promise<Error> {
  try {
    await (output as unknown as { promise(): Promise<unknown> }).promise();
  } catch (err) {
    return err as Error;
  }
  assert.fail("expected the Output to reject");
}

/** The message an Output rejects with; fails if it resolves. */
export async function rejection(output: pulumi.Output<unknown>): Promise<string> {
  const err = await rejectionError(output);
  return String(err.message ?? err);
}
