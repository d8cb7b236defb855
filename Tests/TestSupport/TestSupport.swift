import Foundation

// What every test target needs once: the repository's files, and a seeded random generator.
// A library target under Tests/, so it is built only for the tests.

/// The repository root, found from this file's path (Tests/TestSupport/TestSupport.swift).
public let repositoryRoot: String = {
    var url = URL(fileURLWithPath: #filePath)
    for _ in 0..<3 { url.deleteLastPathComponent() }
    return url.path
}()

/// zones/ams1.yaml, the example zone most tests start from.
public let exampleZonePath = repositoryRoot + "/zones/ams1.yaml"

/// A seeded generator, so a failing property case replays from its seed.
public struct SplitMix64: RandomNumberGenerator {
    public var state: UInt64

    public init(state: UInt64) { self.state = state }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// `count` random bytes from `random`.
public func randomBytes(_ count: Int, _ random: inout SplitMix64) -> [UInt8] {
    (0..<count).map { _ in UInt8.random(in: 0...255, using: &random) }
}
