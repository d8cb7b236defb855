import AdminAPI
@testable import Boot
import Foundation
import NIOCore
@testable import Server
import TestSupport
import Testing
@testable import Zone

/// A plan answer written a part at a time is, byte for byte, what Foundation's encoder
/// writes for the whole answer, and reads back as the same answer.
@Suite struct PlanAnswerJSONTests {
    static func whole(_ value: some Encodable) throws -> [UInt8] {
        let encoder = JSONStyle.encoder()
        return Array(try encoder.encode(value))
    }

    /// A plan of the example zone against itself with every host's address moved: many changes.
    static func saved() throws -> SavedPlan {
        let source = try ZoneLoader.source(path: exampleZonePath)
        let old = try ZoneLoader.load(source: source)
        var moved = source
        moved.text = moved.text.replacingOccurrences(of: "198.18.0.53", with: "198.18.0.54")
            .replacingOccurrences(of: "domain: ", with: "domain: moved.")
        let new = try ZoneLoader.load(source: moved)
        let plan = ZonePlan(from: old, fromRevision: 4, to: new)
        return SavedPlan(baseRevision: 4, against: "revision 4 (\"changes\":[] in a message)", source: moved, plan: plan,
                         impact: LiveImpact(to: new, leases: [], now: 0))
    }

    @Test func partsWriteWhatTheWholeEncoderWrites() throws {
        let saved = try Self.saved()
        #expect(saved.plan.changes.count > 50)
        for partSize in [1, 300, 4096, 100_000_000] {
            let json = try #require(PlanAnswerJSON(saved, partSize: partSize))
            #expect(Array(json.whole.readableBytesView) == (try Self.whole(saved)), "part size \(partSize)")
            let parts = Array(json.parts)
            // The head, the changes in parts no larger than asked (plus the change that crosses it), the tail.
            if partSize == 1 { #expect(parts.count == saved.plan.changes.count + 2) }
            if partSize == 100_000_000 { #expect(parts.count == 3) }
        }
        let applied = ApplyResponse(plan: saved, applied: nil)
        let bytes = Array(try #require(PlanAnswerJSON(applied, partSize: 700)).whole.readableBytesView)
        #expect(bytes == (try Self.whole(applied)))
        #expect(try JSONStyle.decoder().decode(ApplyResponse.self, from: Data(bytes)).plan == saved)
    }

    @Test func aPlanWithoutChangesIsWrittenWhole() throws {
        var saved = try Self.saved()
        saved.plan.changes = []
        #expect(Array(try #require(PlanAnswerJSON(saved)).whole.readableBytesView) == (try Self.whole(saved)))
    }

    /// Whatever a change's strings hold (a template's text reaches a plan's fields), it is
    /// written as Foundation writes it: every control character, quotes, backslashes, slashes,
    /// and text past ASCII, alone and among others; optionals present and absent.
    @Test func anyTextIsWrittenAsFoundationWritesIt() throws {
        var texts = (0..<0x20).map { String(UnicodeScalar(UInt8($0))) }
        texts += ["\"", "\\", "/", "a/b", "\u{7F}", "é", "\u{2028}", "\u{2029}", "🦄", "", "plain", "x\"y\\z\n\u{1}w",
                  "\u{FEFF}lead", "tab\there", String(repeating: "long ", count: 100)]
        var changes: [ZonePlan.Change] = []
        for (i, text) in texts.enumerated() {
            let fields = [ZonePlan.FieldChange(field: text, old: i % 2 == 0 ? text : nil, new: i % 3 == 0 ? nil : text + text)]
            changes.append(ZonePlan.Change(action: [.add, .change, .remove][i % 3], kind: text, key: "k\(text)", name: text,
                                           pod: i % 2 == 0 ? text : nil, switch: i % 4 == 0 ? nil : text,
                                           port: i % 5 == 0 ? nil : text, fields: i % 6 == 0 ? [] : fields))
        }
        let expected = try JSONStyle.encoder().encode(changes)
        var out = JSONWriter()
        out.array(changes) { PlanChangeJSON.write($1, into: &$0) }
        #expect(String(decoding: out.bytes, as: UTF8.self) == String(decoding: expected, as: UTF8.self))
        #expect(try JSONStyle.decoder().decode([ZonePlan.Change].self, from: Data(out.bytes)) == changes)
    }
}
