import Foundation
import Logging
@testable import Server
import Testing

/// zonebootd's log lines (`--log-format text|json`): escaping, key order, time.
struct LogLineTests {
    // 2026-12-05T21:14:35.123Z
    let time: Int64 = 1_796_505_275_123

    func line(_ message: String, _ metadata: Logger.Metadata = [:], level: Logger.Level = .info,
              component: String = "dhcp") -> LogLine {
        LogLine(level: level, timeMs: time, component: component, message: message, metadata: metadata)
    }

    func object(_ text: String) throws -> [String: Any] {
        try #require(JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
    }

    @Test func textIsTimeLevelComponentMessageThenKeys() {
        let text = line("lease granted", ["address": "198.18.16.11", "mac": "52:54:00:00:00:01", "host": "r01u07"])
            .formatted(.text)
        #expect(text == "2026-12-05T21:14:35.123Z info dhcp: lease granted host=r01u07 mac=52:54:00:00:00:01 address=198.18.16.11\n")
    }

    @Test func keysComeInOneOrderWhateverTheDictionarySays() {
        let metadata: Logger.Metadata = [
            "zeta": "1", "address": "198.18.16.11", "alpha": "2", "lease": "3600s", "host": "h", "location": "p01/tor-a/swp1",
            "mac": "m", "revision": "3", "kind": "bmc",
        ]
        let expected = ["host", "location", "mac", "address", "kind", "revision", "lease", "alpha", "zeta"]
        #expect(line("x", metadata).orderedKeys == expected)
        let json = line("x", metadata).formatted(.json)
        let positions = expected.map { json.range(of: "\"\($0)\":")!.lowerBound }
        #expect(positions == positions.sorted())
        #expect(json.hasPrefix(#"{"level":"info","time":"2026-12-05T21:14:35.123Z","component":"dhcp","message":"x","host":"h""#))
    }

    @Test func theRankOfEachLeadingKeyIsItsPlaceInTheList() {
        #expect(LogLine.leadingKeys.map(LogLine.rank) == Array(LogLine.leadingKeys.indices))
        #expect(LogLine.rank("zeta") == LogLine.leadingKeys.count)
    }

    @Test func jsonIsOneParsableObjectPerLine() throws {
        let text = line("lease granted", ["host": "r01u07", "count": .stringConvertible(3),
                                          "ports": .array(["swp1", "swp2"]), "tags": .dictionary(["b": "2", "a": "1"])],
                        level: .warning).formatted(.json)
        #expect(text.hasSuffix("}\n") && text.filter { $0 == "\n" }.count == 1)
        let parsed = try object(text)
        #expect(parsed["level"] as? String == "warning")
        #expect(parsed["time"] as? String == "2026-12-05T21:14:35.123Z")
        #expect(parsed["component"] as? String == "dhcp")
        #expect(parsed["message"] as? String == "lease granted")
        #expect(parsed["host"] as? String == "r01u07")
        #expect(parsed["count"] as? String == "3")
        #expect(parsed["ports"] as? [String] == ["swp1", "swp2"])
        #expect(parsed["tags"] as? [String: String] == ["a": "1", "b": "2"])
        #expect(text.contains(#""tags":{"a":"1","b":"2"}"#))
    }

    @Test func jsonEscapesWhatJSONNeedsAndWhatATerminalWouldObey() throws {
        // What a client can put in a vendor class, circuit-id or URL path.
        let hostile = "a\"b\\c\nd\re\tf\u{0}g\u{1b}[31mh\u{7f}i\u{9b}j\u{202e}k é ✓"
        let text = line(hostile, ["circuit": "\(hostile)"]).formatted(.json)
        #expect(text.filter { $0 == "\n" }.count == 1)
        #expect(text.contains(#"a\"b\\c\nd\re\tf\u0000g\u001b[31mh\u007fi\u009bj\u202ek é ✓"#))
        let parsed = try object(text)
        #expect(parsed["message"] as? String == hostile)
        #expect(parsed["circuit"] as? String == hostile)
    }

    @Test func jsonKeysNamedLikeItsOwnFieldsAreRenamed() throws {
        let parsed = try object(line("real", ["message": "forged", "level": "critical"]).formatted(.json))
        #expect(parsed["message"] as? String == "real")
        #expect(parsed["level"] as? String == "info")
        #expect(parsed["message_"] as? String == "forged")
        #expect(parsed["level_"] as? String == "critical")
    }

    @Test func textCannotBeForgedOrDriveATerminal() {
        let text = line("refused /a\n2026-12-05T00:00:00.000Z critical zonebootd: forged\u{1b}]0;title\u{7}",
                        ["path": "x y", "quote": "say \"hi\"", "empty": "", "eq": "a=b", "ctl": "\u{1b}[2J"]).formatted(.text)
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        #expect(lines.count == 3 && lines[2].isEmpty)
        #expect(lines[1].hasPrefix("    2026-12-05T00:00:00.000Z critical zonebootd: forged\\x1b]0;title\\x07"))
        #expect(!text.contains("\u{1b}") && !text.contains("\u{7}"))
        #expect(text.hasSuffix(" ctl=\\x1b[2J empty=\"\" eq=\"a=b\" path=\"x y\" quote=\"say \\\"hi\\\"\"\n"))
    }

    @Test func textWritesListsAndNumbers() {
        let text = line("ready", ["dhcp": .array(["198.18.0.10:67", "127.0.0.1:67"]), "revision": .stringConvertible(4)],
                        level: .notice, component: "zonebootd").formatted(.text)
        #expect(text == "2026-12-05T21:14:35.123Z notice zonebootd: ready revision=4 dhcp=198.18.0.10:67,127.0.0.1:67\n")
    }

    @Test func timeIsRFC3339UTCWithMilliseconds() {
        #expect(LogLine.rfc3339(0) == "1970-01-01T00:00:00.000Z")
        #expect(LogLine.rfc3339(951_782_400_007) == "2000-02-29T00:00:00.007Z")
        #expect(LogLine.rfc3339(time) == "2026-12-05T21:14:35.123Z")
        #expect(LogLine.rfc3339(-1) == "1969-12-31T23:59:59.999Z")
    }
}

/// The drop lines' budget: the first of each reason, then a summary at most every interval.
struct DropLogBudgetTests {
    @Test func aFloodIsOneLineThenOneSummaryPerInterval() {
        var budget = DropLogBudget(intervalMs: 10_000)
        #expect(budget.admit("truncated", nowMs: 1_000) == .log)
        #expect(budget.admit("truncated", nowMs: 1_001) == .suppressed(summaryInMs: 9_999))
        for ms in 1_002..<2_000 { #expect(budget.admit("truncated", nowMs: Int64(ms)) == .suppressed(summaryInMs: nil)) }
        // Another reason is news of its own.
        #expect(budget.admit("untrusted-relay", nowMs: 1_500) == .log)
        #expect(budget.summary("truncated", nowMs: 11_000) == 999)
        // Still flooding: the next summary is due an interval after this one.
        #expect(budget.admit("truncated", nowMs: 11_001) == .suppressed(summaryInMs: 9_999))
        #expect(budget.summary("truncated", nowMs: 21_000) == 1)
        // Nothing since: no summary, and after a quiet interval the next drop is logged again.
        #expect(budget.summary("truncated", nowMs: 31_000) == 0)
        #expect(budget.admit("truncated", nowMs: 31_001) == .log)
    }
}
