import Dispatch
import Foundation

/// Work done in parts, each on a core of its own, for the large zone's single-threaded costs
/// (placing and naming 200,000 identities, indexing them, writing their inventory): on two
/// cores a 100,000-host zone's load was 0.9 s with one of them idle.
public enum Parts {
    /// How many parts to split work into: one per core, at most 8 (a bound, not a measured
    /// best: only 2 cores were measured here, and each part costs a join).
    public static var cores: Int { max(1, min(ProcessInfo.processInfo.activeProcessorCount, 8)) }

    /// `part(k)` for every k in `0..<count`, concurrently; the results in the order of k.
    public static func map<Result: Sendable>(_ count: Int, _ part: @Sendable (Int) -> Result) -> [Result] {
        guard count > 1 else { return count == 1 ? [part(0)] : [] }
        let slots = UnsafeMutableBufferPointer<Result?>.allocate(capacity: count)
        slots.initialize(repeating: nil)
        defer {
            _ = slots.deinitialize()
            slots.deallocate()
        }
        // Each part writes its own slot, and only it: no two threads touch the same memory.
        nonisolated(unsafe) let results = slots
        DispatchQueue.concurrentPerform(iterations: count) { k in results[k] = part(k) }
        // Every slot was written: concurrentPerform returns once every part has.
        return slots.map { $0! }
    }

    /// `first()` and `second()` at once, one of them on another core.
    public static func both<A: Sendable, B: Sendable>(_ first: @Sendable () -> A, _ second: @Sendable () -> B) -> (A, B) {
        nonisolated(unsafe) var a: A?
        nonisolated(unsafe) var b: B?
        // Two parts, each writing its own variable.
        DispatchQueue.concurrentPerform(iterations: 2) { k in
            if k == 0 { a = first() } else { b = second() }
        }
        return (a!, b!)
    }

    /// `0..<weights.count` cut into at most `parts` runs in order, of about the same total weight each.
    public static func runs(weights: [Int], parts: Int) -> [Range<Int>] {
        let total = weights.reduce(0, +)
        guard parts > 1, weights.count > 1, total > 0 else { return weights.isEmpty ? [] : [0..<weights.count] }
        var runs: [Range<Int>] = []
        var start = 0, sum = 0
        for (i, weight) in weights.enumerated() {
            sum += weight
            // Cut where the runs so far reach their share of the total.
            if runs.count < parts - 1, sum * parts >= total * (runs.count + 1), i + 1 < weights.count {
                runs.append(start..<i + 1)
                start = i + 1
            }
        }
        runs.append(start..<weights.count)
        return runs
    }
}
