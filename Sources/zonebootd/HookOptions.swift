import ArgumentParser
import Boot

/// How the hook runner retries and how much it runs at once.
struct HookOptions: ParsableArguments {
    @Option(help: "Events delivered to hooks at once.")
    var hookConcurrency = 8

    @Option(help: "Tries per event before it becomes a dead letter (`zonectl events retry ID` delivers it again).")
    var hookAttempts = 8

    @Option(help: "Milliseconds before a failed event's second try; each later wait doubles.")
    var hookBackoffMs = 2_000

    @Option(help: "The longest wait between two tries, in milliseconds.")
    var hookBackoffCapMs = 600_000

    func validate() throws {
        guard hookConcurrency >= 1 else { throw ValidationError("--hook-concurrency must be at least 1") }
        guard hookAttempts >= 1 else { throw ValidationError("--hook-attempts must be at least 1") }
        guard hookBackoffMs >= 1, hookBackoffCapMs >= hookBackoffMs else {
            throw ValidationError("--hook-backoff-ms must be at least 1 and at most --hook-backoff-cap-ms")
        }
    }

    var policy: RetryPolicy {
        RetryPolicy(maxAttempts: hookAttempts, baseMs: Int64(hookBackoffMs), capMs: Int64(hookBackoffCapMs))
    }
}
