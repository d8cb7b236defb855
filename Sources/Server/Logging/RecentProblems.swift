import AdminAPI
import Logging
import Synchronization

/// The last warnings and errors the server logged, kept for `GET /v1/status`: an operator
/// asks "what went wrong lately" without finding and reading the log. A bounded ring: a
/// flood of warnings costs a fixed amount of memory and keeps only the newest.
public final class RecentProblems: Sendable {
    private struct Ring {
        var lines: [LogLine] = []
        var next = 0
    }

    private let capacity: Int
    private let ring = Mutex(Ring())

    public init(capacity: Int = ServerStatus.problemsKept) { self.capacity = max(1, capacity) }

    /// Keeps `line` if it is a warning or worse.
    public func record(_ line: LogLine) {
        guard line.level >= .warning else { return }
        ring.withLock { ring in
            if ring.lines.count < capacity {
                ring.lines.append(line)
            } else {
                ring.lines[ring.next] = line
            }
            ring.next = (ring.next + 1) % capacity
        }
    }

    /// Newest first.
    public var latest: [ServerStatus.Problem] {
        let (lines, next) = ring.withLock { ($0.lines, $0.next) }
        let ordered = lines.count < capacity ? lines : Array(lines[next...] + lines[..<next])
        return ordered.reversed().map { line in
            var text = line.formatted(.text)
            if text.hasSuffix("\n") { text.removeLast() }
            return ServerStatus.Problem(time: LogLine.rfc3339(line.timeMs), level: "\(line.level)", component: line.component,
                                        line: text)
        }
    }
}
