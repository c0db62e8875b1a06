// A failure whose text reaches the operator exactly as written. The SDK prefixes
// `error serializing property "…": ` to the message of any error thrown inside a resource input
// (once per level: stdin, the component's outputs, the stack's outputs), by assigning to
// `message`; this error keeps its own text, and, as a ResourceError with hideStack, is printed
// without a stack trace.
import * as pulumi from "@pulumi/pulumi";

export class OperatorError extends pulumi.ResourceError {
  constructor(message: string, resource: pulumi.Resource | undefined) {
    super(message, resource, true);
    this.name = "OperatorError";
    // An accessor whose setter ignores the SDK's rewrite; the same error object is rethrown, so
    // the program's uncaught handler logs this text once.
    Object.defineProperty(this, "message", {
      get: () => message,
      set: () => undefined,
      enumerable: false,
      configurable: true,
    });
  }
}
