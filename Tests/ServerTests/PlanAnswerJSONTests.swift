import AdminAPI
import Boot
import Foundation
import NIOCore
@testable import Server
import TestSupport
import Testing
import Zone

/// A plan answer written a batch of changes at a time is, byte for byte, what Foundation's
/// encoder writes for the whole answer, and reads back as the same answer.
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

    @Test func batchesWriteWhatTheWholeEncoderWrites() throws {
        let saved = try Self.saved()
        #expect(saved.plan.changes.count > 50)
        for batch in [1, 3, 64, 100_000] {
            let bytes = try #require(planAnswerJSON(saved, batch: batch)).readableBytesView
            #expect(Array(bytes) == (try Self.whole(saved)), "batch \(batch)")
        }
        let applied = ApplyResponse(plan: saved, applied: nil)
        let bytes = Array(try #require(planAnswerJSON(applied, batch: 7)).readableBytesView)
        #expect(bytes == (try Self.whole(applied)))
        #expect(try JSONStyle.decoder().decode(ApplyResponse.self, from: Data(bytes)).plan == saved)
    }

    @Test func aPlanWithoutChangesIsWrittenWhole() throws {
        var saved = try Self.saved()
        saved.plan.changes = []
        #expect(Array(try #require(planAnswerJSON(saved)).readableBytesView) == (try Self.whole(saved)))
    }
}
