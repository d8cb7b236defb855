import ArgumentParser
import Boot
import Zone

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

    @Option(help: ArgumentHelp("How long delivered events stay in the outbox (90s, 12h, 7d) before they are deleted.",
                               discussion: "Undelivered events and dead letters are never deleted: they stay for the operator."))
    var eventRetention = "7d"

    /// `--event-retention` in seconds (validated).
    var eventRetentionSeconds: Int { Zone.Duration(eventRetention)?.seconds ?? 7 * 86_400 }

    func validate() throws {
        guard hookConcurrency >= 1 else { throw ValidationError("--hook-concurrency must be at least 1") }
        guard hookAttempts >= 1 else { throw ValidationError("--hook-attempts must be at least 1") }
        guard Zone.Duration(eventRetention) != nil else {
            throw ValidationError("--event-retention \(eventRetention): expected a count and a unit, e.g. 90s, 12h, 7d")
        }
        guard hookBackoffMs >= 1, hookBackoffCapMs >= hookBackoffMs else {
            throw ValidationError("--hook-backoff-ms must be at least 1 and at most --hook-backoff-cap-ms")
        }
    }

    var policy: RetryPolicy {
        RetryPolicy(maxAttempts: hookAttempts, baseMs: Int64(hookBackoffMs), capMs: Int64(hookBackoffCapMs))
    }
}
