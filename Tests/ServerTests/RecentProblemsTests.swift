import AdminAPI
import Logging
@testable import Server
import Testing

/// `GET /v1/status`'s "recent problems": warnings and worse only, newest first, never more
/// than the ring holds however many are logged.
@Suite struct RecentProblemsTests {
    private func line(_ level: Logger.Level, _ n: Int) -> LogLine {
        LogLine(level: level, timeMs: 1_765_000_000_000 + Int64(n), component: "dhcp", message: "problem \(n)",
                metadata: ["n": "\(n)"])
    }

    @Test func onlyWarningsAndWorseAreKeptNewestFirst() {
        let problems = RecentProblems(capacity: 5)
        problems.record(line(.info, 1))
        problems.record(line(.notice, 2))
        problems.record(line(.warning, 3))
        problems.record(line(.error, 4))
        problems.record(line(.debug, 5))
        let kept = problems.latest
        #expect(kept.map(\.level) == ["error", "warning"])
        #expect(kept[0].line.hasSuffix("error dhcp: problem 4 n=4"))
        #expect(kept[0].component == "dhcp" && kept[0].time == LogLine.rfc3339(1_765_000_000_004))
    }

    @Test func aFloodKeepsTheNewestOnly() {
        let problems = RecentProblems(capacity: 5)
        for n in 0..<1_003 { problems.record(line(n.isMultiple(of: 2) ? .warning : .critical, n)) }
        let kept = problems.latest
        #expect(kept.count == 5)
        #expect(kept.map { $0.line.split(separator: " ").last.map(String.init) } == ["n=1002", "n=1001", "n=1000", "n=999", "n=998"])
    }
}
