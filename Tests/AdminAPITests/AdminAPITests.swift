import AdminAPI
import Boot
import Foundation
import TestSupport
import Testing
import Zone

@Suite struct AdminTokensTests {
    func write(_ text: String, mode: Int) throws -> String {
        let path = NSTemporaryDirectory() + "zoneboot-tokens-\(UUID().uuidString)"
        try text.write(toFile: path, atomically: false, encoding: .utf8)
        #expect(chmod(path, mode_t(mode)) == 0)
        return path
    }

    @Test func aFileOthersCanReadIsRefused() throws {
        for mode in [0o644, 0o640, 0o604, 0o660] {
            let path = try write("ops:0123456789abcdef0123\n", mode: mode)
            defer { unlink(path) }
            #expect(throws: AdminTokens.Problem.tooOpen(path, mode: String(mode, radix: 8))) { try AdminTokens.load(path: path) }
        }
    }

    @Test func anOwnerOnlyFileNamesWhoPresentsEachToken() throws {
        let path = try write("# who:token\nops:0123456789abcdef0123\n\nci:fedcba9876543210fedc:with-colon\n", mode: 0o600)
        defer { unlink(path) }
        let tokens = try AdminTokens.load(path: path)
        #expect(tokens.name(authorization: "Bearer 0123456789abcdef0123") == "ops")
        #expect(tokens.name(authorization: "Bearer fedcba9876543210fedc:with-colon") == "ci")
        #expect(tokens.name(authorization: "Bearer 0123456789abcdef012") == nil)
        #expect(tokens.name(authorization: "Bearer 0123456789abcdef01234") == nil)
        #expect(tokens.name(authorization: "0123456789abcdef0123") == nil)
        #expect(tokens.name(authorization: nil) == nil)
    }

    @Test func badFilesSayWhichLine() {
        #expect(throws: AdminTokens.Problem.badLine("t", line: 2, reason: "expected name:token")) {
            try AdminTokens.parse("ops:0123456789abcdef0123\njusttoken\n", path: "t")
        }
        #expect(throws: AdminTokens.Problem.badLine("t", line: 1, reason: "the token of ops is shorter than 16 characters")) {
            try AdminTokens.parse("ops:short", path: "t")
        }
        #expect(throws: AdminTokens.Problem.empty("t")) { try AdminTokens.parse("# nothing\n", path: "t") }
    }
}

@Suite struct SavedPlanTests {
    @Test func aSavedPlanReadsBackExactly() throws {
        let revision = try ZoneLoader.load(path: exampleZonePath)
        let plan = ZonePlan(from: nil, fromRevision: nil, to: revision)
        var impact = LiveImpact()
        impact.readdressed.append(.init(location: "p01/tor-a/swp7", mac: "52:54:00:00:00:07", name: "a",
                                        address: revision.identities[0].address, newName: "a",
                                        newAddress: revision.identities[1].address))
        let saved = SavedPlan(baseRevision: 3, against: "revision 3", source: revision.source, plan: plan, impact: impact)
        let data = try JSONEncoder().encode(saved)
        let back = try JSONDecoder().decode(SavedPlan.self, from: data)
        #expect(back == saved)
        #expect(back.source.digest == revision.source.digest)
        // The saved source loads to the same zone: applying it is applying what was planned.
        #expect(try ZoneLoader.load(source: back.source).identities == revision.identities)
    }
}
